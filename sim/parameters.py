"""The parameter registry: every model parameter, described once.

Each parameter has a dotted key (``section.name``, the same key used in scenario
TOML tables and in ``--set KEY=VALUE``), a kind, a unit, a default, an allowed
range or set of choices, a one-line description and a source. Scenario
validation (:mod:`sim.scenario`), ``gsim validate``, the ODD parameter table in
``docs/`` and the dashboard controls are all generated from this registry, so a
parameter is never described twice.

Defaults describe Beijing's guarantee market *before* the 2022 measures
(京金融〔2022〕177号); ``scenarios/baseline_2021.toml`` adds the calibrated values.
A source reading "assumption" marks a modelling choice without a published
figure behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .priors import SWITCH, Prior, loguniform, truncnorm, uniform

__all__ = [
    "SECTORS",
    "SIZE_CLASSES",
    "BANK_TYPES",
    "SHOCK_SECTORS",
    "Parameter",
    "parameters",
    "registry_rows",
    "REGISTRY",
]

#: Sectors of the SME population. The four hit by COVID-type shocks and named in
#: measure 5 (transport, catering, accommodation, tourism) are explicit sectors.
SECTORS: tuple[str, ...] = (
    "manufacturing",
    "technology",
    "wholesale_retail",
    "transport",
    "catering",
    "accommodation",
    "tourism",
    "agriculture",
    "other_services",
)
#: The sectors named in measure 5 of the 2022 package.
SHOCK_SECTORS: tuple[str, ...] = ("transport", "catering", "accommodation", "tourism")
#: Firm size classes (工信部联企业〔2011〕300号 classification).
SIZE_CLASSES: tuple[str, ...] = ("micro", "small", "medium")
#: Bank types, one bank agent each.
BANK_TYPES: tuple[str, ...] = ("large_state_owned", "joint_stock", "city_commercial", "rural")


@dataclass(frozen=True)
class Parameter:
    """Metadata of one model parameter.

    Attributes
    ----------
    key : str
        Dotted key, ``section.name``.
    kind : {"float", "int", "bool", "choice", "floats", "sectors"}
        Value type. ``floats`` is a fixed-length list of numbers, ``sectors`` a
        list of sector names.
    default : object
        Default value (pre-2022 Beijing baseline).
    unit : str
        Unit of the value ("fraction", "yuan", "months", "fraction p.a." ...).
    description : str
        One-line description.
    source : str
        Citation for the default, or ``"assumption"``.
    low, high : float, optional
        Inclusive bounds for numbers (for ``floats`` they bound each element).
    choices : tuple of str, optional
        Allowed values of a ``choice``.
    length : int, optional
        Required length of a ``floats`` list.
    labels : tuple of str, optional
        Names of the elements of a ``floats`` list.
    sums_to_one : bool
        For ``floats``: the elements must sum to 1.
    measure : int, optional
        Number of the 2022 measure (1-12) this parameter is a lever of.
    lever : bool
        A main policy lever (shown first in the dashboard).
    prior : Prior, optional
        What a sampler may draw the parameter from (:mod:`sim.priors`): the evidence on a
        lever's strength translated into the parameter's units, a policy setting's range,
        or a calibrated parameter's search range. For a list of numbers it applies to each
        element.
    calibrated : bool
        Fitted by the calibration (``docs/calibration.md``); its prior is the search range.
    setting : bool
        A policy setting or a rule (a risk share, a budget, a cap, a fee schedule): its prior
        is the range of settings studied, and ensembles do not draw it (the scenario says
        what it is); every other parameter with a prior is a strength they draw.
    """

    key: str
    kind: str
    default: Any
    unit: str
    description: str
    source: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    labels: tuple[str, ...] | None = None
    sums_to_one: bool = False
    measure: int | None = None
    lever: bool = False
    prior: Prior | None = None
    calibrated: bool = False
    setting: bool = False

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def allowed(self) -> str:
        """Human-readable statement of the allowed values (used in error messages)."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "sectors":
            return "a list of sector names from " + ", ".join(SECTORS)
        rng = _range_text(self.low, self.high)
        if self.kind == "floats":
            what = f"a list of {self.length} numbers"
            if self.labels:
                what += " (" + ", ".join(self.labels) + ")"
            if rng:
                what += f", each {rng}"
            if self.sums_to_one:
                what += ", summing to 1"
            return what
        noun = "an integer" if self.kind == "int" else "a number"
        return f"{noun} {rng}".strip()


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"in [{_fmt(low)}, {_fmt(high)}]"
    if low is not None:
        return f">= {_fmt(low)}"
    if high is not None:
        return f"<= {_fmt(high)}"
    return ""


def _fmt(x: float) -> str:
    if isinstance(x, float) and (abs(x) >= 1e5 and x == int(x)):
        return f"{x:.3g}"
    return repr(x) if isinstance(x, float) else str(x)


_P: list[Parameter] = []


def _add(key, kind, default, unit, description, source, **kw) -> None:
    _P.append(Parameter(key, kind, default, unit, description, source, **kw))


A = "assumption"
GB6 = "国办发〔2019〕6号 (Xinhua summary, chinacourt.org 2019-02-14)"
REG = "融资担保公司监督管理条例 (2017)"
BJ2021 = "北京信用担保业协会 annual report 2021 (calibration.md)"

# --------------------------------------------------------------------- run
_add(
    "run.n_smes",
    "int",
    20_000,
    "firms",
    "Simulated SMEs (representative sample)",
    A,
    low=50,
    high=20_000_000,
)
_add(
    "run.burn_in",
    "int",
    36,
    "months",
    "Burn-in months before the reported horizon (long enough for the firms' credit histories "
    "to settle: the baseline's yearly outcomes drift by less than a few per cent after it)",
    "assumption; docs/calibration.md",
    low=0,
    high=600,
)
_add("run.horizon", "int", 36, "months", "Reported horizon", A, low=1, high=600)

