"""Figures for scenario comparisons (PNG).

Each function takes the ``timeseries`` or ``summary`` table of the output
contract and returns a :class:`matplotlib.figure.Figure`; :func:`comparison_figures`
writes the standard set for ``gsim compare``. The figures are made without pyplot, so they
neither choose nor change the backend: a notebook shows one with ``display(fig)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.outcome_registry import DISPLAYS, OUTCOMES, axis_label
from sim.outputs import save_figure as save

__all__ = [
    "lending_by_channel",
    "losses_by_party",
    "fee_and_leverage",
    "compensation_rate",
    "difference_bands",
    "comparison_figures",
    "horizon_panel",
]

#: 亿元 (100 million yuan), the unit money is shown in; figure labels say "100 million yuan"
#: (fonts lack CJK glyphs). The units and scales of the outcomes drawn come from the outcome
#: registry (:func:`sim.outcome_registry.axis_label`, ``_factor``).
YI = DISPLAYS["yi_yuan"].divide
PARTIES = ("bank", "guarantor", "reguarantor", "national_fund", "comp_fund")
PARTY_LABELS = {
    "bank": "Banks",
    "guarantor": "Guarantors",
    "reguarantor": "Re-guarantor",
    "national_fund": "National Fund",
    "comp_fund": "Compensation funds",
}


def _subplots(*args, figsize, **kwargs):
    """``(figure, axes)`` as ``pyplot.subplots`` returns them, without pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _factor(key: str) -> float:
    """Scale from outcome ``key``'s stored unit to the unit its figures show."""
    return OUTCOMES[key].style.factor


def _monthly_mean(ts: pd.DataFrame, cols) -> pd.DataFrame:
    return ts.groupby(["scenario", "month"], sort=False)[list(cols)].mean().reset_index()


def _series(ax, ts: pd.DataFrame, name: str, col: str, scale: float = 1.0, x: str = "month"):
    """Plot one scenario's series: the mean over replications, or, for an ensemble run
    (a ``member`` column), the median with the 5-95% band over members and replications
    (parameter and stochastic uncertainty together)."""
    d = ts[ts["scenario"] == name]
    g = d.groupby(x, sort=True)[col]
    if "member" not in d:
        line = g.mean()
        return ax.plot(line.index, line.to_numpy() * scale, label=name)
    q = g.quantile([0.05, 0.5, 0.95]).unstack()
    (handle,) = ax.plot(q.index, q[0.5].to_numpy() * scale, label=name)
    ax.fill_between(
        q.index,
        q[0.05].to_numpy() * scale,
        q[0.95].to_numpy() * scale,
        color=handle.get_color(),
        alpha=0.2,
        lw=0,
    )
    return [handle]


def _what(ts: pd.DataFrame) -> str:
    if "member" in ts:
        return "median and 5-95% band over ensemble members and replications"
    return "mean over replications"


def _scenarios(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["scenario"]))


def lending_by_channel(ts: pd.DataFrame):
    """New lending per month by channel (guaranteed, direct): mean over replications, or
    median and 5-95% band for an ensemble."""
    fig, axes = _subplots(1, 2, figsize=(11, 4))
    for name in _scenarios(ts):
        _series(axes[0], ts, name, "new_guaranteed", _factor("new_guaranteed"))
        _series(axes[1], ts, name, "new_direct", _factor("new_direct"))
    axes[0].set_title("Guaranteed loans")
    axes[1].set_title("Direct (unguaranteed) loans")
    for ax in axes:
        ax.set_xlabel("Month of horizon")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(axis_label("new_guaranteed", label="New lending per month"))
    axes[1].legend(frameon=False)
    fig.suptitle(f"New lending by channel ({_what(ts)})")
    fig.tight_layout()
    return fig


