"""Figures for scenario comparisons (PNG, matplotlib's Agg backend).

Each function takes the ``timeseries`` or ``summary`` table of the output
contract and returns a :class:`matplotlib.figure.Figure`; :func:`comparison_figures`
writes the standard set for ``gsim compare``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .outputs import atomic_path  # noqa: E402

__all__ = [
    "lending_by_channel",
    "losses_by_party",
    "fee_and_leverage",
    "compensation_rate",
    "comparison_figures",
]

YI = 1e8  # 亿元 (100 million yuan); figure labels avoid CJK glyphs missing from fonts
PARTIES = ("bank", "guarantor", "reguarantor", "national_fund", "comp_fund")
PARTY_LABELS = {
    "bank": "Banks",
    "guarantor": "Guarantors",
    "reguarantor": "Re-guarantor",
    "national_fund": "National Fund",
    "comp_fund": "Compensation funds",
}


def _monthly_mean(ts: pd.DataFrame, cols) -> pd.DataFrame:
    return ts.groupby(["scenario", "month"], sort=False)[list(cols)].mean().reset_index()


def _scenarios(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["scenario"]))


def lending_by_channel(ts: pd.DataFrame):
    """New lending per month by channel (guaranteed, direct), mean over replications."""
    m = _monthly_mean(ts, ["new_guaranteed", "new_direct"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name in _scenarios(m):
        d = m[m["scenario"] == name]
        axes[0].plot(d["month"], d["new_guaranteed"] / YI, label=name)
        axes[1].plot(d["month"], d["new_direct"] / YI, label=name)
    axes[0].set_title("Guaranteed loans")
    axes[1].set_title("Direct (unguaranteed) loans")
    for ax in axes:
        ax.set_xlabel("Month of horizon")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("New lending per month (100 million yuan)")
    axes[1].legend(frameon=False)
    fig.suptitle("New lending by channel (mean over replications)")
    fig.tight_layout()
    return fig


def losses_by_party(summary: pd.DataFrame):
    """Credit losses net of recoveries over the horizon, by party and scenario."""
    names = _scenarios(summary)
    means = summary.groupby("scenario", sort=False)[[f"loss_{p}" for p in PARTIES]].mean()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for p in PARTIES:
        v = means.loc[names, f"loss_{p}"].to_numpy() / YI
        ax.bar(x, v, bottom=bottom, label=PARTY_LABELS[p])
        bottom += v
    ax.set_xticks(x, names, rotation=15, ha="right")
    ax.set_ylabel("Loss net of recoveries over horizon (100 million yuan)")
    ax.set_title("Who bears credit losses")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def fee_and_leverage(ts: pd.DataFrame):
    """Average guarantee fee of new guarantees and guarantor leverage against its cap."""
    m = _monthly_mean(ts, ["avg_guarantee_fee", "leverage", "leverage_cap"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in _scenarios(m):
        d = m[m["scenario"] == name]
        axes[0].plot(d["month"], 100 * d["avg_guarantee_fee"], label=name)
        axes[1].plot(d["month"], d["leverage"], label=name)
    axes[0].axhline(1.0, color="grey", ls=":", lw=1, label="State Council 2019 target 1%")
    axes[0].set_ylabel("Average guarantee fee (% p.a.)")
    axes[0].set_title("Guarantee fee on new guarantees")
    axes[1].set_ylabel("Guarantee liability / net assets (x)")
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
    g = d.groupby(["scenario", "replication", "year"], sort=False)[
        ["compensation", "guarantee_released"]
    ].sum()
    g["rate"] = g["compensation"] / g["guarantee_released"].where(g["guarantee_released"] > 0)
    r = g.groupby(["scenario", "year"], sort=False)["rate"].mean().reset_index()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in _scenarios(r):
        e = r[r["scenario"] == name]
        ax.plot(e["year"], 100 * e["rate"], marker="o", label=name)
    ax.set_xlabel("Year of horizon")
    ax.set_ylabel("Compensation / guarantees released (%)")
    ax.set_title("Compensation rate (compensation / guarantees released)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def save(fig, path) -> Path:
    """Save a figure as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def comparison_figures(summary: pd.DataFrame, ts: pd.DataFrame, out_dir) -> list[Path]:
    """Write the standard comparison figures into ``out_dir``; return their paths."""
    out = Path(out_dir)
    return [
        save(lending_by_channel(ts), out / "lending_by_channel.png"),
        save(losses_by_party(summary), out / "losses_by_party.png"),
        save(fee_and_leverage(ts), out / "fee_and_leverage.png"),
        save(compensation_rate(ts), out / "compensation_rate.png"),
    ]