# -------------------------------------------------------------- population
_add(
    "population.firms",
    "float",
    600_000.0,
    "firms",
    "Real SMEs with credit demand that the sample represents (sets population_weight)",
    "calibrated (docs/calibration.md)",
    low=1.0,
    high=1e9,
    prior=loguniform(1e5, 1e7),
    calibrated=True,
)
_add(
    "population.sector_shares",
    "floats",
    [0.12, 0.18, 0.24, 0.06, 0.06, 0.03, 0.03, 0.02, 0.26],
    "fraction",
    "Share of firms per sector",
    A,
    length=len(SECTORS),
    labels=SECTORS,
    low=0.0,
    high=1.0,
    sums_to_one=True,
)
_add(
    "population.size_shares",
    "floats",
    [0.82, 0.15, 0.03],
    "fraction",
    "Share of firms per size class (micro, small, medium)",
    A,
    length=3,
    labels=SIZE_CLASSES,
    low=0.0,
    high=1.0,
    sums_to_one=True,
)
_add(
    "population.revenue_median",
    "floats",
    [2.5e6, 2.5e7, 8e7],
    "yuan p.a.",
    "Median annual revenue per size class",
    "assumption, inside 工信部联企业〔2011〕300号 size thresholds",
    length=3,
    labels=SIZE_CLASSES,
    low=1e4,
    high=1e11,
)
_add(
    "population.revenue_dispersion",
    "float",
    0.7,
    "log-sd",
    "Dispersion of log revenue within a size class",
    A,
    low=0.0,
    high=3.0,
)
_add(
    "population.collateral_prob",
    "float",
    0.7,
    "fraction",
    "Share of firms owning pledgeable hard collateral (property, equipment)",
    A,
    low=0.0,
    high=1.0,
)
_add(
    "population.collateral_to_revenue",
    "float",
    0.12,
    "ratio",
    "Hard collateral value relative to revenue, for firms that own some",
    A,
    low=0.0,
    high=20.0,
)
_add(
    "population.ip_prob",
    "float",
    0.5,
    "fraction",
    "Share of technology firms holding pledgeable IP",
    A,
    low=0.0,
    high=1.0,
)
_add(
    "population.ip_to_revenue",
    "float",
    0.3,
    "ratio",
    "Appraised IP value relative to revenue, for firms that hold some",
    A,
    low=0.0,
    high=20.0,
)
_add(
    "population.receivables_to_revenue",
    "float",
    0.15,
    "ratio",
    "Receivables relative to revenue",
    A,
    low=0.0,
    high=5.0,
)
_add(
    "population.first_time_share",
    "float",
    0.45,
    "fraction",
    "Share of initial firms that never borrowed (首贷户)",
    A,
    low=0.0,
    high=1.0,
)
_add(
    "population.exit_rate",
    "float",
    0.004,
    "per month",
    "Monthly exit hazard of firms without a loan (replaced by entrants)",
    A,
    low=0.0,
    high=0.5,
)

# ------------------------------------------------------------------ credit
_add(
    "credit.pd",
    "float",
    0.03,
    "fraction p.a.",
    "Reference annual probability of default of an SME (through the cycle)",
    "calibrated to small/micro NPL 2.2-3.0% (calibration.md)",
    low=1e-5,
    high=0.5,
    prior=uniform(0.005, 0.08),
    calibrated=True,
)
_add(
    "credit.pd_dispersion",
    "float",
    0.8,
    "log-sd",
    "Dispersion of log PD across firms (0 = homogeneous)",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=3.0,
    prior=uniform(0.2, 1.5),
    calibrated=True,
)
_add(
    "credit.size_pd_multipliers",
    "floats",
    [1.25, 0.85, 0.6],
    "ratio",
    "PD multiplier per size class (micro, small, medium)",
    A,
    length=3,
    labels=SIZE_CLASSES,
    low=0.0,
    high=20.0,
)
_add(
    "credit.sector_pd_multipliers",
    "floats",
    [1.0, 1.1, 1.0, 1.1, 1.25, 1.2, 1.25, 1.15, 0.95],
    "ratio",
    "PD multiplier per sector",
    A,
    length=len(SECTORS),
    labels=SECTORS,
    low=0.0,
    high=20.0,
)
_add(
    "credit.correlation",
    "choice",
    "basel_sme",
    "",
    "Asset correlation rule: Basel II corporate with SME size adjustment, Basel other retail, "
    "or the fixed value credit.rho",
    "Basel II para. 272-273, 330 (calibration.md)",
    choices=("basel_sme", "basel_retail", "fixed"),
)
_add(
    "credit.rho",
    "float",
    0.12,
    "fraction",
    "Asset correlation with the systematic factor when credit.correlation = 'fixed'",
    "Basel II range 0.03-0.24",
    low=0.0,
    high=0.95,
)
_add(
    "credit.systematic_quantile",
    "float",
    0.0,
    "quantile",
    "Hold the yearly systematic factor Z at this quantile of N(0, 1) (0.01 = a 1-in-100 bad "
    "year, 0.5 = the median year); 0 = drawn at random each year",
    A,
    low=0.0,
    high=0.999999,
)
_add(
    "credit.rho_sector",
    "float",
    0.03,
    "fraction",
    "Additional asset correlation with the firm's sector factor",
    A,
    low=0.0,
    high=0.5,
)
_add(
    "credit.guarantee_uplift",
    "float",
    0.15,
    "fraction",
    "Relative PD uplift of a guaranteed borrower whose bank retains no risk (risk shifting); "
    "scaled by (1 - bank share)",
    "Cowan, Drexler & Yanez 2015 (Chile, bank share 20-30%): delinquency +1-2 pp on guaranteed "
    "loans, no default effect; read as a relative uplift of 0.1-0.4 at that share, about 0.15 "
    "at no bank share (docs/evidence.md B.2)",
    low=0.0,
    high=3.0,
    prior=truncnorm(0.15, 0.15, 0.0, 0.6),
)
_add(
    "credit.screening_haircut",
    "float",
    0.5,
    "fraction",
    "Share of pledged collateral value lenders count on when screening: "
    "expected LGD = 1 - haircut x cover",
    A,
    low=0.0,
    high=1.0,
)
_add(
    "credit.eur_cny",
    "float",
    7.8,
    "yuan per euro",
    "Exchange rate for the Basel firm-size adjustment (sales in EUR million)",
    A,
    low=1.0,
    high=20.0,
)

# ------------------------------------------------------------------ demand
_add(
    "demand.mode",
    "choice",
    "continuous",
    "",
    "Timing of applications: a monthly hazard, or one cohort in the first month of each year",
    A,
    choices=("continuous", "annual_cohort"),
)
_add(
    "demand.application_rate",
    "float",
    0.07,
    "per month",
    "Monthly probability that a firm without a loan applies",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=1.0,
    prior=uniform(0.02, 0.5),
    calibrated=True,
)
_add(
    "demand.loan_to_revenue",
    "float",
    0.2,
    "ratio",
    "Median loan request relative to annual revenue",
    "calibrated (docs/calibration.md)",
    low=0.001,
    high=5.0,
    prior=uniform(0.03, 0.6),
    calibrated=True,
)
_add(
    "demand.amount_dispersion",
    "float",
    0.5,
    "log-sd",
    "Dispersion of the loan request around its median",
    A,
    low=0.0,
    high=3.0,
)
_add("demand.max_loan", "float", 3e7, "yuan", "Largest loan request", A, low=1e4, high=1e10)
_add(
    "demand.cost_elasticity",
    "float",
    1.5,
    "elasticity",
    "Elasticity of take-up to the all-in cost of credit (interest + fee - subsidy)",
    "Karlan & Zinman (Mexico): volume elasticity -1.1 (1 year) to -2.9 (3 years); Bogan et al.:"
    " -1.0 (docs/evidence.md B.5)",
    low=0.0,
    high=20.0,
    prior=truncnorm(1.2, 0.6, 0.2, 3.0),
)
_add(
    "demand.reference_cost",
    "float",
    0.05,
    "fraction p.a.",
    "All-in cost at or below which every offer is taken up",
    A,
    low=0.001,
    high=0.5,
)
_add(
    "demand.delay_dropout",
    "float",
    0.15,
    "fraction",
    "Probability an applicant gives up per month of approval delay",
    "no evidence found on how many applicants give up per month of approval delay; wide prior "
    "(assumption)",
    low=0.0,
    high=1.0,
    prior=uniform(0.05, 0.3),
)
_add(
    "demand.discouragement",
    "float",
    0.5,
    "fraction",
    "Probability that a firm needing credit that expects to be refused does not apply "
    "(a discouraged borrower)",
    "calibrated to the CHFS 2013 share of discouraged borrowers (docs/calibration.md); "
    "Kon & Storey 2003 (theory)",
    low=0.0,
    high=1.0,
    prior=uniform(0.0, 1.0),
    calibrated=True,
)
_add(
    "demand.switching_cost",
    "float",
    0.01,
    "fraction p.a.",
    "Mean cost of going through a guarantor instead of a direct loan (paperwork, delay, "
    "counter-guarantee), as a rate; a firm the bank would lend to directly takes a guaranteed "
    "loan instead when its all-in cost is lower by more than its own switching cost "
    "(exponentially distributed across firms with this mean)",
    "no evidence found on the cost of going through a guarantor; wide log-uniform prior of "
    "0.2-3 pp a year (substitution evidence in docs/evidence.md B.1)",
    low=0.0,
    high=0.2,
    prior=loguniform(0.002, 0.03),
)
_add(
    "loans.term_months",
    "int",
    13,
    "months",
    "Loan and guarantee term (bullet repayment)",
    "Beijing: guarantees in force / new guarantees = 100.6 / 93.7 bn (2021), 94.1 / 88.7 (2020), "
    "85.7 / 76.2 (2018): an average term of 12.8-13.5 months (calibration.md)",
    low=1,
    high=120,
)

