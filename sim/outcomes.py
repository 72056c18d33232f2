"""Outcomes a researcher reads: monthly series and scalar summaries.

Monthly series are the model's ``record`` of each month, collected by Mesa's
:class:`~mesa.DataCollector` over the reported horizon. Flows are in yuan (or
firms) already scaled to the represented population; stocks are month-end
values. :func:`summarize` turns the horizon into the scalar outcomes of the
output contract (``architecture.md``); rates are fractions. The unit, label and kind
of every column are in :data:`sim.outcome_registry.OUTCOMES`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .applications import GUARANTEE_ROUTE
from .credit_risk import annual_rate
from .ledger import Ledger
from .outcome_registry import FLOW_SERIES, MONTHLY_SERIES, OUTCOMES, SUMMARY_FIELDS

__all__ = [
    "FLOW_SERIES",
    "MONTHLY_SERIES",
    "SUMMARY_FIELDS",
    "party_losses",
    "record_decisions",
    "record_bookings",
    "record_defaults",
    "summarize",
    "summarize_by_year",
    "yearly_outcomes",
]

PARTIES = ("bank", "guarantor", "reguarantor", "national_fund", "comp_fund")


# ------------------------------------------------------- the month's record
# The model's stages fill in ``record`` (one value per key of MONTHLY_SERIES, counts and
# amounts weighted to the real population) from the decisions and bookings of the month.


def record_decisions(record: dict, apps, weight: float, n_banks: int) -> None:
    """Screenings, referrals and approvals of the month's applications (weighted counts)."""
    w = weight
    guaranteed = apps.route == GUARANTEE_ROUTE
    record["bank_screenings"] = (
        np.bincount(apps.bank[apps.bank_screened], minlength=n_banks) * w
    ).sum()
    record["guarantor_screenings"] += float(np.count_nonzero(apps.guarantor_screened)) * w
    record["referrals"] = np.count_nonzero(guaranteed) * w
    record["referrals_bank_ok"] = np.count_nonzero(guaranteed & apps.bank_ok_guaranteed) * w
    record["guarantee_approvals"] = np.count_nonzero(guaranteed & apps.approved) * w
    record["referrals_first_time"] = np.count_nonzero(guaranteed & apps.first_time) * w
    record["approvals_first_time"] = (
        np.count_nonzero(guaranteed & apps.approved & apps.first_time) * w
    )
    record["rejected_amount"] = apps.amount[~apps.offered].sum() * w
    record["capacity_rejected_amount"] = apps.amount[guaranteed & apps.capacity_rejected].sum() * w


def record_bookings(
    record: dict, apps, idx, loan, is_g, fee_amount, subsidy, exposed_sectors, weight: float
) -> None:
    """The month's new loans (weighted counts and yuan).

    ``idx``: the booked applications; ``loan``: their loan columns; ``is_g``: guaranteed;
    ``fee_amount``, ``subsidy``: each guarantee's fee p.a. and fee subsidy (yuan, weighted).
    """
    w = weight
    amt_w = loan.amount * w
    g_idx = idx[is_g]
    g_principal = loan.amount[is_g]
    g_amount = g_principal * w
    g_reg, g_nf = loan.reg[is_g], loan.nf[is_g]
    sm = loan.small_micro[is_g]
    r = record
    r["new_loans"] = idx.size * w
    r["new_guaranteed_loans"] = g_idx.size * w
    r["new_direct"] = amt_w[~is_g].sum()
    r["new_guaranteed"] = g_amount.sum()
    r["new_first_time"] = np.count_nonzero(apps.first_time[idx]) * w
    r["new_additional"] = amt_w[is_g & apps.additional[idx]].sum()
    r["new_guaranteed_small_micro"] = g_amount[sm].sum()
    r["new_guaranteed_le_5m"] = g_amount[g_principal <= 5e6].sum()  # the outcome's 5M
    r["new_guaranteed_fee_amount"] = fee_amount.sum()
    r["new_guaranteed_all_in_amount"] = ((apps.fee[g_idx] + loan.rate[is_g]) * g_amount).sum()
    r["new_rate_amount"] = (loan.rate * amt_w).sum()
    r["new_guaranteed_delay_amount"] = (apps.delay[g_idx] * g_amount).sum()
    r["new_exposed"] = amt_w[exposed_sectors[loan.sector]].sum()
    r["guarantees_ceded"] = g_amount[g_reg].sum()
    r["guarantees_nf_covered"] = g_amount[g_nf].sum()
    r["fee_subsidies"] = subsidy.sum()


