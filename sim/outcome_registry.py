"""The outcome registry: every output column, described once.

Each outcome has a key (its column in ``timeseries.parquet`` and/or ``summary.parquet``),
a kind, a unit, an English and a Chinese label, a one-line description, and the way tables
and figures show it. The command line's tables (:func:`sim.interfaces.cli.format_value`), the
calibration record, the figures (:mod:`sim.interfaces.plots`), the dashboard's captions, the
outcome table of ``docs/ODD.md`` (:mod:`sim.interfaces.documentation`) and the units written
into the Parquet files (:func:`sim.outputs.write_parquet`) all read this registry, so an
outcome's unit and meaning are never retyped.

Kinds say how a column aggregates over months:

- ``flow``: an amount per month; the summary sums the months (volumes, losses, costs,
  counts of events and of firms);
- ``stock``: a value at the end of the month; the summary takes the last month (balances,
  equity, leverage, caps);
- ``ratio``: a ratio of sums of flows (or of stocks at one date): rates, shares, averages
  weighted by amount; never summed;
- ``index``: the month of the horizon.

Flows and stocks of firms, loans and applications are *weighted*: a simulated firm stands
for ``population.firms / run.n_smes`` real firms, so these counts are estimates of the
represented population, in general not whole numbers: they keep their fractions in memory
(ratios are computed from them) and are stored in the Parquet files rounded to whole firms,
loans or applications, as integer columns (:func:`whole_counts`). The true counts
(``integer``) are integers everywhere.

This module imports nothing from the package (the documentation generator uses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "KINDS",
    "TABLES",
    "DISPLAYS",
    "Display",
    "Outcome",
    "OUTCOMES",
    "MONTHLY_SERIES",
    "FLOW_SERIES",
    "SUMMARY_FIELDS",
    "outcome",
    "format_outcome",
    "axis_label",
    "column_metadata",
    "COUNT_UNITS",
    "whole_counts",
]

#: How an outcome aggregates over months (see the module docstring).
KINDS: tuple[str, ...] = ("flow", "stock", "ratio", "index")
#: The output tables an outcome can be a column of. ``summary`` includes
#: ``summary_by_year.parquet``, which has the same outcome columns.
TABLES: tuple[str, ...] = ("timeseries", "summary")


@dataclass(frozen=True)
class Display:
    """How tables and figures show the values of one display style.

    A value ``v`` is shown as ``v * multiply / divide`` (two exact steps, so that 100 x a
    fraction and 1e-8 x an amount are rounded the same way wherever they are printed).

    Attributes
    ----------
    multiply, divide : float
        Scale from the stored unit to the unit shown.
    spec : str
        Format specification of a value in a table.
    suffix : str
        Text after a value in a table (the unit shown; empty for plain numbers).
    diff_spec, diff_suffix : str
        The same for a signed difference between scenarios.
    figure_unit : str
        Unit in figure labels (ASCII: figure fonts lack CJK glyphs); empty: the outcome's
        own unit.
    diff_figure_unit : str
        Unit of a difference in figure labels; empty: as ``figure_unit``.
    """

    multiply: float
    divide: float
    spec: str
    suffix: str
    diff_spec: str
    diff_suffix: str
    figure_unit: str = ""
    diff_figure_unit: str = ""

    @property
    def factor(self) -> float:
        """The scale as one factor (for arrays drawn in figures)."""
        return self.multiply / self.divide

    def scaled(self, value):
        """``value`` (a number or an array) in the unit shown."""
        return value * self.multiply / self.divide


#: Display styles: percentages of fractions (differences in percentage points), money in
#: 亿元 (100 million yuan; differences without the unit), in million or billion yuan,
#: multiples (``x``), counts with thousands separators, other numbers to four digits.
DISPLAYS: MappingProxyType[str, Display] = MappingProxyType(
    {
        "percent": Display(100.0, 1.0, ".2f", "%", "+.2f", " pp", "%", "pp"),
        "yi_yuan": Display(1.0, 1e8, ",.1f", " 亿元", "+,.1f", "", "100 million yuan"),
        "million_yuan": Display(1.0, 1e6, ".2f", "M yuan", "+.2f", "", "million yuan"),
        "billion_yuan": Display(1.0, 1e9, ".1f", " bn yuan", "+.1f", "", "billion yuan"),
        "multiple": Display(1.0, 1.0, ".2f", "x", "+.4g", "", "x"),
        "count": Display(1.0, 1.0, ",.0f", "", "+.4g", ""),
        "number": Display(1.0, 1.0, ".4g", "", "+.4g", ""),
    }
)

#: Units of counts (of firms, loans, applications, ...): stored as integer columns.
COUNT_UNITS: frozenset[str] = frozenset(
    {"firms", "firm-years", "loans", "applications", "loan-months", "guarantors"}
)

#: The display style of each unit, where the entry does not name one.
_DISPLAY_OF_UNIT = {
    "yuan": "yi_yuan",
    "yuan p.a.": "yi_yuan",
    "fraction": "percent",
    "fraction p.a.": "percent",
    "ratio": "multiple",
    "firms": "count",
    "firm-years": "count",
    "loans": "count",
    "applications": "count",
    "loan-months": "count",
    "guarantors": "count",
}


@dataclass(frozen=True)
class Outcome:
    """Metadata of one outcome column.

    Attributes
    ----------
    key : str
        Column name in the output tables (and key of the model's monthly ``record``).
    kind : {"flow", "stock", "ratio", "index"}
        How the column aggregates over months (:data:`KINDS`).
    unit : str
        Unit of the stored value: "yuan", "yuan p.a." (an annual amount: a rate times an
        amount), "fraction", "fraction p.a." (annualised), "ratio" (a multiple), "firms",
        "firm-years", "loans", "loan-months", "applications", "guarantors", "months",
        "points", ...
    label : str
        Short English label (figure titles, axis labels, table headings).
    label_zh : str
        The Chinese term.
    description : str
        One-line definition; for an outcome in both tables, what the month's value and the
        summary's value are.
    tables : tuple of str
        The tables it is a column of (:data:`TABLES`).
    integer : bool
        A true count in every row (not weighted by the population weight): stored as an
        integer.
    display : str
        Display style, a key of :data:`DISPLAYS` (by default chosen from the unit).
    """

    key: str
    kind: str
    unit: str
    label: str
    label_zh: str
    description: str
    tables: tuple[str, ...]
    integer: bool = False
    display: str = ""

    @property
    def style(self) -> Display:
        """The :class:`Display` of this outcome."""
        return DISPLAYS[self.display or _DISPLAY_OF_UNIT.get(self.unit, "number")]

    def format(self, value: float, diff: bool = False) -> str:
        """The value as tables show it, with its unit; ``n/a`` for NaN.

        With ``diff``, a signed difference between scenarios: fractions in percentage
        points (``pp``), money scaled without the unit, anything else to four significant
        digits.

        Examples
        --------
        >>> OUTCOMES["default_rate"].format(0.01764), OUTCOMES["fiscal_cost"].format(5.04e9)
        ('1.76%', '50.4 亿元')
        >>> OUTCOMES["default_rate"].format(-0.0187, diff=True)
        '-1.87 pp'
        """
        if value != value:  # NaN
            return "n/a"
        d = self.style
        if diff:
            return f"{d.scaled(value):{d.diff_spec}}{d.diff_suffix}"
        return f"{d.scaled(value):{d.spec}}{d.suffix}"

    def figure_unit(self, diff: bool = False) -> str:
        """The unit in figure labels (``100 million yuan``, ``% p.a.``, ``pp``, ``x``,
        ``firms``); for a difference with ``diff``."""
        d = self.style
        unit = (d.diff_figure_unit or d.figure_unit) if diff else d.figure_unit
        if not unit:
            return self.unit
        if d is DISPLAYS["percent"] and self.unit.endswith(" p.a."):
            return unit + " p.a."
        if d is DISPLAYS["yi_yuan"] and self.unit == "yuan p.a.":
            return unit + " p.a."
        return unit


_O: list[Outcome] = []
S, T, B = ("summary",), ("timeseries",), ("timeseries", "summary")


def _add(key, kind, unit, label, label_zh, description, tables, **kw) -> None:
    _O.append(Outcome(key, kind, unit, label, label_zh, description, tables, **kw))


# ============================================================ summary outcomes
# ---- volumes and borrowers
_add(
    "lending_volume",
    "flow",
    "yuan",
    "Total lending",
    "新增贷款",
    "New lending over the horizon, guaranteed and direct",
    S,
)
_add(
    "guaranteed_volume",
    "flow",
    "yuan",
    "Guaranteed lending",
    "新增担保贷款",
    "New guaranteed loans over the horizon",
    S,
)
_add(
    "direct_volume",
    "flow",
    "yuan",
    "Direct lending",
    "新增直贷(无担保)",
    "New direct (unguaranteed) loans over the horizon",
    S,
)
_add(
    "borrowers",
    "flow",
    "firms",
    "Borrowers",
    "获贷企业",
    "Distinct firms that got a new loan in the horizon (by year: firms that got a loan in "
    "the year), weighted",
    S,
)
_add(
    "first_time_borrowers",
    "flow",
    "firms",
    "First-time borrowers",
    "首贷户",
    "New loans to first-time firms, weighted; a first-time firm holds only one such loan, so "
    "these are distinct firms",
    S,
)
_add(
    "additional_lending",
    "flow",
    "yuan",
    "Additional lending",
    "增量贷款",
    "Booked guaranteed loans to firms that failed the bank's own (unguaranteed) test: lending "
    "the guarantee added",
    S,
)
_add(
    "incremental_share",
    "ratio",
    "fraction",
    "Incremental share",
    "增量贷款占比",
    "Additional lending / guaranteed volume: the share of guaranteed lending the bank would "
    "not have made alone",
    S,
)
_add(
    "exposed_sector_volume",
    "flow",
    "yuan",
    "Lending to exposed sectors",
    "受冲击行业新增贷款",
    "New lending (both channels) to the four sectors of measure 5 (transport, catering, "
    "accommodation, tourism)",
    S,
)
_add(
    "guaranteed_volume_per_year",
    "ratio",
    "yuan per year",
    "Guaranteed lending per year",
    "年均新增担保贷款",
    "Guaranteed volume x 12 / months of the horizon",
    S,
    display="billion_yuan",
)
_add(
    "small_micro_share",
    "ratio",
    "fraction",
    "Small and micro share",
    "小微企业占比",
    "Share of new guarantee volume to micro and small firms",
    S,
)
_add(
    "small_loan_share",
    "ratio",
    "fraction",
    "Small-loan share",
    "单户500万元以下占比",
    "Share of new guarantee volume in loans of at most 5 million yuan",
    S,
)
_add(
    "guaranteed_share_outstanding",
    "stock",
    "fraction",
    "Guaranteed share of loans outstanding",
    "担保贷款余额占比",
    "Guaranteed / all loans outstanding at the end of the horizon",
    S,
)
# ---- rationing as firm surveys measure it
_add(
    "rationed_share",
    "ratio",
    "fraction",
    "Rationed share of credit",
    "信贷配给比例",
    "Share of requested credit refused, as a firm survey measures it: 1 - (requests of the "
    "firm-years with an offer) / (requests of the applicant firm-years)",
    S,
)
_add(
    "refused_firm_share",
    "ratio",
    "fraction",
    "Refused firm share",
    "被拒企业比例",
    "Share of the firms that applied in a year that had no offer in that year (wholly "
    "refused), firm-years over the horizon",
    S,
)
for _size, _zh in (("micro", "微型"), ("small", "小型"), ("medium", "中型")):
    _add(
        f"refused_firm_share_{_size}",
        "ratio",
        "fraction",
        f"Refused firm share, {_size}",
        f"{_zh}企业被拒比例",
        f"Share of the {_size} firms that applied in a year that had no offer in that year",
        S,
    )
_add(
    "discouraged_share",
    "ratio",
    "fraction",
    "Discouraged share",
    "气馁企业比例",
    "Discouraged firm-years / (applicant + discouraged firm-years): the share of firms "
    "needing credit that stayed away expecting refusal",
    S,
)
_add(
    "application_rejection_share",
    "ratio",
    "fraction",
    "Rejected share of applied amount",
    "申请金额被拒比例",
    "Rejected amount / applied amount, counting every application (re-applications included)",
    S,
)
_add(
    "refused_firms",
    "flow",
    "firm-years",
    "Refused firms",
    "被拒企业",
    "Applicant firm-years without an offer, weighted",
    S,
)
_add(
    "demand_firms",
    "flow",
    "firm-years",
    "Firms needing credit",
    "有融资需求的企业",
    "Applicant and discouraged firm-years, weighted",
    S,
)
# ---- defaults, compensation and losses
_add(
    "default_rate",
    "ratio",
    "fraction p.a.",
    "Default rate",
    "违约率",
    "Annual default rate of all loans, from defaults per loan-month at risk: 1 - (1 - D / LM)^12",
    S,
)
_add(
    "default_rate_guaranteed",
    "ratio",
    "fraction p.a.",
    "Default rate, guaranteed book",
    "担保贷款违约率",
    "Annual default rate of guaranteed loans",
    S,
)
_add(
    "default_rate_direct",
    "ratio",
    "fraction p.a.",
    "Default rate, direct book",
    "直贷违约率",
    "Annual default rate of direct loans",
    S,
)
_add(
    "default_rate_exposed",
    "ratio",
    "fraction p.a.",
    "Default rate, exposed sectors",
    "受冲击行业违约率",
    "Annual default rate of loans to the four sectors of measure 5",
    S,
)
_add(
    "compensation_paid",
    "flow",
    "yuan",
    "Compensation paid",
    "代偿额",
    "Compensation guarantors paid on defaulted guaranteed loans over the horizon",
    S,
)
_add(
    "net_credit_loss",
    "flow",
    "yuan",
    "Net credit loss",
    "净信用损失",
    "Defaulted exposure - recoveries, all parties",
    S,
)
_add(
    "net_loss_rate",
    "ratio",
    "fraction",
    "Net loss rate",
    "净损失率",
    "Net credit loss / lending volume",
    S,
)
_add(
    "guarantor_loss_rate",
    "ratio",
    "fraction",
    "Guarantors' loss rate",
    "担保机构损失率",
    "Guarantors' credit loss (loss_guarantor) / new guarantee volume",
    S,
)
_add(
    "guarantor_net_loss",
    "flow",
    "yuan",
    "Guarantors' loss after tax relief",
    "担保机构税后净损失",
    "Guarantors' credit loss - write-off tax relief",
    S,
)
_add(
    "recovery_ratio",
    "ratio",
    "fraction",
    "Recovery ratio",
    "追偿回收率",
    "Recoveries received by the guarantee side (guarantors, re-guarantor, National Fund, "
    "compensation funds) / compensation paid",
    S,
)
# ---- prices, approvals, delays
_add(
    "avg_loan_rate",
    "ratio",
    "fraction p.a.",
    "Average loan rate",
    "平均贷款利率",
    "Amount-weighted interest rate of all new loans",
    S,
)
_add(
    "all_in_cost_guaranteed",
    "ratio",
    "fraction p.a.",
    "All-in cost, guaranteed loans",
    "担保贷款综合融资成本",
    "Amount-weighted interest rate + guarantee fee of new guaranteed loans",
    S,
)
_add(
    "guarantee_approval_rate",
    "ratio",
    "fraction",
    "Guarantee approval rate",
    "担保通过率",
    "Guarantee approvals / referrals",
    S,
)
_add(
    "first_time_approval_rate",
    "ratio",
    "fraction",
    "Approval rate, first-time applicants",
    "首贷户担保通过率",
    "Guarantee approvals / referrals, for first-time applicants",
    S,
)
_add(
    "bank_participation",
    "ratio",
    "fraction",
    "Bank participation",
    "银行参与率",
    "Referrals the bank would lend to with the guarantee / referrals",
    S,
)
_add(
    "avg_guarantee_size",
    "ratio",
    "yuan",
    "Average guarantee size",
    "户均担保额",
    "New guarantee volume / number of new guaranteed loans",
    S,
    display="million_yuan",
)
_add(
    "avg_approval_delay",
    "ratio",
    "months",
    "Average approval delay",
    "平均审批时滞",
    "Amount-weighted approval delay of new guarantees",
    S,
)
# ---- fiscal cost
_add(
    "fiscal_cost_per_additional_yuan",
    "ratio",
    "yuan per yuan",
    "Fiscal cost per additional yuan",
    "每元增量贷款的财政成本",
    "Fiscal cost / additional lending",
    S,
)
# ---- stocks at the end of the horizon
_add(
    "guarantor_equity_end",
    "stock",
    "yuan",
    "Guarantors' equity",
    "担保机构净资产",
    "Guarantors' net assets at the end of the horizon",
    S,
)
_add(
    "guarantee_outstanding_end",
    "stock",
    "yuan",
    "Guaranteed loans outstanding",
    "担保贷款余额",
    "Guaranteed loans outstanding at the end of the horizon",
    S,
)
_add(
    "capacity_headroom_end",
    "stock",
    "yuan",
    "Guarantee capacity headroom",
    "剩余担保能力",
    "Guarantee capacity headroom at the end of the horizon (capacity_headroom)",
    S,
)
_add(
    "reguarantor_equity_end",
    "stock",
    "yuan",
    "Re-guarantor's equity",
    "再担保机构净资产",
    "The re-guarantor's net assets at the end of the horizon",
    S,
)
_add(
    "national_fund_equity_end",
    "stock",
    "yuan",
    "National Fund's equity",
    "国家融资担保基金净资产",
    "The National Fund's net assets at the end of the horizon",
    S,
)
_add(
    "net_leverage",
    "stock",
    "ratio",
    "Net leverage",
    "净放大倍数",
    "Guarantee liability net of cessions / guarantors' net assets, at the end of the horizon",
    S,
)
_add(
    "national_fund_covered_share",
    "ratio",
    "fraction",
    "National Fund coverage",
    "国家融资担保基金分险覆盖比例",
    "Share of new guarantee volume covered by the National Fund",
    S,
)

# ============================================== in the monthly series and the summary
_add(
    "applications",
    "flow",
    "applications",
    "Applications",
    "贷款申请",
    "Loan applications (re-applications included), weighted: the month's; in the summary, "
    "the horizon's",
    B,
)
_add(
    "applicant_firms",
    "flow",
    "firm-years",
    "Applicant firms",
    "申请企业",
    "Firms that applied, each once per year of the horizon (firm-years, as a firm survey "
    "counts them), weighted: counted in the month of their first application of the year",
    B,
)
_add(
    "discouraged_firms",
    "flow",
    "firm-years",
    "Discouraged firms",
    "气馁企业",
    "Firms that needed credit but stayed away expecting refusal, once per year unless they "
    "applied in it (firm-years), weighted",
    B,
)
_add(
    "avg_guarantee_fee",
    "ratio",
    "fraction p.a.",
    "Average guarantee fee",
    "平均担保费率",
    "Amount-weighted fee of new guarantees (after subsidy and relief cuts): the month's "
    "(NaN without new guarantees); in the summary, the horizon's",
    B,
)
_add(
    "compensation_rate",
    "ratio",
    "fraction",
    "Compensation rate",
    "担保代偿率",
    "Compensation paid / guarantee liability released, the Chinese statistical definition: "
    "the month's (NaN when nothing is released); in the summary, the horizon's sums",
    B,
)
_add(
    "guarantee_released",
    "flow",
    "yuan",
    "Guarantee liability released",
    "解除担保责任额",
    "Guarantee liability released: compensation of defaulted guaranteed loans plus the "
    "guarantee side's share of matured ones",
    B,
)
_add(
    "recoveries",
    "flow",
    "yuan",
    "Recoveries",
    "追偿回收",
    "Recoveries received by all parties, falling due in the month (summary: horizon)",
    B,
)
_add(
    "guarantee_side_recoveries",
    "flow",
    "yuan",
    "Recoveries of the guarantee side",
    "担保方追偿回收",
    "Recoveries received by the guarantors, the re-guarantor, the National Fund and the "
    "compensation funds",
    B,
)
for _party, _label, _zh in (
    ("bank", "Banks' credit loss", "银行"),
    ("guarantor", "Guarantors' credit loss", "担保机构"),
    ("reguarantor", "Re-guarantor's credit loss", "再担保机构"),
    ("national_fund", "National Fund's credit loss", "国家融资担保基金"),
    ("comp_fund", "Compensation funds' credit loss", "风险补偿资金"),
):
    _add(
        f"loss_{_party}",
        "flow",
        "yuan",
        _label,
        f"{_zh}信用损失",
        "Credit losses net of recoveries received (docs/ODD.md §7.19), the month's; in the "
        "summary, the horizon's",
        B,
    )
_add(
    "fiscal_cost",
    "flow",
    "yuan",
    "Fiscal cost",
    "财政成本",
    "Fee subsidies + capital injections + compensation-fund payouts + write-off tax relief "
    "+ the National Fund's net loss",
    B,
)
_add(
    "fee_subsidies",
    "flow",
    "yuan",
    "Fee subsidies",
    "担保费补贴",
    "Government subsidies of guarantee fees, for the loans' whole term, paid at booking",
    B,
)
_add(
    "comp_fund_payouts",
    "flow",
    "yuan",
    "Compensation-fund payouts",
    "风险补偿资金支出",
    "Reimbursements the compensation funds paid guarantors (gross of later recoveries)",
    B,
)
_add(
    "capital_injections",
    "flow",
    "yuan",
    "Capital injections",
    "财政注资",
    "Government capital injected into guarantors after the yearly evaluation",
    B,
)
_add(
    "write_off_tax_relief",
    "flow",
    "yuan",
    "Write-off tax relief",
    "核销税收减免",
    "Tax relief on written-off guaranteed loans",
    B,
)
_add(
    "national_fund_net_loss",
    "flow",
    "yuan",
    "National Fund's net loss",
    "国家融资担保基金净损失",
    "The National Fund's reimbursements - fees received - recoveries received",
    B,
)
_add(
    "screening_cost",
    "flow",
    "yuan",
    "Screening cost",
    "审查成本",
    "Banks' and guarantors' screening costs",
    B,
)
_add(
    "leverage",
    "stock",
    "ratio",
    "Leverage",
    "放大倍数",
    "Guarantors' gross guarantee liability / net assets at the month's end (inf if equity "
    "<= 0); in the summary, at the end of the horizon",
    B,
)
_add(
    "leverage_cap",
    "stock",
    "ratio",
    "Leverage cap",
    "放大倍数上限",
    "Mean of the guarantors' applicable leverage caps at the month's end",
    B,
)
_add(
    "insolvent_guarantors",
    "stock",
    "guarantors",
    "Insolvent guarantors",
    "资不抵债的担保机构",
    "Guarantors with net assets <= 0 at the month's end (not weighted)",
    B,
    integer=True,
)
_add(
    "mean_evaluation_score",
    "stock",
    "points",
    "Mean evaluation score",
    "绩效评价平均得分",
    "Mean of the guarantors' latest performance-evaluation scores (of 100; NaN before the "
    "first evaluation)",
    B,
)

# ====================================================== monthly series only
_add(
    "month",
    "index",
    "month of horizon",
    "Month",
    "月份",
    "Month of the reported horizon, 1, 2, ... (the burn-in is not reported)",
    T,
    integer=True,
)
_add(
    "z",
    "stock",
    "sd",
    "Systematic factor",
    "系统性风险因子",
    "The year's systematic credit factor plus any shock shift (standard normal units; "
    "higher means more defaults)",
    T,
)
# ---- demand and screening
_add(
    "applied_amount",
    "flow",
    "yuan",
    "Amount applied for",
    "申请金额",
    "Amount requested by the month's applications",
    T,
)
_add(
    "applications_first_time",
    "flow",
    "applications",
    "First-time applications",
    "首贷申请",
    "Applications of firms that never had a loan",
    T,
)
_add(
    "bank_screenings",
    "flow",
    "applications",
    "Bank screenings",
    "银行审查",
    "Applications the banks screened (all but those a guarantor approved for them in "
    "guarantor-led batch mode, 见担即贷)",
    T,
)
_add(
    "guarantor_screenings",
    "flow",
    "applications",
    "Guarantor screenings",
    "担保机构审查",
    "Referrals the guarantors screened",
    T,
)
_add(
    "referrals",
    "flow",
    "applications",
    "Referrals",
    "推荐担保",
    "Applications routed to a guarantor",
    T,
)
_add(
    "referrals_bank_ok",
    "flow",
    "applications",
    "Referrals the bank accepts",
    "银行同意放贷的推荐",
    "Referrals the bank would lend to with the guarantee",
    T,
)
_add(
    "guarantee_approvals",
    "flow",
    "applications",
    "Guarantee approvals",
    "担保批准",
    "Referrals a guarantor approved",
    T,
)
_add(
    "referrals_first_time",
    "flow",
    "applications",
    "First-time referrals",
    "首贷户推荐",
    "Referrals of first-time applicants",
    T,
)
_add(
    "approvals_first_time",
    "flow",
    "applications",
    "First-time approvals",
    "首贷户担保批准",
    "Guarantee approvals of first-time applicants",
    T,
)
_add(
    "rejected_amount",
    "flow",
    "yuan",
    "Amount rejected",
    "被拒申请金额",
    "Amount of the applications rejected by the bank, by a guarantor or for lack of "
    "guarantee capacity",
    T,
)
_add(
    "capacity_rejected_amount",
    "flow",
    "yuan",
    "Amount rejected for capacity",
    "因担保能力不足被拒金额",
    "Amount of approved guarantees refused because the guarantor's leverage cap binds",
    T,
)
_FIRM_YEARS = {
    "applicant": ("Applicant", "申请", "first applied in the year"),
    "offered": ("Offered", "获授信", "first received an offer in the year"),
    "discouraged": ("Discouraged", "气馁", "stayed away discouraged (unless they applied)"),
}
_SIZES = {"micro": "微型", "small": "小型", "medium": "中型"}
for _what, (_label, _zh, _when) in _FIRM_YEARS.items():
    if _what == "offered":  # applicant_firms and discouraged_firms are in both tables: above
        _add(
            "offered_firms",
            "flow",
            "firm-years",
            "Offered firms",
            "获授信企业",
            f"Firms that {_when} (firm-years), counted in that month, weighted",
            T,
        )
    for _size, _size_zh in _SIZES.items():
        _add(
            f"{_what}_firms_{_size}",
            "flow",
            "firm-years",
            f"{_label} firms, {_size}",
            f"{_zh}企业({_size_zh})",
            f"{_size.capitalize()} firms that {_when} (firm-years), counted in that month, "
            "weighted",
            T,
        )
    _add(
        f"{_what}_request",
        "flow",
        "yuan",
        f"{_label} firms' requests",
        f"{_zh}企业融资需求",
        f"Credit requested by the firms that {_when}, counted in that month",
        T,
    )
# ---- new lending
_add(
    "new_loans",
    "flow",
    "loans",
    "New loans",
    "新增贷款笔数",
    "New loans booked, both channels (a firm holds one loan at a time, so also firms)",
    T,
)
_add(
    "new_guaranteed_loans",
    "flow",
    "loans",
    "New guaranteed loans",
    "新增担保贷款笔数",
    "New guaranteed loans booked",
    T,
)
_add(
    "new_direct",
    "flow",
    "yuan",
    "New direct lending",
    "新增直贷",
    "Amount of new direct (unguaranteed) loans",
    T,
)
_add(
    "new_guaranteed",
    "flow",
    "yuan",
    "New guaranteed lending",
    "新增担保贷款",
    "Amount of new guaranteed loans",
    T,
)
_add(
    "new_first_time",
    "flow",
    "loans",
    "New loans to first-time firms",
    "首贷户新增贷款笔数",
    "New loans to firms that never had one",
    T,
)
_add(
    "new_additional",
    "flow",
    "yuan",
    "New additional lending",
    "新增增量贷款",
    "Amount of new guaranteed loans to firms that failed the bank's unguaranteed test",
    T,
)
_add(
    "new_guaranteed_small_micro",
    "flow",
    "yuan",
    "New guaranteed lending, small and micro",
    "小微企业新增担保贷款",
    "Amount of new guaranteed loans to micro and small firms",
    T,
)
_add(
    "new_guaranteed_le_5m",
    "flow",
    "yuan",
    "New guaranteed lending, loans <= 5M",
    "单户500万元以下新增担保贷款",
    "Amount of new guaranteed loans of at most 5 million yuan",
    T,
)
_add(
    "new_guaranteed_fee_amount",
    "flow",
    "yuan p.a.",
    "Fee x amount, new guarantees",
    "新增担保费(年化)",
    "Sum of fee rate x amount of new guarantees (numerator of avg_guarantee_fee)",
    T,
)
_add(
    "new_guaranteed_all_in_amount",
    "flow",
    "yuan p.a.",
    "All-in cost x amount, new guarantees",
    "新增担保贷款综合成本(年化)",
    "Sum of (interest rate + fee) x amount of new guaranteed loans (numerator of "
    "all_in_cost_guaranteed)",
    T,
)
_add(
    "new_rate_amount",
    "flow",
    "yuan p.a.",
    "Interest x amount, new loans",
    "新增贷款利息(年化)",
    "Sum of interest rate x amount of all new loans (numerator of avg_loan_rate)",
    T,
)
_add(
    "new_guaranteed_delay_amount",
    "flow",
    "yuan-months",
    "Delay x amount, new guarantees",
    "新增担保审批时滞加权额",
    "Sum of approval delay x amount of new guarantees (numerator of avg_approval_delay)",
    T,
)
_add(
    "new_exposed",
    "flow",
    "yuan",
    "New lending to exposed sectors",
    "受冲击行业新增贷款",
    "Amount of new loans (both channels) to the four sectors of measure 5",
    T,
)
_add(
    "guarantees_ceded",
    "flow",
    "yuan",
    "New guarantees re-guaranteed",
    "再担保分险的新增担保",
    "Amount of new guaranteed loans whose guarantee the re-guarantor shares",
    T,
)
_add(
    "guarantees_nf_covered",
    "flow",
    "yuan",
    "New guarantees covered by the National Fund",
    "国家融资担保基金分险的新增担保",
    "Amount of new guaranteed loans the National Fund shares",
    T,
)
# ---- defaults and losses
for _book, _what, _zh in (
    ("direct", "direct loans", "直贷"),
    ("guaranteed", "guaranteed loans", "担保贷款"),
    ("exposed", "loans to the four sectors of measure 5", "受冲击行业贷款"),
):
    _add(
        f"loan_months_{_book}",
        "flow",
        "loan-months",
        f"Loans at risk, {_book}",
        f"{_zh}在贷笔数",
        f"Active {_what} at the start of the month's default stage (the month's new loans "
        "and those maturing in it included), weighted: the denominator of the default rates",
        T,
    )
    _add(
        f"defaults_{_book}",
        "flow",
        "loans",
        f"Defaults, {_book}",
        f"{_zh}违约笔数",
        f"Defaults of {_what}, weighted",
        T,
    )
_add(
    "defaulted_exposure",
    "flow",
    "yuan",
    "Defaulted exposure",
    "违约敞口",
    "Outstanding amount of the loans that defaulted in the month",
    T,
)
_add(
    "compensation",
    "flow",
    "yuan",
    "Compensation",
    "代偿",
    "Compensation guarantors paid banks on defaulted guaranteed loans",
    T,
)
_add(
    "repaid",
    "flow",
    "yuan",
    "Repaid principal",
    "到期还款",
    "Principal of the loans maturing in the month, repaid",
    T,
)
# ---- stocks
_add(
    "outstanding_direct",
    "stock",
    "yuan",
    "Direct loans outstanding",
    "直贷余额",
    "Direct loans outstanding at the month's end",
    T,
)
_add(
    "outstanding_guaranteed",
    "stock",
    "yuan",
    "Guaranteed loans outstanding",
    "担保贷款余额",
    "Guaranteed loans outstanding at the month's end",
    T,
)
_add(
    "guarantee_liability",
    "stock",
    "yuan",
    "Guarantee liability",
    "在保责任余额",
    "Guarantors' gross guarantee liability at the month's end",
    T,
)
_add(
    "guarantee_liability_net",
    "stock",
    "yuan",
    "Net guarantee liability",
    "净在保责任余额",
    "Guarantors' guarantee liability net of cessions (re-guarantee, National Fund) at the "
    "month's end",
    T,
)
_add(
    "guarantor_equity",
    "stock",
    "yuan",
    "Guarantors' equity",
    "担保机构净资产",
    "Guarantors' net assets at the month's end",
    T,
)
_add(
    "capacity_headroom",
    "stock",
    "yuan",
    "Guarantee capacity headroom",
    "剩余担保能力",
    "Sum over guarantors of max(0, leverage cap x equity - net liability) at the month's end",
    T,
)
_add(
    "reguarantor_equity",
    "stock",
    "yuan",
    "Re-guarantor's equity",
    "再担保机构净资产",
    "The re-guarantor's net assets at the month's end",
    T,
)
_add(
    "national_fund_equity",
    "stock",
    "yuan",
    "National Fund's equity",
    "国家融资担保基金净资产",
    "The National Fund's net assets at the month's end",
    T,
)
_add(
    "bank_equity",
    "stock",
    "yuan",
    "Banks' equity",
    "银行权益",
    "Banks' balance in the model's ledger at the month's end",
    T,
)
_add(
    "national_fund_sharing",
    "stock",
    "flag",
    "National Fund sharing",
    "国家融资担保基金分险中",
    "1 while the National Fund shares new guarantees' risk, 0 once it stopped above its "
    "compensation-rate cap",
    T,
    integer=True,
)

del _what, _label, _zh, _when, _size, _size_zh, _party, _book, _SIZES, _FIRM_YEARS

#: The outcome registry, keyed by column name, summary outcomes first.
OUTCOMES: MappingProxyType[str, Outcome] = MappingProxyType({o.key: o for o in _O})
if len(OUTCOMES) != len(_O):  # pragma: no cover - a registry bug, caught at import
    raise RuntimeError("duplicate outcome keys in the registry")


#: Keys of the monthly record (the columns of ``timeseries.parquet``).
MONTHLY_SERIES: tuple[str, ...] = (
    "month",
    "z",
    # demand and screening
    "applications",
    "applied_amount",
    "applications_first_time",
    "bank_screenings",
    "guarantor_screenings",
    "referrals",
    "referrals_bank_ok",
    "guarantee_approvals",
    "referrals_first_time",
    "approvals_first_time",
    "rejected_amount",
    "capacity_rejected_amount",
    # firm-years, as a firm survey counts them (each firm once per year; see
    # GuaranteeMarket.survey_year): applicants, those with an offer, and firms that needed
    # credit but stayed away discouraged, by size class, with their requests
    *(
        f"{what}_{part}"
        for what in ("applicant", "offered", "discouraged")
        for part in ("firms", "firms_micro", "firms_small", "firms_medium", "request")
    ),
    # new lending
    "new_loans",
    "new_guaranteed_loans",
    "new_direct",
    "new_guaranteed",
    "new_first_time",
    "new_additional",
    "new_guaranteed_small_micro",
    "new_guaranteed_le_5m",
    "new_guaranteed_fee_amount",
    "new_guaranteed_all_in_amount",
    "new_rate_amount",
    "new_guaranteed_delay_amount",
    "new_exposed",
    "guarantees_ceded",
    "guarantees_nf_covered",
    "avg_guarantee_fee",
    # defaults and losses
    "loan_months_direct",
    "loan_months_guaranteed",
    "loan_months_exposed",
    "defaults_direct",
    "defaults_guaranteed",
    "defaults_exposed",
    "defaulted_exposure",
    "compensation",
    "guarantee_released",
    "compensation_rate",
    "repaid",
    "recoveries",
    "loss_bank",
    "loss_guarantor",
    "loss_reguarantor",
    "loss_national_fund",
    "loss_comp_fund",
    "guarantee_side_recoveries",
    # fiscal
    "fee_subsidies",
    "comp_fund_payouts",
    "capital_injections",
    "write_off_tax_relief",
    "national_fund_net_loss",
    "fiscal_cost",
    "screening_cost",
    # stocks
    "outstanding_direct",
    "outstanding_guaranteed",
    "guarantee_liability",
    "guarantee_liability_net",
    "guarantor_equity",
    "leverage",
    "leverage_cap",
    "capacity_headroom",
    "insolvent_guarantors",
    "reguarantor_equity",
    "national_fund_equity",
    "bank_equity",
    "national_fund_sharing",
    "mean_evaluation_score",
)

#: The monthly series that are flows (kind ``flow`` in the outcome registry): the ones
#: summed over months (``GuaranteeMarket.totals``, the yearly outcomes). Stocks, ratios and
#: the month are never summed.
FLOW_SERIES: tuple[str, ...] = tuple(k for k in MONTHLY_SERIES if OUTCOMES[k].kind == "flow")

#: Scalar outcomes of :func:`summarize`, in order (the ``summary.parquet`` columns
#: after the identifiers).
SUMMARY_FIELDS: tuple[str, ...] = (
    "lending_volume",
    "default_rate",
    "guaranteed_volume",
    "direct_volume",
    "borrowers",
    "first_time_borrowers",
    "rationed_share",
    "default_rate_guaranteed",
    "default_rate_direct",
    "compensation_rate",
    "loss_bank",
    "loss_guarantor",
    "loss_reguarantor",
    "loss_national_fund",
    "loss_comp_fund",
    "recoveries",
    "avg_guarantee_fee",
    "leverage",
    "small_micro_share",
    "small_loan_share",
    "fiscal_cost",
    "additional_lending",
    "fiscal_cost_per_additional_yuan",
    "guarantor_equity_end",
    "insolvent_guarantors",
    # further outcomes
    "net_credit_loss",
    "applications",
    "avg_loan_rate",
    "all_in_cost_guaranteed",
    "guarantee_approval_rate",
    "first_time_approval_rate",
    "bank_participation",
    "avg_guarantee_size",
    "avg_approval_delay",
    "screening_cost",
    "fee_subsidies",
    "comp_fund_payouts",
    "capital_injections",
    "write_off_tax_relief",
    "national_fund_net_loss",
    "guarantee_outstanding_end",
    "capacity_headroom_end",
    "leverage_cap",
    "reguarantor_equity_end",
    "national_fund_equity_end",
    "national_fund_covered_share",
    "exposed_sector_volume",
    "default_rate_exposed",
    "guarantor_loss_rate",
    "net_loss_rate",
    "guarantor_net_loss",
    "net_leverage",
    "mean_evaluation_score",
    "recovery_ratio",
    "guaranteed_volume_per_year",
    "compensation_paid",
    "guarantee_released",
    "guarantee_side_recoveries",
    # rationing as firm surveys measure it, and substitution
    "refused_firm_share",
    "refused_firm_share_micro",
    "refused_firm_share_small",
    "refused_firm_share_medium",
    "discouraged_share",
    "application_rejection_share",
    "incremental_share",
    "guaranteed_share_outstanding",
    "applicant_firms",
    "refused_firms",
    "demand_firms",
    "discouraged_firms",
)


def outcome(key: str) -> Outcome:
    """The registry entry of column ``key``; :class:`KeyError` naming it if unknown."""
    try:
        return OUTCOMES[key]
    except KeyError:
        raise KeyError(f"{key!r} is not an outcome of sim.outcome_registry.OUTCOMES") from None


def format_outcome(key: str, value: float, diff: bool = False) -> str:
    """``value`` of outcome ``key`` as tables show it (:meth:`Outcome.format`)."""
    return outcome(key).format(value, diff=diff)


def axis_label(key: str, diff: bool = False, label: str | None = None) -> str:
    """A figure axis label: the outcome's label (or ``label``) and its figure unit.

    Examples
    --------
    >>> axis_label("guaranteed_volume")
    'Guaranteed lending (100 million yuan)'
    >>> axis_label("default_rate_guaranteed", diff=True)
    'Default rate, guaranteed book (pp p.a.)'
    """
    o = outcome(key)
    return f"{o.label if label is None else label} ({o.figure_unit(diff)})"


def column_metadata(columns) -> dict[str, dict[str, str]]:
    """Unit, labels and kind of each of ``columns`` that is an outcome.

    Returns
    -------
    dict
        ``{"units": {column: unit}, "labels": {column: label}, "labels_zh": {...},
        "kinds": {...}}`` over the columns found in :data:`OUTCOMES`, in column order.
    """
    known = [OUTCOMES[c] for c in columns if c in OUTCOMES]
    return {
        "units": {o.key: o.unit for o in known},
        "labels": {o.key: o.label for o in known},
        "labels_zh": {o.key: o.label_zh for o in known},
        "kinds": {o.key: o.kind for o in known},
    }


def whole_counts(df):
    """``df`` with its count outcomes (:data:`COUNT_UNITS`) as integer columns.

    Weighted counts are estimates of a represented population (a simulated firm stands
    for ``population.firms / run.n_smes`` firms); stored, they are rounded to whole
    firms, loans or applications (``numpy.rint``) and typed ``int64``. A column with a
    missing value keeps its floats. ``df`` itself is not changed.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
    """
    import numpy as np

    counts = [
        c
        for c in df.columns
        if c in OUTCOMES
        and OUTCOMES[c].unit in COUNT_UNITS
        and df[c].dtype.kind == "f"
        and np.isfinite(df[c].to_numpy()).all()
    ]
    if not counts:
        return df
    out = df.copy()
    for c in counts:
        out[c] = np.rint(out[c].to_numpy()).astype(np.int64)
    return out