# -------------------------------------------------------------------- bank
_add(
    "bank.market_shares",
    "floats",
    [0.35, 0.25, 0.25, 0.15],
    "fraction",
    "Share of firms whose house bank is of each type",
    A,
    length=len(BANK_TYPES),
    labels=BANK_TYPES,
    low=0.0,
    high=1.0,
    sums_to_one=True,
)
_add(
    "bank.funding_cost",
    "float",
    0.03,
    "fraction p.a.",
    "Banks' funding cost",
    "assumption near the 1-year deposit/interbank rate 2021",
    low=0.0,
    high=0.2,
)
_add(
    "bank.operating_cost",
    "float",
    0.02,
    "fraction p.a.",
    "Banks' operating cost of a small loan",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=0.2,
    prior=uniform(0.0, 0.04),
    calibrated=True,
)
_add(
    "bank.risk_markup",
    "float",
    1.5,
    "ratio",
    "Loan spread per unit of expected loss the bank retains",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=10.0,
    prior=uniform(0.0, 3.0),
    calibrated=True,
)
_add(
    "bank.screening_noise",
    "float",
    0.6,
    "log-sd",
    "Noise of a bank's PD estimate (log scale) with full effort and average information",
    A,
    low=0.0,
    high=5.0,
)
_add(
    "bank.moral_hazard",
    "float",
    0.5,
    "elasticity",
    "Elasticity of a bank's screening effort to its retained share on guaranteed loans; "
    "noise grows as effort^-1/2 = s_bank^(-m/2)",
    "Saito & Tsuruta 2018 (Japan: compensation rates rise with cover, more at 100% than 80%) "
    "give the sign only: at the prior's ends a 20% bank share cuts the noise on guaranteed "
    "loans by a factor 1.1 to 3.3 against no share",
    low=0.0,
    high=10.0,
    prior=uniform(0.1, 1.5),
)
_add(
    "bank.direct_el_tolerance",
    "float",
    0.015,
    "fraction",
    "Largest expected loss (PD x LGD) a bank accepts on an unguaranteed loan",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=1.0,
    prior=uniform(0.005, 0.08),
    calibrated=True,
)
_add(
    "bank.guarantee_el_tolerance",
    "float",
    0.008,
    "fraction",
    "Largest expected loss on its retained share a bank accepts on a guaranteed loan "
    "(supervisory tolerance of guarantee losses)",
    "measure 10; CBIRC 2019 notice: inclusive small/micro NPL tolerated up to 3 pp above the "
    "bank's overall NPL (Xinhua 2019-03-13); at LGD 0.45 that is about 1.35 pp more expected "
    "loss on the bank's own book, of which a guaranteed loan with a 20% bank share carries a "
    "fifth: a tolerance of 0.3-2% on the retained share (docs/evidence.md B.6)",
    low=0.0,
    high=1.0,
    measure=10,
    lever=True,
    prior=uniform(0.003, 0.02),
)
_add(
    "bank.funding_relief",
    "float",
    0.0,
    "fraction p.a.",
    "Funding-cost relief (re-lending, 普惠小微支持工具) on guaranteed loans of banks retaining "
    ">= 20% of the risk",
    "measure 10; PBOC 普惠小微贷款支持工具 2022-01 to 2023-06: 1% (2% from 2022 Q2) of the year's "
    "increase in inclusive small/micro loans of local banks, paid once: on a loan of about a "
    "year at most 0.01-0.02 p.a. for local banks, less across all banks (docs/evidence.md B.6)",
    low=0.0,
    high=0.05,
    measure=10,
    lever=True,
    prior=uniform(0.0, 0.01),
)
_add(
    "bank.funding_relief_min_share",
    "float",
    0.2,
    "fraction",
    "Least risk share a bank retains on guaranteed loans to receive the funding-cost relief",
    "京金融〔2022〕177号 measures 9-10: monetary-policy support for banks that share risk, "
    "shared per 国办发〔2019〕6号 (the bank bears in principle at least 20%)",
    low=0.0,
    high=1.0,
)
_add(
    "bank.guarantee_substitution",
    "float",
    0.05,
    "fraction",
    "Share of applicants a bank would lend to directly that it still routes through a guarantee",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=1.0,
    prior=uniform(0.0, 0.5),
    calibrated=True,
)
_add(
    "bank.referral_rate",
    "float",
    0.8,
    "fraction",
    "Share of the applicants a bank will not lend to directly that it refers to a guarantor "
    "before the 2022 package (the rest are rejected)",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=1.0,
    prior=uniform(0.2, 1.0),
    calibrated=True,
)
_add(
    "bank.referral_uplift",
    "float",
    0.0,
    "fraction",
    "Measure 10 makes bank-guarantor cooperation a separate indicator in the supervisory "
    "evaluation of banks' small/micro services: the fraction of the firms a bank did not refer "
    "that it now refers (referral rate r becomes r + uplift x (1 - r))",
    "measure 10; no evidence found on how much the supervisory indicator changes banks' "
    "referrals; wide prior over the whole range",
    low=0.0,
    high=1.0,
    measure=10,
    lever=True,
    prior=uniform(0.0, 1.0),
)
_add(
    "bank.screening_cost",
    "float",
    1500.0,
    "yuan",
    "Bank's cost of screening one referred application",
    A,
    low=0.0,
    high=1e6,
)
_add(
    "bank.equity",
    "float",
    2.0e11,
    "yuan",
    "Capital of the banks' small-business books, split by market share",
    A,
    low=0.0,
    high=1e14,
)