def record_defaults(record: dict, loan, exposure, gi, alloc, released, exposed_sectors, weight):
    """The month's defaults (weighted counts and yuan) and the compensation paid."""
    w = weight
    r = record
    r["defaults_direct"] = (loan.guarantor.size - gi.size) * w
    r["defaults_guaranteed"] = gi.size * w
    r["defaults_exposed"] = np.count_nonzero(exposed_sectors[loan.sector]) * w
    r["defaulted_exposure"] = exposure.sum()
    r["compensation"] = alloc.compensation.sum()
    r["guarantee_released"] += released.sum()
    r["comp_fund_payouts"] = alloc.comp_fund.sum()


def party_losses(ledger: Ledger, *, total: bool = False) -> dict[str, float]:
    """Credit losses net of recoveries booked by each party, from the ledger's flows.

    - bank: principal written down, less compensation received, less recoveries;
    - guarantor: compensation paid, less reimbursements from the re-guarantor,
      the National Fund and the compensation funds, less recoveries;
    - re-guarantor, National Fund, compensation funds: reimbursements paid,
      less recoveries.

    Parameters
    ----------
    ledger : Ledger
    total : bool
        Horizon totals instead of the current month.
    """
    f = ledger.flows
    out = {}
    bank = ledger.party("bank")
    out["bank"] = (
        f("writedown", total=total)[bank].sum()
        - f("compensation", total=total)[:, bank].sum()
        - f("recovery", total=total)[:, bank].sum()
    )
    g = ledger.party("guarantor")
    reimb = sum(
        f(k, total=total)[:, g].sum()
        for k in (
            "reguarantee_reimbursement",
            "national_fund_reimbursement",
            "comp_fund_reimbursement",
        )
    )
    out["guarantor"] = (
        f("compensation", total=total)[g].sum() - reimb - f("recovery", total=total)[:, g].sum()
    )
    for party, kind in (
        ("reguarantor", "reguarantee_reimbursement"),
        ("national_fund", "national_fund_reimbursement"),
        ("comp_fund", "comp_fund_reimbursement"),
    ):
        a = ledger.party(party)
        out[party] = f(kind, total=total)[a].sum() - f("recovery", total=total)[:, a].sum()
    return {k: float(v) for k, v in out.items()}


def _guarantee_recoveries(ledger: Ledger) -> float:
    """Recoveries received by the guarantee side (all parties but the banks), horizon total."""
    rec = ledger.flows("recovery", total=True)
    side = np.concatenate(
        [ledger.party(p) for p in ("guarantor", "reguarantor", "national_fund", "comp_fund")]
    )
    return float(rec[:, side].sum())


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def summarize(model) -> dict[str, float | int]:
    """Scalar outcomes of a run over its reported horizon.

    Volumes and losses are yuan over the horizon (scaled to the represented
    population); rates are fractions; ``default_rate*`` are annualised from
    defaults per loan-month at risk; ``compensation_rate`` is compensation paid
    over guarantee liability released (matured or compensated), as Chinese
    statistics define 担保代偿率; ``leverage`` is guarantee liability over net
    assets at the end of the horizon (放大倍数). Firm counts are firm-years (each
    firm once per year of the horizon, as a firm survey counts it); ``borrowers``
    counts distinct firms served over the whole horizon. True counts (``integer`` in the
    outcome registry: ``insolvent_guarantors``) are ints, every other outcome a float.
    """
    s = model.smes
    scores = [g.score for g in model.guarantors]
    return _outcomes(
        model.totals,
        model.record,
        party_losses(model.ledger, total=True),
        _guarantee_recoveries(model.ledger),
        (np.count_nonzero(s.served) + s.exits) * model.weight,
        max(model.horizon, 1),
        float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan"),
    )


