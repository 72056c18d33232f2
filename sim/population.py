"""The SME population (中小微企业) as numpy columns.

SMEs are many, so their state is a struct of arrays: one row per seat of the
representative sample, one column per attribute. Each row is also visible to
Mesa as an :class:`sim.agents.SME` agent (a thin view onto the row, made on the
first read of the model's agents). A seat holds one firm at a time; when a firm
exits (default, or exit without a loan) an entrant drawn from the same population
distribution takes the seat, so the sample size stays constant and each row stands
for ``population_weight`` real firms throughout.

A firm holds at most one loan; the loan's state is stored in the ``loan_*``
columns of the firm's row.
"""

from __future__ import annotations

import numpy as np

from .credit_risk import basel_corporate_correlation, basel_retail_correlation
from .parameters import SECTORS

__all__ = ["SMEPopulation", "DIRECT", "NO_YEAR", "APPLICANT_RECORD", "LOAN_RECORD"]

#: ``loan_guarantor`` value of a direct (unguaranteed) loan.
DIRECT = -1
#: ``applied_year`` (and the other year columns) of a firm that has not yet done so.
NO_YEAR = np.iinfo(np.int16).min


def _cache_line_record(fields: list[tuple[str, str]]) -> np.dtype:
    """A record type of the packed ``fields`` padded to 64 bytes (one cache line)."""
    packed = np.dtype(fields)
    if packed.itemsize > 64:
        raise ValueError(f"record of {packed.itemsize} bytes does not fit a cache line")
    return np.dtype(
        {
            "names": packed.names,
            "formats": [packed.fields[name][0] for name in packed.names],
            "offsets": [packed.fields[name][1] for name in packed.names],
            "itemsize": 64,
        }
    )


#: The firm attributes lenders read when a firm applies, stored together as one
#: 64-byte record per seat (a cache line): gathering the month's applicants then
#: reads one line per firm from memory instead of one per attribute.
APPLICANT_RECORD = _cache_line_record(
    [
        ("request", "f8"),
        ("collateral", "f8"),
        ("receivables", "f8"),
        ("ip", "f8"),
        ("pd", "f8"),
        ("eps_bank", "f4"),
        ("eps_guarantor", "f4"),
        ("u_route", "f4"),
        ("u_cover", "f4"),
        ("guarantor", "i2"),
        ("sector", "i1"),
        ("size", "i1"),
        ("bank", "i1"),
        ("first_time", "?"),
    ]
)

#: The terms of a firm's loan, one 64-byte record per seat (booking writes, and a
#: default reads, one line per loan). ``has_loan`` and ``hazard`` stay plain columns:
#: every month's default draw compares the whole ``hazard`` column.
LOAN_RECORD = _cache_line_record(
    [
        ("loan_amount", "f8"),
        ("loan_rate", "f8"),
        ("loan_fee", "f8"),
        ("loan_pd", "f8"),
        ("loan_recovery", "f8"),
        ("loan_funding_relief", "f8"),
        ("loan_start", "i4"),
        ("loan_maturity", "i4"),
        ("loan_guarantor", "i2"),
        ("loan_bank", "i1"),
        ("loan_reg", "?"),
        ("loan_nf", "?"),
    ]
)


def _line_aligned(n: int, dtype: np.dtype) -> np.ndarray:
    """Zeroed array of ``n`` records starting on a 64-byte boundary."""
    buffer = np.zeros(n * dtype.itemsize + 64, np.uint8)
    start = -buffer.ctypes.data % 64
    return buffer[start : start + n * dtype.itemsize].view(dtype)


def _cdf(shares) -> np.ndarray:
    """Cumulative shares, normalised to end at 1."""
    cdf = np.cumsum(np.asarray(shares, dtype=float))
    return cdf / cdf[-1]


def _record_field(records: str, name: str) -> property:
    """Read-only attribute giving the ``name`` column as a view of the ``records`` array.

    The view is made on first read and kept (making it costs microseconds, and the
    monthly stages read the columns dozens of times a month); copies and pickles of a
    population drop the kept views (:meth:`SMEPopulation.__getstate__`), so that a
    copy's columns are views of its own records. Write through it with
    ``population.name[rows] = ...``.
    """

    def column(self):
        views = self._views
        if name not in views:
            views[name] = getattr(self, records)[name]
        return views[name]

    return property(column, doc=_column_doc(records, name))


