"""Risk sharing: the share vector, its presets and the loss waterfall.

A guaranteed loan's loss is shared between five parties, in this order of the
share vector::

    (guarantor, reguarantor, national_fund, bank, comp_fund)

On default of a guaranteed loan with exposure ``E`` (outstanding principal):

- the guarantor pays the bank ``(1 - s_bank) E``: the compensation (代偿);
- the re-guarantor reimburses ``s_reguarantor E`` when the loan is eligible,
  the National Fund ``s_national_fund E`` when the loan is covered and the fund
  is sharing, the compensation funds ``s_comp_fund E`` within their budget;
- the guarantor keeps the rest: an uncovered share falls back to the
  guarantor and never vanishes;
- recoveries ``R E`` arrive later and are shared pro rata to what each party
  bore.

The functions here are pure and vectorised; the model calls them once per
month with all of the month's defaults.

References
----------
国办发〔2019〕6号 (2:2:2:4 national template); Anhui "4321" pilot (Anhui Business
Daily, 2016-04-13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "PARTIES",
    "PRESETS",
    "RiskShares",
    "liability",
    "net_liability",
    "LossAllocation",
    "allocate_loss",
    "share_recovery",
    "floor_warnings",
]

#: Order of the share vector.
PARTIES: tuple[str, ...] = ("guarantor", "reguarantor", "national_fund", "bank", "comp_fund")

#: Share-vector presets, in the order of :data:`PARTIES`.
PRESETS: dict[str, tuple[float, float, float, float, float]] = {
    # 国办发〔2019〕6号 national template 2:2:2:4 (national fund 20%, provincial
    # re-guarantor 20%, bank 20%, guarantor 40%)
    "national_2222": (0.4, 0.2, 0.2, 0.2, 0.0),
    # Anhui "4321": county guarantor 40%, provincial group 30%, bank 20%, local government 10%
    "anhui_4321": (0.4, 0.3, 0.0, 0.2, 0.1),
    # traditional full guarantee: the guarantor bears everything
    "full_guarantee": (1.0, 0.0, 0.0, 0.0, 0.0),
    # bank-guarantor 8:2
    "bank_guarantor_82": (0.8, 0.0, 0.0, 0.2, 0.0),
}


class RiskShares(NamedTuple):
    """The five risk shares by name, in the order of :data:`PARTIES`.

    Each field is a fraction of the exposure: a float for one split, or an array with
    one entry per loan (the split each loan was booked under).
    """

    guarantor: float | np.ndarray
    reguarantor: float | np.ndarray
    national_fund: float | np.ndarray
    bank: float | np.ndarray
    comp_fund: float | np.ndarray

    @classmethod
    def of(cls, shares) -> RiskShares:
        """Named shares of a share vector, shape (5,), or of per-loan rows, shape (n, 5)."""
        s = np.asarray(shares, dtype=float)
        if s.ndim == 1:
            return cls(*s)
        return cls(*(s[:, i] for i in range(len(PARTIES))))


def liability(exposure, shares: RiskShares):
    """Guarantee liability owed to the bank (担保责任余额), ``(1 - s_bank) E``, yuan."""
    return (1.0 - shares.bank) * exposure


def net_liability(exposure, shares: RiskShares, reg, nf, gross=None):
    """Liability net of the cessions to the re-guarantor and the National Fund, yuan.

    ``(1 - s_bank) E - (s_reg [reg] + s_nf [nf]) E``: the guarantors' capacity measure.

    Parameters
    ----------
    exposure : float or ndarray
        Exposure ``E`` (yuan).
    shares : RiskShares
        The split the guarantees were (or are to be) booked under.
    reg, nf : bool or ndarray of bool
        Whether the re-guarantor, the National Fund, takes its share.
    gross : ndarray, optional
        ``liability(exposure, shares)`` when the caller has it already.
    """
    if gross is None:
        gross = liability(exposure, shares)
    return gross - (shares.reguarantor * reg + shares.national_fund * nf) * exposure


@dataclass(frozen=True)
class LossAllocation:
    """Who bears a default, per loan (yuan).

    Attributes
    ----------
    bank, guarantor, reguarantor, national_fund, comp_fund : ndarray
        Loss borne by each party before recoveries. They sum to the exposure.
    compensation : ndarray
        Payment from the guarantor to the bank (代偿), ``(1 - s_bank) E``.
    """

    bank: np.ndarray
    guarantor: np.ndarray
    reguarantor: np.ndarray
    national_fund: np.ndarray
    comp_fund: np.ndarray
    compensation: np.ndarray

    def by_party(self) -> dict[str, np.ndarray]:
        """Losses keyed by party name, in the order of :data:`PARTIES`."""
        return {p: getattr(self, p) for p in PARTIES}

    def total(self) -> np.ndarray:
        """Sum over parties (equals the exposure)."""
        return self.bank + self.guarantor + self.reguarantor + self.national_fund + self.comp_fund


def allocate_loss(
    exposure,
    shares,
    *,
    reguarantor_covers=True,
    national_fund_covers=True,
    comp_fund_available: float = np.inf,
    national_fund_available: float = np.inf,
) -> LossAllocation:
    """Split the loss on defaulted guaranteed loans between the parties.

    Parameters
    ----------
    exposure : array_like, shape (n,)
        Outstanding principal at default (yuan), ``>= 0``.
    shares : array_like, shape (5,) or (n, 5)
        Share vector(s) in the order of :data:`PARTIES`; each row sums to 1.
    reguarantor_covers : bool or array_like of bool, shape (n,)
        Whether the re-guarantor reimburses its share (loan eligible).
    national_fund_covers : bool or array_like of bool, shape (n,)
        Whether the National Fund reimburses its share (loan covered and the
        fund sharing under its compensation-rate cap).
    comp_fund_available : float
        Budget left in the compensation funds (yuan). Claims beyond it are
        paid pro rata; the unpaid part falls back to the guarantor.
    national_fund_available : float
        Reimbursement the National Fund may still pay under its cap rule
        (yuan); claims beyond it are paid pro rata, the rest falls back to the
        guarantor.

    Returns
    -------
    LossAllocation
        Losses per party; ``allocation.total() == exposure`` to rounding.

    Examples
    --------
    >>> a = allocate_loss([100.0], PRESETS["national_2222"])
    >>> float(a.bank[0]), float(a.compensation[0]), float(a.guarantor[0])
    (20.0, 80.0, 40.0)
    """
    e = np.asarray(exposure, dtype=float)
    s = np.asarray(shares, dtype=float)
    if s.shape not in ((5,), (e.shape[0], 5)):
        raise ValueError(f"shares must have shape (5,) or ({e.shape[0]}, 5), got {s.shape}")
    if np.any(e < 0):
        raise ValueError("exposure must be non-negative")
    if np.any(s < 0) or not np.allclose(s.sum(axis=-1), 1.0, atol=1e-9):
        raise ValueError("shares must be non-negative and sum to 1")
    if s.ndim == 1:  # one split for every loan (checked once, before broadcasting)
        s = np.broadcast_to(s, (e.shape[0], 5))
    if comp_fund_available < 0 or national_fund_available < 0:
        raise ValueError("available budgets must be non-negative")
    sh = RiskShares.of(s)
    bank = sh.bank * e
    compensation = e - bank
    reguarantor = np.where(reguarantor_covers, sh.reguarantor * e, 0.0)
    national_fund = _within_budget(
        np.where(national_fund_covers, sh.national_fund * e, 0.0), national_fund_available
    )
    comp_fund = _within_budget(sh.comp_fund * e, comp_fund_available)
    guarantor = compensation - reguarantor - national_fund - comp_fund
    return LossAllocation(bank, guarantor, reguarantor, national_fund, comp_fund, compensation)


def _within_budget(claims: np.ndarray, available: float) -> np.ndarray:
    """Pay claims in full, or pro rata when they exceed what is available."""
    total = float(claims.sum())
    if total > available:
        return claims * (available / total)
    return claims


def share_recovery(recovery, allocation: LossAllocation, exposure) -> dict[str, np.ndarray]:
    """Share recoveries pro rata to the losses each party bore.

    Parameters
    ----------
    recovery : array_like, shape (n,)
        Amount recovered on each loan (yuan), ``0 <= recovery <= exposure``.
    allocation : LossAllocation
        The allocation of the same loans.
    exposure : array_like, shape (n,)
        Their exposures.

    Returns
    -------
    dict of str to ndarray
        Recovery per party; the parties' recoveries sum to ``recovery``.
    """
    r = np.asarray(recovery, dtype=float)
    e = np.asarray(exposure, dtype=float)
    frac = np.divide(r, e, out=np.zeros_like(r), where=e > 0)
    return {p: frac * loss for p, loss in allocation.by_party().items()}


def floor_warnings(shares: dict[str, float]) -> list[str]:
    """Warnings where a share vector breaks the 国办发〔2019〕6号 floors.

    The floors: the National Fund and the bank each bear at least 20%, and the
    provincial re-guarantor at least the National Fund's share.

    Parameters
    ----------
    shares : dict
        Shares keyed by party name.

    Returns
    -------
    list of str
        One message per violated floor (empty when all hold).
    """
    out = []
    if shares["bank"] < 0.2 - 1e-12:
        out.append(f"bank share {shares['bank']:g} is below the 20% floor of 国办发〔2019〕6号")
    if shares["national_fund"] < 0.2 - 1e-12:
        out.append(
            f"national_fund share {shares['national_fund']:g} is below the 20% floor "
            "of 国办发〔2019〕6号"
        )
    if shares["reguarantor"] < shares["national_fund"] - 1e-12:
        out.append(
            f"reguarantor share {shares['reguarantor']:g} is below the national_fund share "
            f"{shares['national_fund']:g} (国办发〔2019〕6号)"
        )
    return out