def summarize_by_year(model) -> list[dict[str, float]]:
    """The outcomes of :func:`summarize` for each year of the horizon separately.

    See :func:`yearly_outcomes`; each dict starts with ``year``.
    """
    frame = model.datacollector.get_model_vars_dataframe()
    return yearly_outcomes(frame).to_dict("records")


def yearly_outcomes(frame) -> pd.DataFrame:
    """The summary outcomes of each year of one run's monthly series ``frame``.

    Year ``k`` is months ``12(k - 1) + 1 .. 12k`` of the horizon (the last year may be
    shorter). Flows are the year's, stocks are at the year's end, ratios are the year's;
    ``borrowers`` counts the firms that got a loan in the year (a firm holds at most one
    loan at a time); ``mean_evaluation_score`` is the latest evaluation at the year's end.

    Parameters
    ----------
    frame : pandas.DataFrame
        One run's rows of ``timeseries.parquet`` (the columns of :data:`MONTHLY_SERIES`).

    Returns
    -------
    pandas.DataFrame
        Columns ``year`` and :data:`SUMMARY_FIELDS`, one row per year.
    """
    rows = []
    months_of = (frame["month"].astype(int) - 1) // 12 + 1
    for year, months in frame[list(MONTHLY_SERIES)].groupby(months_of.to_numpy(), sort=True):
        t = months[list(FLOW_SERIES)].sum().to_dict()
        last = months.iloc[-1].to_dict()
        losses = {p: t[f"loss_{p}"] for p in PARTIES}
        out = _outcomes(
            t,
            last,
            losses,
            t["guarantee_side_recoveries"],
            t["new_loans"],
            len(months),
            last["mean_evaluation_score"],
        )
        rows.append({"year": int(year), **out})
    return pd.DataFrame(rows, columns=["year", *SUMMARY_FIELDS])