def _column_doc(records: str, name: str) -> str:
    return f"``{name}`` column: a writable view of the ``{records}`` records."


class SMEPopulation:
    """Columns describing the SME sample and the loans its firms hold.

    Parameters
    ----------
    n : int
        Number of seats (simulated SMEs).
    params : Scenario
        Resolved parameters.
    guarantor_weights : ndarray
        Probability that a firm's local guarantor is each guarantor.
    rng : numpy.random.Generator
        Stream used for firm attributes (initial firms and entrants).

    Notes
    -----
    Firm attributes: ``sector``, ``size`` (0 micro, 1 small, 2 medium),
    ``revenue`` (yuan p.a.), ``pd`` (unconditional annual PD), ``rho`` (asset
    correlation), ``first_time`` (首贷户: never repaid a loan), ``collateral``,
    ``ip``, ``receivables`` (yuan), ``request`` (loan size the firm asks for),
    ``bank`` (house bank), ``guarantor`` (local guarantor), and persistent
    uniforms/normals that make screening errors and eligibility draws a property
    of the firm (so that scenarios compared with common random numbers see the
    same firms judged the same way). The attributes lenders read at application
    are views of :data:`APPLICANT_RECORD` records (``self.applicant``), one
    cache line per seat; the others are plain columns.

    Demand history: ``applied_year``, ``offered_year``, ``discouraged_year`` (last
    horizon year in which the firm applied, received an offer, or needed credit
    but stayed away; :data:`NO_YEAR` if never).

    Loan columns: ``has_loan``, ``loan_amount``, ``loan_bank``,
    ``loan_guarantor`` (:data:`DIRECT` for direct loans), ``loan_rate``,
    ``loan_fee``, ``loan_start``, ``loan_maturity`` (last month), ``loan_pd`` (annual PD
    including the guarantee uplift), ``hazard`` (current monthly default
    hazard; 0 without a loan), ``loan_reg``/``loan_nf`` (re-guarantor eligible /
    National Fund covered),
    ``loan_recovery`` (recovery fraction).
    """

    # ---- columns of the APPLICANT_RECORD records (``self.applicant``), one line per seat
    request = _record_field("applicant", "request")  # loan size the firm asks for, yuan
    collateral = _record_field("applicant", "collateral")  # hard collateral, yuan
    receivables = _record_field("applicant", "receivables")  # pledgeable receivables, yuan
    ip = _record_field("applicant", "ip")  # pledgeable intellectual property, yuan
    pd = _record_field("applicant", "pd")  # unconditional annual PD (fraction)
    eps_bank = _record_field("applicant", "eps_bank")  # bank's screening error, std normal
    eps_guarantor = _record_field("applicant", "eps_guarantor")  # guarantor's, std normal
    u_route = _record_field("applicant", "u_route")  # uniform: steering and referral draws
    u_cover = _record_field("applicant", "u_cover")  # uniform: National Fund coverage draw
    guarantor = _record_field("applicant", "guarantor")  # local guarantor (index)
    sector = _record_field("applicant", "sector")  # sector (index into SECTORS)
    size = _record_field("applicant", "size")  # size class: 0 micro, 1 small, 2 medium
    bank = _record_field("applicant", "bank")  # house bank (index)
    first_time = _record_field("applicant", "first_time")  # never repaid a loan, 首贷户 (bool)

    # ---- columns of the LOAN_RECORD records (``self.loan``): the firm's loan, if any
    loan_amount = _record_field("loan", "loan_amount")  # principal, yuan
    loan_rate = _record_field("loan", "loan_rate")  # interest rate, fraction p.a.
    loan_fee = _record_field("loan", "loan_fee")  # guarantee fee, fraction p.a. (0 direct)
    loan_pd = _record_field("loan", "loan_pd")  # annual PD incl. the guarantee uplift
    loan_recovery = _record_field("loan", "loan_recovery")  # recovery if it defaults (fraction)
    loan_funding_relief = _record_field("loan", "loan_funding_relief")  # PBOC funding relief, p.a.
    loan_start = _record_field("loan", "loan_start")  # month booked
    loan_maturity = _record_field("loan", "loan_maturity")  # last month of the loan
    loan_guarantor = _record_field("loan", "loan_guarantor")  # guarantor index, DIRECT if none
    loan_bank = _record_field("loan", "loan_bank")  # lending bank (index)
    loan_reg = _record_field("loan", "loan_reg")  # re-guaranteed (bool)
    loan_nf = _record_field("loan", "loan_nf")  # covered by the National Fund (bool)

    def __init__(self, n, params, guarantor_weights, rng):
        self._views: dict[str, np.ndarray] = {}  # the record columns' views, made on first read
        self.n = n
        self.p = params
        self.rng = rng
        # cumulative shares of the categorical draws (as ``Generator.choice`` builds them)
        self.cdf = {
            "sector": _cdf(params["population.sector_shares"]),
            "size": _cdf(params["population.size_shares"]),
            "bank": _cdf(params["bank.market_shares"]),
            "guarantor": _cdf(guarantor_weights),
        }
        self.next_firm_id = 0
        self.exits = 0  # firms that have left the sample (for counts of distinct firms)
        self.firm_id = np.zeros(n, np.int64)
        self.revenue = np.zeros(n)
        self.rho = np.zeros(n)
        # the columns of APPLICANT_RECORD (declared above) are fields of these records
        self.applicant = _line_aligned(n, APPLICANT_RECORD)
        self.served = np.zeros(n, bool)  # got a new loan during the reported horizon
        # demand history, for rationing as firm surveys measure it: the last horizon year
        # (see ``GuaranteeMarket.survey_year``) in which the firm applied, had an offer, and
        # needed credit but stayed away discouraged
        self.applied_year = np.full(n, NO_YEAR, np.int16)
        self.offered_year = np.full(n, NO_YEAR, np.int16)
        self.discouraged_year = np.full(n, NO_YEAR, np.int16)
        # the columns of LOAN_RECORD (declared above) are fields of these records
        self.loan = _line_aligned(n, LOAN_RECORD)
        self.loan_guarantor[:] = DIRECT
        self.has_loan = np.zeros(n, bool)
        self.hazard = np.zeros(n, np.float32)
        self.draw_firms(np.arange(n), initial=True)

    def __getstate__(self) -> dict:
        """State for copies and pickles, without the kept column views (see ``_views``)."""
        return {k: v for k, v in self.__dict__.items() if k != "_views"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views = {}

    # ------------------------------------------------------------------ firms
    def draw_firms(self, rows: np.ndarray, initial: bool = False) -> None:
        """Draw new firms into ``rows`` (the initial sample, or entrants).

        Entrants never borrowed (首贷户); in the initial sample a share
        ``population.first_time_share`` never borrowed.
        """
        k = rows.size
        if k == 0:
            return
        p, rng = self.p, self.rng
        self.firm_id[rows] = np.arange(self.next_firm_id, self.next_firm_id + k)
        self.next_firm_id += k
        sector = self._categorical("sector", k)
        size = self._categorical("size", k)
        # the arithmetic below runs in place, in the order of the formulas in the comments
        # (same values, bit for bit, with fewer temporary arrays)
        # revenue = median[size] * exp(revenue_dispersion * N(0, 1))
        revenue = rng.standard_normal(k)
        revenue *= p["population.revenue_dispersion"]
        np.exp(revenue, out=revenue)
        revenue *= np.asarray(p["population.revenue_median"])[size]
        # pd = credit.pd * (size multiplier * sector multiplier) * exp(sig N(0, 1) - sig^2 / 2)
        sig = p["credit.pd_dispersion"]
        pd = rng.standard_normal(k)
        pd *= sig
        pd -= 0.5 * sig * sig
        np.exp(pd, out=pd)
        mult = np.asarray(p["credit.size_pd_multipliers"])[size]
        mult *= np.asarray(p["credit.sector_pd_multipliers"])[sector]
        mult *= p["credit.pd"]
        pd *= mult
        np.clip(pd, 1e-6, 0.5, out=pd)
        self.sector[rows] = sector
        self.size[rows] = size
        self.revenue[rows] = revenue
        self.pd[rows] = pd
        self.rho[rows] = self._correlation(pd, revenue)
        # collateral = revenue * collateral_to_revenue * LN(0, 0.5) for those that have any
        has_coll = rng.random(k) < p["population.collateral_prob"]
        self.collateral[rows] = np.where(
            has_coll, self._times_revenue(rng.lognormal(0.0, 0.5, k), revenue, "collateral"), 0.0
        )
        tech = sector == SECTORS.index("technology")
        has_ip = tech & (rng.random(k) < p["population.ip_prob"])
        self.ip[rows] = np.where(
            has_ip, self._times_revenue(rng.lognormal(0.0, 0.5, k), revenue, "ip"), 0.0
        )
        self.receivables[rows] = self._times_revenue(
            rng.lognormal(0.0, 0.3, k), revenue, "receivables"
        )
        # request = revenue * loan_to_revenue * exp(amount_dispersion * N(0, 1)), clipped
        request = rng.standard_normal(k)
        request *= p["demand.amount_dispersion"]
        np.exp(request, out=request)
        request *= revenue * p["demand.loan_to_revenue"]
        self.request[rows] = np.clip(request, 1e4, p["demand.max_loan"], out=request)
        self.bank[rows] = self._categorical("bank", k)
        self.guarantor[rows] = self._categorical("guarantor", k)
        self.eps_bank[rows] = rng.standard_normal(k)
        self.eps_guarantor[rows] = rng.standard_normal(k)
        self.u_route[rows] = rng.random(k)
        self.u_cover[rows] = rng.random(k)
        if initial:
            self.first_time[rows] = rng.random(k) < p["population.first_time_share"]
        else:
            self.first_time[rows] = True
        self.served[rows] = False
        self.applied_year[rows] = NO_YEAR
        self.offered_year[rows] = NO_YEAR
        self.discouraged_year[rows] = NO_YEAR

    def _categorical(self, name: str, k: int) -> np.ndarray:
        """``k`` draws of a category index with the shares ``self.cdf[name]`` accumulates.

        The same draws as ``rng.choice(len(shares), size=k, p=shares)``, without
        re-validating the shares at every call: the index is the number of cumulative
        shares at or below the uniform (``cdf.searchsorted(u, side="right")``), counted
        one share at a time, which for a few categories and many draws (the initial
        sample) is several times faster than the binary search; the same result.
        """
        cdf, u = self.cdf[name], self.rng.random(k)
        if cdf.size > 64 or k < 16 * cdf.size:
            return cdf.searchsorted(u, side="right")
        index = np.zeros(k, np.int8)
        below = np.empty(k, bool)
        for c in cdf:
            index += np.greater_equal(u, c, out=below)
        return index

    def _times_revenue(self, draws, revenue, what):
        """``revenue * population.<what>_to_revenue * draws``, in place in ``draws``."""
        draws *= revenue * self.p[f"population.{what}_to_revenue"]
        return draws

    def _correlation(self, pd, revenue):
        p = self.p
        rule = p["credit.correlation"]
        if rule == "fixed":
            rho = np.full(pd.shape, p["credit.rho"])
        elif rule == "basel_retail":
            rho = basel_retail_correlation(pd)
        else:
            sales = revenue / p["credit.eur_cny"]
            sales /= 1e6  # EUR million
            rho = basel_corporate_correlation(pd, sales)
        return np.minimum(rho, 0.999 - p["credit.rho_sector"], out=rho)

    def replace(self, rows: np.ndarray) -> None:
        """Firms in ``rows`` exit; entrants take their seats."""
        if rows.size == 0:
            return
        self.exits += int(np.count_nonzero(self.served[rows]))
        self.clear_loans(rows)
        self.draw_firms(rows)

    def clear_loans(self, rows: np.ndarray) -> None:
        """Close the loans of ``rows`` (repaid, or defaulted and handled)."""
        self.has_loan[rows] = False
        self.hazard[rows] = 0.0
        self.loan_guarantor[rows] = DIRECT


def _check_declared() -> None:
    """Every field of the two records is declared as a column of :class:`SMEPopulation`."""
    for records, dtype in (("applicant", APPLICANT_RECORD), ("loan", LOAN_RECORD)):
        for name in dtype.names:
            column = getattr(SMEPopulation, name, None)
            if not isinstance(column, property) or column.__doc__ != _column_doc(records, name):
                raise TypeError(f"SMEPopulation does not declare the {records} column {name!r}")


_check_declared()