# --------------------------------------------------------------- guarantor
_add(
    "guarantor.municipal",
    "int",
    5,
    "institutions",
    "Municipal government guarantors",
    "Beijing government list (calibration.md)",
    low=1,
    high=50,
)
_add(
    "guarantor.district",
    "int",
    13,
    "institutions",
    "District government guarantors",
    "Beijing government list (calibration.md)",
    low=0,
    high=200,
)
_add(
    "guarantor.equity",
    "float",
    3.33e10,
    "yuan",
    "Total net assets of the government guarantors at the start of the run (end of 2018: the "
    "burn-in covers 2019-2021)",
    "2018 in force 85.7 bn / leverage 2.57 (calibration.md)",
    low=0.0,
    high=1e13,
)
_add(
    "guarantor.municipal_equity_share",
    "float",
    0.7,
    "fraction",
    "Share of total guarantor equity held by the municipal institutions",
    A,
    low=0.0,
    high=1.0,
)
_add(
    "guarantor.base_fee",
    "float",
    0.015,
    "fraction p.a.",
    "Base guarantee fee charged to the SME (% of the guaranteed loan per year)",
    "calibrated to 2021 average fee 1.66% (calibration.md)",
    low=0.0,
    high=0.2,
    prior=uniform(0.002, 0.03),
    calibrated=True,
)
_add(
    "guarantor.risk_fee_loading",
    "float",
    0.1,
    "ratio",
    "Fee add-on per unit of the guarantor's PD estimate (risk-based pricing)",
    A,
    low=0.0,
    high=10.0,
)
_add(
    "guarantor.fee_cap",
    "float",
    0.03,
    "fraction p.a.",
    "Cap on the guarantee fee",
    "policy setting: no binding cap before 2022 (assumption); the prior spans the "
    "国办发〔2019〕6号 "
    "average-fee target (1%) to the pre-2022 default",
    low=0.0,
    high=0.2,
    measure=2,
    lever=True,
    prior=uniform(0.01, 0.03),
    setting=True,
)
_add(
    "guarantor.screening_noise",
    "float",
    0.5,
    "log-sd",
    "Noise of a guarantor's PD estimate (log scale) with average information",
    A,
    low=0.0,
    high=5.0,
)
_add(
    "guarantor.el_appetite",
    "float",
    0.05,
    "fraction",
    "Largest expected loss on its retained share a guarantor accepts",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=1.0,
    prior=uniform(0.005, 0.2),
    calibrated=True,
)
_add(
    "guarantor.cover_appetite",
    "float",
    0.3,
    "fraction",
    "Fraction of the risk cover it gets (re-guarantee, National Fund, compensation fund) that "
    "a guarantor counts as lower risk when approving",
    "assumption (docs/ODD.md 7.7): below 0.6 a larger cover lowers the guarantor's net loss, as"
    " model.md section 6 requires; no evidence on its size",
    low=0.0,
    high=1.0,
    prior=uniform(0.1, 0.6),
)
_add(
    "guarantor.due_diligence_exemption",
    "bool",
    False,
    "",
    "Due-diligence exemption (尽职免责): staff are not punished for losses on compliant loans",
    "measure 3 (policy switch; 北京尽职免责工作指引, existing before 2022-06)",
    measure=3,
    lever=True,
    prior=SWITCH,
)
_add(
    "guarantor.exemption_strength",
    "float",
    0.3,
    "fraction",
    "Effect of the exemption: appetite x (1 + s), uncertainty aversion x (1 - s)",
    "measure 3; no Chinese evidence found (docs/evidence.md B.4); Agarwal & Ben-David 2018 "
    "(loan officers paid on volume: +31% loans, +24% defaults) bound it: at the prior's top the"
    " exemption raises guarantors' approvals by about that much",
    low=0.0,
    high=1.0,
    measure=3,
    prior=uniform(0.05, 0.5),
)
_add(
    "guarantor.counter_guarantee",
    "float",
    0.3,
    "ratio",
    "Counter-guarantee (反担保) required, as pledgeable assets per yuan of loan",
    "measure 6; no Beijing statistic on counter-guarantee coverage found (docs/evidence.md "
    "B.9); wide prior around the assumed pre-2022 0.3 of pledgeable assets per yuan",
    low=0.0,
    high=3.0,
    measure=6,
    lever=True,
    prior=uniform(0.1, 0.5),
)
_add(
    "guarantor.approval_delay",
    "int",
    1,
    "months",
    "Approval delay of a guarantee outside batch mode",
    "measure 6; no data on guarantee approval times found; wide prior of 0-2 months (assumption)",
    low=0,
    high=12,
    measure=6,
    prior=uniform(0.0, 2.0),
)
_add(
    "guarantor.screening_cost",
    "float",
    3000.0,
    "yuan",
    "Guarantor's cost of screening one application",
    A,
    low=0.0,
    high=1e6,
)
_add(
    "guarantor.leverage_cap",
    "float",
    10.0,
    "ratio",
    "Cap on guarantee liability / net assets (放大倍数)",
    "融资担保公司监督管理条例 (2017) Art. 15: 10x, 15x for small/micro-focused guarantors; the "
    "prior spans "
    "the two",
    low=0.5,
    high=100.0,
    measure=12,
    prior=uniform(10.0, 15.0),
    setting=True,
)
_add(
    "guarantor.leverage_cap_small_micro",
    "float",
    15.0,
    "ratio",
    "Leverage cap for guarantors whose liability is >= 80% small/micro",
    "融资担保公司监督管理条例 (2017) Art. 15: 15x for small/micro-focused guarantors; the "
    "prior spans "
    "10x-15x",
    low=0.5,
    high=100.0,
    measure=12,
    prior=uniform(10.0, 15.0),
    setting=True,
)
_add(
    "guarantor.small_micro_focus_share",
    "float",
    0.8,
    "fraction",
    "Small/micro share of a guarantor's liability at or above which "
    "guarantor.leverage_cap_small_micro applies",
    "融资担保公司监督管理条例 (2017) Art. 15 (higher cap for guarantors serving mainly small/micro "
    "firms); the 80% line is the one 国办发〔2019〕6号 sets for small/micro and farm business "
    "(support-small share at least 80%)",
    low=0.0,
    high=1.0,
)
_add(
    "guarantor.priority_max_loan",
    "float",
    5e6,
    "yuan",
    "Largest small/micro loan served first (with relief-sector loans) when capacity binds",
    "国办发〔2019〕6号 focus on single guarantees of at most 5M yuan (单户500万元及以下); the "
    "priority ordering itself is an assumption",
    low=0.0,
    high=1e10,
)
_add(
    "guarantor.concentration_cap",
    "float",
    0.15,
    "fraction",
    "Cap on a single borrower's guarantee / net assets (pre-2022: the 15% allowed with "
    "related parties; measure 12 enforces 10%)",
    "融资担保公司监督管理条例 (2017) Art. 16: 10% of net assets, 15% with related parties; "
    "pre-2022 at 15% "
    "(assumption), measure 12 enforces 10%",
    low=0.0,
    high=1.0,
    measure=12,
    prior=uniform(0.10, 0.15),
    setting=True,
)
_add(
    "guarantor.operating_cost",
    "float",
    0.006,
    "fraction p.a.",
    "Guarantors' operating cost per yuan of guarantee liability",
    A,
    low=0.0,
    high=0.2,
)
_add(
    "guarantor.investment_return",
    "float",
    0.03,
    "fraction p.a.",
    "Return on the guarantors' equity invested in deposits and bonds",
    A,
    low=0.0,
    high=0.2,
)