def losses_by_party(summary: pd.DataFrame):
    """Credit losses net of recoveries over the horizon, by party and scenario."""
    names = _scenarios(summary)
    means = summary.groupby("scenario", sort=False)[[f"loss_{p}" for p in PARTIES]].mean()
    fig, ax = _subplots(figsize=(8, 4.5))
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for p in PARTIES:
        v = means.loc[names, f"loss_{p}"].to_numpy() * _factor(f"loss_{p}")
        ax.bar(x, v, bottom=bottom, label=PARTY_LABELS[p])
        bottom += v
    if "member" in summary:  # 5-95% band of the total over members and replications
        total = summary[[f"loss_{p}" for p in PARTIES]].sum(axis=1) * _factor("loss_bank")
        q = total.groupby(summary["scenario"], sort=False).quantile([0.05, 0.95]).unstack()
        q = q.loc[names]
        ax.errorbar(
            x,
            bottom,
            yerr=[np.maximum(bottom - q[0.05], 0), np.maximum(q[0.95] - bottom, 0)],
            fmt="none",
            color="black",
            capsize=4,
            label="5-95% (ensemble)",
        )
    ax.set_xticks(x, names, rotation=15, ha="right")
    ax.set_ylabel(axis_label("loss_bank", label="Loss net of recoveries over horizon"))
    ax.set_title("Who bears credit losses")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def fee_and_leverage(ts: pd.DataFrame):
    """Average guarantee fee of new guarantees and guarantor leverage against its cap."""
    m = _monthly_mean(ts, ["leverage_cap"])
    fig, axes = _subplots(1, 2, figsize=(11, 4))
    for name in _scenarios(ts):
        _series(axes[0], ts, name, "avg_guarantee_fee", _factor("avg_guarantee_fee"))
        _series(axes[1], ts, name, "leverage", _factor("leverage"))
    axes[0].axhline(1.0, color="grey", ls=":", lw=1, label="State Council 2019 target 1%")
    axes[0].set_ylabel(axis_label("avg_guarantee_fee"))
    axes[0].set_title("Guarantee fee on new guarantees")
    axes[1].set_ylabel(axis_label("leverage", label="Guarantee liability / net assets"))
    axes[1].set_title("Guarantor leverage")
    cap = float(m["leverage_cap"].max())
    axes[1].axhline(cap, color="grey", ls="--", lw=1, label=f"cap {cap:.0f}x")
    for ax in axes:
        ax.set_xlabel("Month of horizon")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def compensation_rate(ts: pd.DataFrame):
    """Compensation rate (代偿率) by year of the horizon."""
    d = ts.copy()
    d["year"] = (d["month"] - 1) // 12 + 1
    keys = ["scenario", "member", "replication", "year"] if "member" in d else None
    g = d.groupby(keys or ["scenario", "replication", "year"], sort=False)[
        ["compensation", "guarantee_released"]
    ].sum()
    g["rate"] = g["compensation"] / g["guarantee_released"].where(g["guarantee_released"] > 0)
    r = g.reset_index()
    fig, ax = _subplots(figsize=(7, 4))
    for name in _scenarios(r):
        for line in _series(ax, r, name, "rate", _factor("compensation_rate"), x="year"):
            line.set_marker("o")
    ax.set_xlabel("Year of horizon")
    ax.set_ylabel(axis_label("compensation_rate", label="Compensation / guarantees released"))
    ax.set_title(f"Compensation rate ({_what(ts)})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


#: Outcomes of :func:`difference_bands` by default: label (of a difference, with its unit)
#: and scale to the unit shown, from the outcome registry.
BAND_OUTCOMES = {
    key: (axis_label(key, diff=True), _factor(key))
    for key in ("guaranteed_volume", "lending_volume", "default_rate_guaranteed", "loss_guarantor")
}


def difference_bands(summary: pd.DataFrame, outcomes: dict | None = None):
    """Paired differences to the first scenario over an ensemble: for every other scenario,
    the median and the 5-95% band over (member, replication) pairs, one panel per outcome.

    Parameter and stochastic uncertainty together
    (:func:`sim.experiments.replications.ensemble_bands`);
    the thick segment is the 25-75% band of the members' own means (parameter uncertainty
    at the replications' average).

    Parameters
    ----------
    summary : pandas.DataFrame
        A summary with a ``member`` column (``gsim compare --ensemble``).
    outcomes : dict, optional
        ``{outcome: (label, scale)}`` (default :data:`BAND_OUTCOMES`).
    """
    from sim.experiments.replications import ensemble_bands

    outcomes = BAND_OUTCOMES if outcomes is None else outcomes
    names = _scenarios(summary)
    baseline, others = names[0], names[1:]
    bands = ensemble_bands(summary, baseline, list(outcomes)).set_index(["outcome", "scenario"])
    key = ["member", "replication"]
    base = summary[summary["scenario"] == baseline].set_index(key)
    ncol = min(2, len(outcomes))
    nrow = -(-len(outcomes) // ncol)
    fig, axes = _subplots(
        nrow, ncol, figsize=(6.5 * ncol, 0.5 * len(others) * nrow + 2.2 * nrow), squeeze=False
    )
    y = np.arange(len(others))[::-1]
    for ax, (o, (label, scale)) in zip(axes.flat, outcomes.items(), strict=False):
        for yi, name in zip(y, others, strict=True):
            b = bands.loc[(o, name)]
            g = summary[summary["scenario"] == name].set_index(key)
            common = base.index.intersection(g.index)
            d = (g.loc[common, o] - base.loc[common, o]).groupby(level="member").mean()
            iq = np.nanquantile(d.to_numpy(float), [0.25, 0.75]) * scale
            ax.plot([b["diff_q05"] * scale, b["diff_q95"] * scale], [yi, yi], color="#4C72B0")
            ax.plot(iq, [yi, yi], color="#4C72B0", lw=5, alpha=0.6, solid_capstyle="butt")
            ax.plot(b["diff_median"] * scale, yi, "o", color="black", ms=5)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, others)
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.set_title(label, fontsize=10)
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    members = summary["member"].nunique()
    reps = summary["replication"].nunique()
    fig.suptitle(
        f"Difference to {baseline}: median (dot), 5-95% band over {members} ensemble members "
        f"x {reps} replications (line), 25-75% of members' means (bar)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def horizon_panel(
    ts: pd.DataFrame,
    series,
    title: str,
    ylabel: str,
    *,
    horizon: int,
    cumulative: bool = False,
    reference=(),
    right=(),
    hline: tuple[str, float] | None = None,
    ensemble: pd.DataFrame | None = None,
):
    """One run's series by month of the horizon, on one axis (the dashboard's live plots).

    Lines are labelled, and values scaled to the unit shown, by the outcome registry.

    Parameters
    ----------
    ts : pandas.DataFrame
        The run's ``timeseries`` rows so far (``month`` and the outcome columns; may be empty).
    series : sequence of str
        Outcomes drawn as lines, in colours C0, C1, ...
    title, ylabel : str
        Title; y-axis label, to which the unit of ``series[0]`` is added.
    horizon : int
        Months of the horizon (the x range).
    cumulative : bool
        Draw ``series`` summed since month 1 instead of monthly values.
    reference : sequence of str
        Outcomes drawn dashed on the same axis (a cap), without a band.
    right : sequence of str
        Outcomes drawn dashed on a second y-axis, without a band.
    hline : (str, float), optional
        Label and value (in the stored unit of ``series[0]``) of a constant dashed line.
    ensemble : pandas.DataFrame, optional
        ``timeseries`` rows of an ensemble run (a ``member`` column): each of ``series`` gets
        its 5-95% band over members shaded behind its line.
    """

    def values(frame: pd.DataFrame, key: str) -> pd.Series:
        col = frame[key]
        if not cumulative:
            return col
        return col.groupby(frame["member"]).cumsum() if "member" in frame else col.cumsum()

    fig = Figure(figsize=(6.4, 3.6), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    axes = [ax]
    if ensemble is not None:
        title = f"{title}\nshaded: 5-95% over {ensemble['member'].nunique()} ensemble members"
        for i, key in enumerate(series):
            q = values(ensemble, key).groupby(ensemble["month"]).quantile([0.05, 0.95]).unstack()
            lo, hi = (q[p].to_numpy(float) * _factor(key) for p in (0.05, 0.95))
            ax.fill_between(q.index, lo, hi, color=f"C{i}", alpha=0.15, lw=0)
    if len(ts):
        for key in series:
            ax.plot(ts["month"], values(ts, key) * _factor(key), label=OUTCOMES[key].label)
        for key in reference:
            ax.plot(
                ts["month"], ts[key] * _factor(key), "--", color="C3", label=OUTCOMES[key].label
            )
        if right:
            axes.append(ax.twinx())
            for key in right:
                label = f"{OUTCOMES[key].label} (right)"
                axes[1].plot(ts["month"], ts[key] * _factor(key), "--", color="C3", label=label)
            axes[1].set_ylabel(axis_label(right[0]))
    else:
        msg = "No reported month yet: press Step or ▶"
        ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes, color="0.4")
    if hline is not None:
        y = hline[1] * _factor(series[0])
        ax.axhline(y, ls="--", color="C3", label=hline[0])
        ax.set_ylim(top=max(ax.get_ylim()[1], 1.15 * y))
    for a in axes:
        a.set_ylim(bottom=min(0.0, a.get_ylim()[0]))
    ax.set_title(title)
    ax.set_xlabel("Month of the horizon")
    ax.set_ylabel(axis_label(series[0], label=ylabel))
    ax.set_xlim(0, max(horizon, 1) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    handles = [h for a in axes for h in a.get_legend_handles_labels()[0]]
    if handles:
        ax.legend(handles=handles, fontsize="small", frameon=False, loc="best")
    return fig


def comparison_figures(summary: pd.DataFrame, ts: pd.DataFrame, out_dir) -> list[Path]:
    """Write the standard comparison figures into ``out_dir``; return their paths."""
    out = Path(out_dir)
    paths = [
        save(lending_by_channel(ts), out / "lending_by_channel.png"),
        save(losses_by_party(summary), out / "losses_by_party.png"),
        save(fee_and_leverage(ts), out / "fee_and_leverage.png"),
        save(compensation_rate(ts), out / "compensation_rate.png"),
    ]
    if "member" in summary and summary["scenario"].nunique() > 1:
        paths.append(save(difference_bands(summary), out / "difference_bands.png"))
    return paths