def _outcomes(t, last, losses, side_recoveries, borrowers, months, score) -> dict:
    """The summary outcomes from the flows summed over months ``t`` and the last month's
    record ``last``; true counts as ints, the rest as floats."""
    lending = t["new_direct"] + t["new_guaranteed"]
    out = {
        "lending_volume": lending,
        "default_rate": annual_rate(
            t["defaults_direct"] + t["defaults_guaranteed"],
            t["loan_months_direct"] + t["loan_months_guaranteed"],
        ),
        "guaranteed_volume": t["new_guaranteed"],
        "direct_volume": t["new_direct"],
        "borrowers": borrowers,
        "first_time_borrowers": t["new_first_time"],
        "rationed_share": 1.0 - _ratio(t["offered_request"], t["applicant_request"]),
        "default_rate_guaranteed": annual_rate(
            t["defaults_guaranteed"], t["loan_months_guaranteed"]
        ),
        "default_rate_direct": annual_rate(t["defaults_direct"], t["loan_months_direct"]),
        "compensation_rate": _ratio(t["compensation"], t["guarantee_released"]),
        **{f"loss_{k}": v for k, v in losses.items()},
        "recoveries": t["recoveries"],
        "avg_guarantee_fee": _ratio(t["new_guaranteed_fee_amount"], t["new_guaranteed"]),
        "leverage": last["leverage"],
        "small_micro_share": _ratio(t["new_guaranteed_small_micro"], t["new_guaranteed"]),
        "small_loan_share": _ratio(t["new_guaranteed_le_5m"], t["new_guaranteed"]),
        "fiscal_cost": t["fiscal_cost"],
        "additional_lending": t["new_additional"],
        "fiscal_cost_per_additional_yuan": _ratio(t["fiscal_cost"], t["new_additional"]),
        "guarantor_equity_end": last["guarantor_equity"],
        "insolvent_guarantors": last["insolvent_guarantors"],
        "net_credit_loss": t["defaulted_exposure"] - t["recoveries"],
        "applications": t["applications"],
        "avg_loan_rate": _ratio(t["new_rate_amount"], lending),
        "all_in_cost_guaranteed": _ratio(t["new_guaranteed_all_in_amount"], t["new_guaranteed"]),
        "guarantee_approval_rate": _ratio(t["guarantee_approvals"], t["referrals"]),
        "first_time_approval_rate": _ratio(t["approvals_first_time"], t["referrals_first_time"]),
        "bank_participation": _ratio(t["referrals_bank_ok"], t["referrals"]),
        "avg_guarantee_size": _ratio(t["new_guaranteed"], t["new_guaranteed_loans"]),
        "avg_approval_delay": _ratio(t["new_guaranteed_delay_amount"], t["new_guaranteed"]),
        "screening_cost": t["screening_cost"],
        "fee_subsidies": t["fee_subsidies"],
        "comp_fund_payouts": t["comp_fund_payouts"],
        "capital_injections": t["capital_injections"],
        "write_off_tax_relief": t["write_off_tax_relief"],
        "national_fund_net_loss": t["national_fund_net_loss"],
        "guarantee_outstanding_end": last["outstanding_guaranteed"],
        "capacity_headroom_end": last["capacity_headroom"],
        "leverage_cap": last["leverage_cap"],
        "reguarantor_equity_end": last["reguarantor_equity"],
        "national_fund_equity_end": last["national_fund_equity"],
        "national_fund_covered_share": _ratio(t["guarantees_nf_covered"], t["new_guaranteed"]),
        "exposed_sector_volume": t["new_exposed"],
        "default_rate_exposed": annual_rate(t["defaults_exposed"], t["loan_months_exposed"]),
        "guarantor_loss_rate": _ratio(losses["guarantor"], t["new_guaranteed"]),
        "net_loss_rate": _ratio(t["defaulted_exposure"] - t["recoveries"], lending),
        "guarantor_net_loss": losses["guarantor"] - t["write_off_tax_relief"],
        "net_leverage": _ratio(last["guarantee_liability_net"], last["guarantor_equity"]),
        "recovery_ratio": _ratio(side_recoveries, t["compensation"]),
        "compensation_paid": t["compensation"],
        "guarantee_released": t["guarantee_released"],
        "guarantee_side_recoveries": side_recoveries,
        "guaranteed_volume_per_year": t["new_guaranteed"] * 12.0 / months,
        "refused_firm_share": 1.0 - _ratio(t["offered_firms"], t["applicant_firms"]),
        **{
            f"refused_firm_share_{size}": 1.0
            - _ratio(t[f"offered_firms_{size}"], t[f"applicant_firms_{size}"])
            for size in ("micro", "small", "medium")
        },
        "discouraged_share": _ratio(
            t["discouraged_firms"], t["discouraged_firms"] + t["applicant_firms"]
        ),
        "application_rejection_share": _ratio(t["rejected_amount"], t["applied_amount"]),
        "incremental_share": _ratio(t["new_additional"], t["new_guaranteed"]),
        "applicant_firms": t["applicant_firms"],
        "refused_firms": t["applicant_firms"] - t["offered_firms"],
        "demand_firms": t["applicant_firms"] + t["discouraged_firms"],
        "discouraged_firms": t["discouraged_firms"],
        "guaranteed_share_outstanding": _ratio(
            last["outstanding_guaranteed"],
            last["outstanding_guaranteed"] + last["outstanding_direct"],
        ),
        "mean_evaluation_score": score,
    }
    return {k: int(out[k]) if OUTCOMES[k].integer else float(out[k]) for k in SUMMARY_FIELDS}
