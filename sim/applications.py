"""The month's loan applications as columns, filled in stage by stage.

The monthly cycle gathers the applicants once (:meth:`Applications.gather`);
banks, guarantors and the applicants themselves then fill in their decisions
column by column: the bank's route and rate, the guarantor's approval, fee and
risk shares, the firm's take-up, and finally whether the loan was booked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .population import SMEPopulation

__all__ = ["Applications", "REJECT", "DIRECT_ROUTE", "GUARANTEE_ROUTE", "screening_noise"]

REJECT, DIRECT_ROUTE, GUARANTEE_ROUTE = 0, 1, 2


def screening_noise(base: float, first_time: np.ndarray, p) -> np.ndarray:
    """Noise (log-sd) of a lender's PD estimate, by information available.

    ``sigma = base (1 - r s) (1 + (t - 1)(1 - s) first_time)`` with ``s`` the
    degree of information sharing, ``r`` its noise reduction at full sharing and
    ``t`` the thin-file multiplier for first-time borrowers (首贷户): sharing
    lowers noise for everyone and removes most of the thin-file penalty.
    """
    s = p["information.sharing"]
    r = p["information.noise_reduction"]
    thin = p["information.thin_file_noise"]
    return base * (1.0 - r * s) * (1.0 + (thin - 1.0) * (1.0 - s) * first_time)


def estimate_pd(pd, eps, sigma, aversion, prior_log, tau):
    """A lender's Bayesian estimate of PD from a noisy signal, and its decision PD.

    The lender knows the firm's sector and size class, hence a prior
    ``log PD ~ N(prior_log, tau^2)``, and observes the signal
    ``x = log PD + sigma eps``. Its posterior is normal with mean
    ``m = prior_log + k (x - prior_log)``, ``k = tau^2 / (tau^2 + sigma^2)``, and
    variance ``v = k sigma^2``. Noisy (thin-file) signals are shrunk towards the
    prior: the lender cannot tell good from bad firms and sees them all as
    average, with more uncertainty.

    Returns
    -------
    expected, decision : ndarray
        ``expected = exp(m + v/2)`` (posterior mean PD, used for pricing) and
        ``decision = expected exp(aversion sqrt(v))``: ambiguity-averse lenders
        add a penalty for the uncertainty that remains.
    """
    tau2 = tau * tau
    sig2 = sigma * sigma
    denom = tau2 + sig2
    k = np.divide(tau2, denom, out=np.ones_like(denom, dtype=float), where=denom > 0)
    v = k * sig2
    m = prior_log + k * (np.log(pd) + sigma * eps - prior_log)
    expected = np.exp(m + 0.5 * v)
    return expected, expected * np.exp(aversion * np.sqrt(v))


def _decision(dtype=float):
    """A decision column: zeros of ``dtype``, one per application, filled in by a stage."""
    return field(init=False, metadata={"dtype": np.dtype(dtype)})


@dataclass
class Applications:
    """Columns of this month's applications (one entry per applicant firm).

    The applicant's columns come from :meth:`gather`; the decision columns start at
    zero (false) and are filled in by the stages of the cycle, in the order listed.
    """

    # ---- the applicant, as lenders see it when it applies (:meth:`gather`)
    rows: np.ndarray  # the firm's row in ``model.smes`` (int)
    amount: np.ndarray  # loan requested, yuan
    bank: np.ndarray  # house bank (int index)
    guarantor: np.ndarray  # local guarantor (int index)
    sector: np.ndarray  # sector (int index into SECTORS)
    small_micro: np.ndarray  # micro or small firm (bool)
    first_time: np.ndarray  # never repaid a loan, 首贷户 (bool)
    pd: np.ndarray  # annual PD now, sector shock included (fraction)
    eps_bank: np.ndarray  # the bank's screening error, standard normal
    eps_guarantor: np.ndarray  # the guarantor's screening error, standard normal
    u_route: np.ndarray  # uniform for the bank's steering and referral draws
    u_cover: np.ndarray  # uniform for the National Fund's coverage draw
    u_take: np.ndarray  # uniform for the firm's take-up draw
    lgd_direct: np.ndarray  # loss given default lenders expect on a direct loan (fraction)
    lgd_guaranteed: np.ndarray  # the same with the counter-guarantee pledged (fraction)
    recovery_direct: np.ndarray  # recovery on a direct loan if it defaults (fraction)
    recovery: np.ndarray  # recovery on a guaranteed loan if it defaults (fraction)
    pledge_ok: np.ndarray  # can meet the counter-guarantee requirement (bool)
    relief_sector: np.ndarray  # in a sector eligible for sector relief (bool)
    prior_log: np.ndarray  # lenders' prior mean of log PD for the size class and sector

    # ---- decisions, zero until a stage fills them in
    n: int = field(init=False)  # number of applications
    # Bank.screen
    route: np.ndarray = _decision(np.int8)  # REJECT, DIRECT_ROUTE or GUARANTEE_ROUTE
    additional: np.ndarray = _decision(bool)  # the bank would not lend to the firm directly
    rate: np.ndarray = _decision()  # interest rate offered, fraction p.a.
    rate_direct: np.ndarray = _decision()  # the rate of a direct loan (a fallback offer), p.a.
    bank_ok_guaranteed: np.ndarray = _decision(bool)  # bank would lend with a guarantee
    funding_relief: np.ndarray = _decision()  # PBOC funding relief on the loan, fraction p.a.
    # Guarantor.underwrite
    approved: np.ndarray = _decision(bool)  # guarantor approved (or accepted in batch)
    in_batch: np.ndarray = _decision(bool)  # approved within a batch pair's quota
    batch_mode: np.ndarray = _decision(np.int8)  # the bank-guarantor pair's batch mode
    fee: np.ndarray = _decision()  # guarantee fee, fraction p.a. of the loan
    reg_ok: np.ndarray = _decision(bool)  # eligible for re-guarantee
    nf_ok: np.ndarray = _decision(bool)  # covered by the National Fund
    delay: np.ndarray = _decision()  # approval delay, months
    guarantor_screened: np.ndarray = _decision(bool)  # the guarantor screened it (paid the cost)
    # Government.offer_fee_subsidies
    subsidy: np.ndarray = _decision()  # fee subsidy, fraction p.a. of the loan
    # SME.take_up, Bank.pay_for_screening, Guarantor.allocate_capacity, book_loans
    taken: np.ndarray = _decision(bool)  # the firm took up its offer
    bank_screened: np.ndarray = _decision(bool)  # the bank screened it (paid the cost)
    booked: np.ndarray = _decision(bool)  # the guarantee fitted the guarantor's caps
    capacity_rejected: np.ndarray = _decision(bool)  # taken up, but over the caps
    offered: np.ndarray = _decision(bool)  # had an offer (taken up or not): not refused

    @classmethod
    def gather(
        cls, smes: SMEPopulation, rows, u_take, sector_multiplier, relief_sectors, p, products=1.0
    ) -> Applications:
        """Collect applicants' columns and their collateral position.

        Parameters
        ----------
        smes : SMEPopulation
        rows : ndarray of int
            Applicant rows.
        u_take : ndarray
            Take-up uniforms of the applicants.
        sector_multiplier : ndarray
            Current PD multiplier of each sector (shocks), known to lenders.
        relief_sectors : ndarray of bool
            Sectors eligible for relief.
        p : Scenario
        products : float
            Adoption level (0-1) of the receivables and IP-pledge products of measure 4:
            the share of those assets' value that counts towards the counter-guarantee.
        """
        # one read of each applicant's record, then contiguous columns for the arithmetic
        record = smes.applicant.take(rows)

        def column(name, dtype=None):
            return np.ascontiguousarray(record[name], dtype=dtype)

        amount = column("request")
        coll = column("collateral")
        size, sector = column("size"), column("sector")
        pd_now = np.minimum(column("pd") * sector_multiplier[sector], 0.999)
        base = p["recovery.base_rate"]
        # lenders screen with the loss given default implied by the collateral cover,
        # at their haircut; realised recoveries (below) depend on disposal after default
        haircut = p["credit.screening_haircut"]
        lgd_direct = 1.0 - np.minimum(1.0, haircut * coll / amount)
        recovery_direct = np.minimum(1.0, base + p["recovery.hard_realisation"] * coll / amount)
        # counter-guarantee: the guarantor takes pledges up to the requirement,
        # hard collateral first, then receivables, then IP
        need = p["guarantor.counter_guarantee"] * amount
        hard = np.minimum(coll, need)
        rest = need - hard
        recv = (
            products * column("receivables")
            if p["collateral.receivables"]
            else np.zeros_like(amount)
        )
        ip = products * column("ip") if p["collateral.ip_pledge"] else np.zeros_like(amount)
        r = np.minimum(recv, rest)
        rest = rest - r
        i = np.minimum(ip, rest)
        rest = rest - i
        pledge_ok = rest <= 1e-9 * amount
        realised = (
            p["recovery.hard_realisation"] * hard
            + p["recovery.receivables_realisation"] * r
            + p["recovery.ip_realisation"] * i
        )
        recovery = np.minimum(1.0, base + realised / amount)
        lgd_guaranteed = 1.0 - np.minimum(1.0, haircut * (hard + r + i) / amount)
        # lenders' prior: the mean PD of the firm's size class and sector (a table of
        # size class x sector, looked up per applicant)
        tau = p["credit.pd_dispersion"]
        prior = (
            p["credit.pd"]
            * np.asarray(p["credit.size_pd_multipliers"])[:, None]
            * np.asarray(p["credit.sector_pd_multipliers"])[None, :]
            * sector_multiplier[None, :]
        )
        prior_log = (np.log(np.clip(prior, 1e-9, 0.999)) - 0.5 * tau * tau)[size, sector]
        return cls(
            rows=rows,
            amount=amount,
            bank=column("bank", np.int64),
            guarantor=column("guarantor", np.int64),
            sector=sector,
            small_micro=size <= 1,
            first_time=column("first_time"),
            pd=pd_now,
            eps_bank=column("eps_bank", float),
            eps_guarantor=column("eps_guarantor", float),
            u_route=column("u_route"),
            u_cover=column("u_cover"),
            u_take=u_take,
            lgd_direct=lgd_direct,
            lgd_guaranteed=lgd_guaranteed,
            recovery_direct=recovery_direct,
            recovery=recovery,
            pledge_ok=pledge_ok,
            relief_sector=relief_sectors[sector],
            prior_log=prior_log,
        )

    def subset(self, keep: np.ndarray) -> Applications:
        """The applications where ``keep`` is true (before any decision is filled in)."""
        return type(self)(**{f.name: getattr(self, f.name)[keep] for f in _APPLICANT})

    def __post_init__(self):
        n = self.n = self.rows.size
        for f in _DECISIONS:
            setattr(self, f.name, np.zeros(n, f.metadata["dtype"]))


#: The applicant's columns and the decision columns of :class:`Applications`.
_APPLICANT = tuple(f for f in fields(Applications) if f.init)
_DECISIONS = tuple(f for f in fields(Applications) if "dtype" in f.metadata)