# ----------------------------------------------------------- risk sharing
_RS = ("guarantor", "reguarantor", "national_fund", "bank", "comp_fund")
_add(
    "risk_sharing.preset",
    "choice",
    "custom",
    "",
    "Risk-sharing preset; sets guarantor.share, reguarantor.share, national_fund.share, "
    "bank.share and comp_fund.share",
    "国办发〔2019〕6号 (Xinhua summary, chinacourt.org 2019-02-14); Anhui Business Daily "
    "2016-04-13 "
    "(policy switch)",
    choices=("custom", "national_2222", "anhui_4321", "full_guarantee", "bank_guarantor_82"),
    measure=9,
    lever=True,
    prior=SWITCH,
)
_add(
    "guarantor.share",
    "float",
    0.8,
    "fraction",
    "Share of a guaranteed loan's loss borne by the direct guarantor",
    "policy setting (measure 9): the residual of the other shares; 国办发〔2019〕6号 leaves the "
    "direct guarantor at most 40%, traditional guarantees 100%",
    low=0.0,
    high=1.0,
    measure=9,
    lever=True,
    prior=uniform(0.2, 1.0),
    setting=True,
)
_add(
    "reguarantor.share",
    "float",
    0.2,
    "fraction",
    "Share borne by the Beijing re-guarantor (再担保) on eligible loans",
    "policy setting (measure 1): Beijing re-guarantor 20% before 2022 (assumption); "
    "国办发〔2019〕6号: at least the National Fund's share; Anhui 4321: 30%",
    low=0.0,
    high=1.0,
    measure=1,
    lever=True,
    prior=uniform(0.0, 0.4),
    setting=True,
)
_add(
    "national_fund.share",
    "float",
    0.0,
    "fraction",
    "Share borne by the National Financing Guarantee Fund on covered loans",
    "policy setting (measure 5): 国办发〔2019〕6号 at least 20%; up to 40% under the 2024 sci-tech "
    "plan (财金〔2024〕60号)",
    low=0.0,
    high=1.0,
    measure=5,
    lever=True,
    prior=uniform(0.0, 0.4),
    setting=True,
)
_add(
    "bank.share",
    "float",
    0.0,
    "fraction",
    "Share retained by the lending bank",
    "policy setting (measure 9): 国办发〔2019〕6号 floor 20%; 0 in traditional guarantees; FOGAPE "
    "(Chile) 20-30%",
    low=0.0,
    high=1.0,
    measure=9,
    lever=True,
    prior=uniform(0.0, 0.4),
    setting=True,
)
_add(
    "comp_fund.share",
    "float",
    0.0,
    "fraction",
    "Share reimbursed by the city/district compensation funds (代偿补偿资金), within budget",
    "policy setting (measure 2): Anhui 4321 local government 10% (Anhui Business Daily 2016-04-13)",
    low=0.0,
    high=1.0,
    measure=2,
    lever=True,
    prior=uniform(0.0, 0.2),
    setting=True,
)

# ------------------------------------------------------------- reguarantor
_add(
    "reguarantor.max_loan",
    "float",
    1e7,
    "yuan",
    "Largest single loan eligible for re-guarantee",
    "measure 1; policy focus on loans up to 10M yuan (国办发〔2019〕6号, 财金〔2025〕11号); "
    "the prior "
    "spans 5M-10M",
    low=0.0,
    high=1e10,
    measure=1,
    prior=uniform(5e6, 1e7),
    setting=True,
)
_add(
    "reguarantor.small_micro_only",
    "bool",
    True,
    "",
    "Only micro and small firms are eligible for re-guarantee",
    "measure 1 (policy switch: eligibility to 10M for all SMEs)",
    measure=1,
    prior=SWITCH,
)
_add(
    "reguarantor.fee",
    "float",
    0.005,
    "fraction p.a.",
    "Re-guarantee fee on the ceded risk for loans above the size threshold",
    "measure 1; Beijing re-guarantee fee not found; the National Fund charges 0.5% of the risk "
    "it bears (MOF, cfbond 2019-02-15): the prior spans 0.3-0.6%",
    low=0.0,
    high=0.1,
    measure=1,
    lever=True,
    prior=uniform(0.003, 0.006),
    setting=True,
)
_add(
    "reguarantor.fee_small",
    "float",
    0.005,
    "fraction p.a.",
    "Re-guarantee fee on the ceded risk for loans at or below the size threshold "
    "(differentiated fees)",
    "measure 1 (differentiated fees); the National Fund charges 0.3% for loans up to 5M, waived"
    " to 1M and halved above in 2020 (财金〔2020〕15号)",
    low=0.0,
    high=0.1,
    measure=1,
    lever=True,
    prior=uniform(0.001, 0.005),
    setting=True,
)
_add(
    "reguarantor.fee_size_threshold",
    "float",
    5e6,
    "yuan",
    "Loan size at or below which the small-loan re-guarantee fee applies",
    "measure 1; the National Fund's threshold is 5M yuan (cfbond 2019-02-15); Beijing's not found",
    low=0.0,
    high=1e10,
    measure=1,
    prior=uniform(1e6, 1e7),
    setting=True,
)
_add(
    "reguarantor.equity",
    "float",
    6e9,
    "yuan",
    "Re-guarantor's net assets at start",
    A,
    low=0.0,
    high=1e13,
)

# ----------------------------------------------------------- national fund
_add(
    "national_fund.coverage",
    "float",
    0.0,
    "fraction",
    "Share of eligible business brought under the National Fund's re-guarantee",
    "measure 5; Beijing's coverage in 2022 not found; nationally 93.5% of the Fund's 2024 "
    "business shared risk with banks (融担基金 2025-02-12): wide prior",
    low=0.0,
    high=1.0,
    measure=5,
    lever=True,
    prior=uniform(0.3, 1.0),
)
_add(
    "national_fund.max_loan",
    "float",
    1e7,
    "yuan",
    "Largest single loan eligible for the National Fund",
    "财金〔2025〕11号 focus <= 10M; 30M for sci-tech firms under 财金〔2024〕60号",
    low=0.0,
    high=1e10,
    measure=5,
    prior=uniform(1e7, 3e7),
    setting=True,
)
_add(
    "national_fund.fee",
    "float",
    0.005,
    "fraction p.a.",
    "National Fund fee on the risk it bears (loans above 5M)",
    "MOF, cfbond 2019-02-15: 0.5% of the risk borne; at most 0.5% under 财金〔2024〕60号",
    low=0.0,
    high=0.1,
    measure=5,
    prior=uniform(0.003, 0.005),
    setting=True,
)
_add(
    "national_fund.fee_small",
    "float",
    0.003,
    "fraction p.a.",
    "National Fund fee on the risk it bears for loans <= 5M",
    "MOF, cfbond 2019-02-15: 0.3% for loans <= 5M; halved above 1M in 2020 (财金〔2020〕15号)",
    low=0.0,
    high=0.1,
    measure=5,
    prior=uniform(0.0015, 0.003),
    setting=True,
)
_add(
    "national_fund.fee_size_threshold",
    "float",
    5e6,
    "yuan",
    "Loan size at or below which national_fund.fee_small applies",
    "MOF, cfbond 2019-02-15: 0.3% for loans <= 5M, 0.5% above",
    low=0.0,
    high=1e10,
)
_add(
    "national_fund.comp_rate_cap",
    "float",
    0.04,
    "fraction",
    "Partner compensation rate above which the Fund stops sharing",
    "财金〔2024〕60号 (CCTV 2024-07-27): 4%, 5% under the 2024 sci-tech and 2026 "
    "private-investment "
    "plans",
    low=0.0,
    high=1.0,
    measure=5,
    prior=uniform(0.04, 0.05),
    setting=True,
)
_add(
    "national_fund.cap_rule",
    "choice",
    "suspend",
    "",
    "Interpretation of the cap: 'suspend' = no sharing of new defaults while the trailing "
    "12-month compensation rate on covered loans exceeds the cap; 'limit' = over the trailing "
    "12 months the Fund pays at most share x cap x covered guarantees released; 'none' = cap "
    "not enforced",
    "assumption (mechanics not published): a switch between the three readings",
    choices=("suspend", "limit", "none"),
    measure=5,
    prior=SWITCH,
)
_add(
    "national_fund.equity",
    "float",
    6.6e10,
    "yuan",
    "National Fund's capital",
    "registered capital 66.1 bn yuan",
    low=0.0,
    high=1e13,
)

# ------------------------------------------------------------ comp funds
_add(
    "comp_fund.city_budget",
    "float",
    0.0,
    "yuan per year",
    "City compensation fund budget (市级代偿补偿资金)",
    "measure 2; Beijing's compensation-fund budget not found (docs/evidence.md C.1); wide prior",
    low=0.0,
    high=1e12,
    measure=2,
    lever=True,
    prior=uniform(0.0, 2e9),
    setting=True,
)
_add(
    "comp_fund.district_budget",
    "float",
    0.0,
    "yuan per year",
    "District compensation funds budget, used after the city fund",
    "measure 2; district budgets not found; wide prior",
    low=0.0,
    high=1e12,
    measure=2,
    prior=uniform(0.0, 5e8),
    setting=True,
)

# -------------------------------------------------------------- government
_add(
    "government.fee_subsidy_rate",
    "float",
    0.0,
    "fraction p.a.",
    "Fee-reduction subsidy (担保降费奖补) per yuan of new small/micro guarantee; "
    "the guarantor passes it on as a fee cut",
    "measure 2; Shaanxi 2021: 141.23m yuan of central subsidy for 21.1 bn of guaranteed loans, "
    "0.67% of volume (Shaanxi Daily 2021-09-07; docs/evidence.md B.5)",
    low=0.0,
    high=0.05,
    measure=2,
    lever=True,
    prior=uniform(0.003, 0.01),
    setting=True,
)
_add(
    "government.fee_subsidy_threshold",
    "float",
    0.01,
    "fraction p.a.",
    "Subsidised business must carry a fee at or below this rate after the cut",
    "measure 2; 财建〔2021〕106号 rewards fees of 1.5% or less; 国办发〔2019〕6号 targets an "
    "average below"
    " 1%",
    low=0.0,
    high=0.2,
    measure=2,
    prior=uniform(0.01, 0.015),
    setting=True,
)
_add(
    "government.fee_subsidy_budget",
    "float",
    0.0,
    "yuan per year",
    "Budget of the fee-reduction subsidy",
    "measure 2; the central subsidy is 3 bn yuan/yr nationally (财建〔2021〕106号); Beijing's "
    "share "
    "not found: wide prior",
    low=0.0,
    high=1e12,
    measure=2,
    lever=True,
    prior=uniform(1e8, 1e9),
    setting=True,
)
_add(
    "government.capital_injection_budget",
    "float",
    0.0,
    "yuan per year",
    "Yearly capital replenishment (资本金补充) for well-evaluated guarantors",
    "measure 2; Beijing's 18 government guarantors: registered capital +0.3 bn in 2022, fiscal "
    "contributions 11.3 bn in all (北京信用担保业协会 2023-08-14): wide prior",
    low=0.0,
    high=1e12,
    measure=2,
    lever=True,
    prior=uniform(0.0, 3e9),
    setting=True,
)

# -------------------------------------------------------------- evaluation
_add(
    "evaluation.weights",
    "floats",
    [25.0, 25.0, 25.0, 25.0],
    "points",
    "Performance-evaluation (绩效评价) weights: policy effect, operating capacity, "
    "risk control, system building",
    "measure 11; 财金〔2020〕31号 weights policy effect 40 of 100; the other weights unverified: "
    "each weight U[10, 50]",
    length=4,
    labels=("policy_effect", "operating_capacity", "risk_control", "system_building"),
    low=0.0,
    high=100.0,
    measure=11,
    prior=uniform(10.0, 50.0),
    setting=True,
)
_add(
    "evaluation.small_micro_target",
    "float",
    0.8,
    "fraction",
    "Small/micro share of a year's new guarantees that earns full policy-effect marks",
    "财金〔2020〕31号 and 国办发〔2019〕6号: support-small business at least 80% of guarantees",
    low=1e-6,
    high=1.0,
)
_add(
    "evaluation.small_loan_max",
    "float",
    1e7,
    "yuan",
    "Largest loan counted in the evaluation's small-loan share",
    "财金〔2020〕31号 / 财金〔2025〕11号 focus on loans up to 10M yuan (as reguarantor.max_loan)",
    low=0.0,
    high=1e10,
)
_add(
    "evaluation.small_loan_target",
    "float",
    0.8,
    "fraction",
    "Share of a year's new guarantees in loans <= evaluation.small_loan_max that earns full "
    "policy-effect marks",
    "assumption: the 80% target of 国办发〔2019〕6号 applied to loan size",
    low=1e-6,
    high=1.0,
)
_add(
    "evaluation.reguarantee_target",
    "float",
    0.8,
    "fraction",
    "Share of a year's new guarantees under re-guarantee that earns full system-building marks",
    A,
    low=1e-6,
    high=1.0,
)
_add(
    "evaluation.min_score",
    "float",
    60.0,
    "points",
    "Score (of 100) a guarantor needs to receive capital injections",
    "measure 11; no published pass mark found for capital injections; wide prior around 60 "
    "(assumption)",
    low=0.0,
    high=100.0,
    measure=11,
    prior=uniform(50.0, 70.0),
    setting=True,
)
_add(
    "evaluation.response",
    "float",
    0.0,
    "elasticity",
    "How strongly guarantors manage to their evaluation: each year a guarantor's risk appetite "
    "is multiplied by exp(response x (w_operating x shortfall_operating - w_risk x "
    "shortfall_risk) / 100); 0 = the evaluation does not bind",
    "measure 11 (财金〔2020〕31号 links the evaluation to capital, subsidies and executive "
    "pay); no "
    "evidence found on how strongly guarantors respond; wide prior",
    low=0.0,
    high=10.0,
    measure=11,
    lever=True,
    prior=uniform(0.0, 2.0),
)

# -------------------------------------------------------------- supervision
_add(
    "supervision.guidance",
    "float",
    0.0,
    "fraction",
    "Supervisory guidance (监管引导) of guarantors whose role is weak: each year a guarantor "
    "whose leverage is below supervision.leverage_floor raises its risk appetite by this "
    "fraction; 0 = no guidance",
    "measure 12; no evidence found on the effect of supervisory guidance; wide prior of 0-30% "
    "more appetite a year",
    low=0.0,
    high=2.0,
    measure=12,
    lever=True,
    prior=uniform(0.0, 0.3),
)
_add(
    "supervision.leverage_floor",
    "float",
    3.0,
    "ratio",
    "Leverage (放大倍数) below which supervisors judge a guarantor's role weak",
    "measure 12; no published floor found; Beijing 2.79x (2021), nationally about 2.3x (2019); "
    "the evaluation gives full marks at 5x (assumption)",
    low=0.0,
    high=100.0,
    measure=12,
    prior=uniform(2.0, 5.0),
)

# ------------------------------------------------------------- information
_add(
    "information.sharing",
    "float",
    0.0,
    "fraction",
    "Information sharing (涉企信息归集共享, 信易贷): 0 none, 1 full",
    "policy setting (measure 4): the degree of data sharing; the Shanghai 信易贷 platform links 38"
    " banks and over 2 million users (docs/evidence.md B.3)",
    low=0.0,
    high=1.0,
    measure=4,
    lever=True,
    prior=uniform(0.0, 1.0),
    setting=True,
)
_add(
    "information.uncertainty_aversion",
    "float",
    1.0,
    "ratio",
    "Lenders' aversion to uncertain estimates: decisions use PD x exp(aversion x noise)",
    "calibrated (docs/calibration.md)",
    low=0.0,
    high=10.0,
    prior=uniform(0.0, 3.0),
    calibrated=True,
)
_add(
    "information.noise_reduction",
    "float",
    0.35,
    "fraction",
    "Fall in screening noise at full information sharing",
    "measure 4; credit bureaus and information sharing raise access, more for opaque firms "
    "(Djankov, McLiesh & Shleifer 2007; Brown, Jappelli & Pagano 2009; Martinez Peria & Singh "
    "2014), no magnitude usable: with a PD dispersion of 0.8 the prior moves the estimate-truth"
    " correlation from 0.80 to 0.85-0.94 (docs/evidence.md B.3)",
    low=0.0,
    high=0.95,
    measure=4,
    prior=uniform(0.1, 0.6),
)
_add(
    "information.thin_file_noise",
    "float",
    2.0,
    "ratio",
    "Screening-noise multiplier for first-time borrowers without data sharing",
    "measure 4; alternative data help most for borrowers without a credit history (Gambacorta "
    "et al. 2019; Huang et al. 2020), no magnitude usable: wide prior (docs/evidence.md B.3)",
    low=1.0,
    high=10.0,
    measure=4,
    prior=uniform(1.2, 3.0),
)

# -------------------------------------------------------------- collateral
_add(
    "collateral.ip_pledge",
    "bool",
    False,
    "",
    "IP-pledge guarantees: IP counts towards the counter-guarantee",
    "measure 4 (policy switch; IP-pledge finance ¥88.5 bn nationally in 2018, docs/evidence.md "
    "B.9)",
    measure=4,
    lever=True,
    prior=SWITCH,
)
_add(
    "collateral.receivables",
    "bool",
    False,
    "",
    "Receivables financing: receivables count towards the counter-guarantee",
    "measure 4 (policy switch)",
    measure=4,
    lever=True,
    prior=SWITCH,
)

# ---------------------------------------------------------------- recovery
_add(
    "recovery.base_rate",
    "float",
    0.06,
    "fraction",
    "Recovery on a defaulted loan without collateral (追偿)",
    "calibrated to recoveries = 18% of a year's compensation (calibration.md)",
    low=0.0,
    high=1.0,
    prior=uniform(0.0, 0.4),
    calibrated=True,
)
_add(
    "recovery.hard_realisation",
    "float",
    0.35,
    "fraction",
    "Share of pledged hard-collateral value realised after default",
    "measure 7; no recovery rates of Chinese guarantors by collateral type found "
    "(docs/evidence.md B.9); wide prior",
    low=0.0,
    high=1.0,
    measure=7,
    prior=uniform(0.2, 0.6),
)
_add(
    "recovery.receivables_realisation",
    "float",
    0.3,
    "fraction",
    "Share of pledged receivables realised after default",
    "measure 7; no data found on receivables realised after default; wide prior",
    low=0.0,
    high=1.0,
    measure=7,
    prior=uniform(0.1, 0.5),
)
_add(
    "recovery.ip_realisation",
    "float",
    0.15,
    "fraction",
    "Share of pledged IP value realised after default (faster disposal raises it)",
    "measure 7; no data found on IP realised after default; wide prior",
    low=0.0,
    high=1.0,
    measure=7,
    lever=True,
    prior=uniform(0.05, 0.3),
)
_add(
    "recovery.lag_months",
    "int",
    12,
    "months",
    "Delay from default to recovery",
    "measure 7; no data found on recovery lags; wide prior",
    low=0,
    high=120,
    measure=7,
    prior=uniform(6.0, 36.0),
)
_add(
    "recovery.write_off",
    "bool",
    False,
    "",
    "Guarantors may write off (核销) unrecovered compensation under 财金〔2017〕90号; "
    "written-off losses become tax-deductible",
    "measure 7 (policy switch; 财金〔2017〕90号 write-off rules)",
    measure=7,
    lever=True,
    prior=SWITCH,
)
_add(
    "recovery.write_off_months",
    "int",
    24,
    "months",
    "Age of an unrecovered compensation at write-off",
    "measure 7; write-off age not found; wide prior (assumption)",
    low=1,
    high=240,
    measure=7,
    prior=uniform(12.0, 36.0),
)
_add(
    "recovery.tax_rate",
    "float",
    0.25,
    "fraction",
    "Income-tax rate of the write-off deduction",
    "PRC corporate income tax 25% (15% for high-tech enterprises)",
    low=0.0,
    high=1.0,
    measure=7,
    prior=uniform(0.15, 0.25),
    setting=True,
)

# ------------------------------------------------------------------- batch
_add(
    "batch.mode",
    "choice",
    "none",
    "",
    "Batch guarantees: 'bank_led' = 见贷即担 (guarantor accepts the bank's approval), "
    "'guarantor_led' = 见担即贷 (bank lends on the guarantor's approval)",
    "measure 8 (policy switch: 见贷即担 or 见担即贷)",
    choices=("none", "bank_led", "guarantor_led"),
    measure=8,
    lever=True,
    prior=SWITCH,
)
_add(
    "batch.pair_share",
    "float",
    1.0,
    "fraction",
    "Share of bank-guarantor pairs that run batch mode (when batch.mode is not 'none')",
    "measure 8; no data found on the share of batch business (docs/evidence.md B.8); wide prior",
    low=0.0,
    high=1.0,
    measure=8,
    prior=uniform(0.1, 0.6),
)
_add(
    "batch.quota",
    "float",
    5e8,
    "yuan per month",
    "Monthly batch quota per bank-guarantor pair; beyond it loans are screened as usual",
    "measure 8; no data found on batch quotas; wide log-uniform prior",
    low=0.0,
    high=1e12,
    measure=8,
    prior=loguniform(5e7, 1e9),
)

# ------------------------------------------------------------------- shock
_add(
    "shock.sectors",
    "sectors",
    [],
    "",
    "Sectors hit by the shock",
    "scenario condition (assumption)",
)
_add(
    "shock.start",
    "int",
    1,
    "month of horizon",
    "First month of the shock (1 = first month of the horizon)",
    A,
    low=1,
    high=600,
)
_add("shock.duration", "int", 12, "months", "Length of the shock", A, low=0, high=600)
_add(
    "shock.pd_multiplier",
    "float",
    1.0,
    "ratio",
    "PD multiplier in shocked sectors during the shock",
    "scenario condition (assumption)",
    low=0.0,
    high=50.0,
)
_add(
    "shock.systematic_z",
    "float",
    0.0,
    "sd",
    "Shift of the systematic factor during the shock, all sectors (negative = downturn)",
    A,
    low=-5.0,
    high=5.0,
)

# ------------------------------------------------------------------ relief
_add(
    "relief.sectors",
    "sectors",
    [],
    "",
    "Sectors receiving targeted relief",
    "measure 5 names transport, catering, accommodation and tourism (policy switch)",
    measure=5,
    prior=SWITCH,
)
_add(
    "relief.appetite_boost",
    "float",
    0.0,
    "fraction",
    "Increase of guarantor risk appetite for relief sectors (加大增信分险支持力度)",
    "measure 5 (加大增信分险支持力度); no evidence found on its size; wide prior",
    low=0.0,
    high=10.0,
    measure=5,
    lever=True,
    prior=uniform(0.0, 0.5),
)
_add(
    "relief.fee_cut",
    "float",
    0.0,
    "fraction p.a.",
    "Guarantee-fee cut for relief sectors",
    "measure 5; no evidence found on the size of the cut; wide prior up to 0.5 pp",
    low=0.0,
    high=0.1,
    measure=5,
    prior=uniform(0.0, 0.005),
)

# ---------------------------------------------------------------- adoption
MEASURE_LABELS = tuple(f"m{k:02d}" for k in range(1, 13))
_add(
    "adoption.delay",
    "floats",
    [6.0] * 12,
    "months",
    "Months of the horizon before each measure (m01-m12) starts to be adopted (the horizon "
    "starts in January 2022; the package was issued on 2022-06-09)",
    "京金融〔2022〕177号 issue date; implementation: assumption",
    length=12,
    labels=MEASURE_LABELS,
    low=0.0,
    high=600.0,
)
_add(
    "adoption.ramp",
    "floats",
    [12.0] * 12,
    "months",
    "Months from the start of each measure's adoption to full adoption (linear ramp)",
    "assumption",
    length=12,
    labels=MEASURE_LABELS,
    low=0.0,
    high=600.0,
)

REGISTRY: MappingProxyType = MappingProxyType({p.key: p for p in _P})

RISK_SHARE_KEYS: tuple[str, ...] = tuple(f"{p}.share" for p in _RS)


def parameters() -> dict[str, Parameter]:
    """Return every model parameter with its metadata.

    Returns
    -------
    dict of str to Parameter
        Ordered by section, keyed by dotted key (``"credit.pd"``).

    Examples
    --------
    >>> import sim
    >>> p = sim.parameters()["credit.pd"]
    >>> p.unit, p.default
    ('fraction p.a.', 0.03)
    """
    return dict(REGISTRY)


def registry_rows(keys=None) -> list[dict[str, str]]:
    """The registry as rows of text: key, default, unit, prior, measure, calibrated, source.

    Parameters
    ----------
    keys : iterable of str, optional
        The parameters to list, in that order (default: all, in registry order).
    """
    rows = []
    for key in REGISTRY if keys is None else keys:
        p = REGISTRY[key]
        rows.append(
            {
                "key": key,
                "default": _show_default(p.default),
                "unit": p.unit,
                "prior": "" if p.prior is None else str(p.prior),
                "measure": "" if p.measure is None else str(p.measure),
                "calibrated": "yes" if p.calibrated else "",
                "source": p.source,
            }
        )
    return rows


def _show_default(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_show_default(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def check_value(param: Parameter, value: Any) -> tuple[Any, str | None]:
    """Check and normalise a value for ``param``.

    Returns
    -------
    value, error
        The normalised value (ints widened to float for ``float`` parameters,
        lists copied) and ``None``, or the input and a description of what is
        allowed.
    """
    kind = param.kind
    if kind == "bool":
        return (value, None) if isinstance(value, bool) else (value, _expected(param))
    if kind == "choice":
        if isinstance(value, str) and value in param.choices:
            return value, None
        return value, _expected(param)
    if kind == "sectors":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return value, _expected(param)
        bad = [v for v in value if v not in SECTORS]
        if bad:
            return value, f"unknown sector {bad[0]!r}; {_expected(param)}"
        if len(set(value)) != len(value):
            return value, "sectors must not repeat"
        return list(value), None
    if kind == "floats":
        if not isinstance(value, list) or len(value) != param.length:
            return value, _expected(param)
        out = []
        for v in value:
            v, err = _check_number(param, v, "float")
            if err:
                return value, err
            out.append(v)
        if param.sums_to_one and not math.isclose(sum(out), 1.0, abs_tol=1e-9):
            return value, f"must sum to 1 (sum is {sum(out):.6g}); {_expected(param)}"
        return out, None
    return _check_number(param, value, kind)


def _expected(param: Parameter) -> str:
    """The "expected ..." part of an error message (built only when there is an error)."""
    return f"expected {param.allowed()}"


def _check_number(param, value, kind):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value, _expected(param)
    if kind == "int":
        if not isinstance(value, int):
            return value, _expected(param)
    else:
        value = float(value)
        if not math.isfinite(value):
            return value, f"not a finite number; {_expected(param)}"
    if (param.low is not None and value < param.low) or (
        param.high is not None and value > param.high
    ):
        return value, f"out of range; {_expected(param)}"
    return value, None
