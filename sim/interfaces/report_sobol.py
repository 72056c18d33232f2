"""Tables and figures of report notebook 03, the Sobol sensitivity of the main levers.

:class:`SobolReport` takes a :class:`sim.SweepResult` of a Sobol sweep
(``sobol_main_levers.toml``) and its indices (``result.sensitivity()``): the design table,
the noise table, the index bars with their 95% bootstrap intervals, the outcome against
each parameter, the generated interpretation, and the spread over the calibrated ensemble
against the spread over the design. Money is shown in 亿元 (100 million yuan), rates in %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .report import YI, new_figure

__all__ = ["LEVER_LABELS", "SOBOL_TITLES", "design_table", "SobolReport"]

#: Short labels of the levers varied in notebook 03.
LEVER_LABELS = {
    "bank.share": "Bank's risk share",
    "government.fee_subsidy_rate": "Fee subsidy rate",
    "guarantor.exemption_strength": "Due-diligence exemption strength",
    "information.sharing": "Information sharing",
    "guarantor.counter_guarantee": "Counter-guarantee required",
    "bank.guarantee_el_tolerance": "Bank loss tolerance (guaranteed loans)",
}
#: Titles of notebook 03's outcomes.
SOBOL_TITLES = {
    "lending_volume": "Lending volume (all channels)",
    "guaranteed_volume": "Guaranteed volume",
    "loss_guarantor": "Guarantors' net credit losses",
    "default_rate_guaranteed": "Default rate of the guaranteed book",
}
_DARK, _LIGHT = "#2F5597", "#9DC3E6"


def _title(o: str) -> str:
    return SOBOL_TITLES.get(o, o)


def _scale_unit(o: str) -> tuple[float, str]:
    return (100, "% p.a.") if o.startswith("default_rate") else (1 / YI, "100 million yuan")


def design_table(sweep) -> pd.DataFrame:
    """The varied parameters: range, value in the base scenario, unit, measure, source."""
    from sim.parameters import parameters

    registry = parameters()
    rows = [
        {
            "parameter": k,
            "label in figures": LEVER_LABELS.get(k, k),
            "low": low,
            "high": high,
            "2022 package value": sweep.base[k],
            "unit": registry[k].unit,
            "measure": registry[k].measure,
            "source of default": registry[k].source,
        }
        for k, (low, high) in zip(sweep.design.names, sweep.design.bounds, strict=True)
    ]
    return pd.DataFrame(rows).set_index("parameter")


class SobolReport:
    """Figures and tables of a Sobol sweep.

    Parameters
    ----------
    sweep : sim.Sweep
        The sweep that ran (design, base scenario, outcomes).
    summary, design : pandas.DataFrame
        ``result.summary`` and ``result.design`` of its complete run.
    indices : pandas.DataFrame
        ``result.sensitivity()``.
    """

    def __init__(self, sweep, summary: pd.DataFrame, design: pd.DataFrame, indices):
        self.sweep = sweep
        self.summary = summary
        self.design = design.set_index("point").sort_index()
        self.names = list(sweep.design.names)
        self.outcomes = list(sweep.outcomes)
        self.reps = self.summary["replication"].nunique()
        self.indices = indices.copy()
        self.indices["label"] = self.indices["parameter"].map(lambda k: LEVER_LABELS.get(k, k))
        self.point_means = (
            self.summary.groupby("point")[self.outcomes].mean().reindex(self.design.index)
        )
        self.main = [o for o in ("lending_volume", "loss_guarantor") if o in self.outcomes]
        self.rest = [o for o in self.outcomes if o not in self.main]

    def index_table(self) -> pd.DataFrame:
        """The indices (S1, ST and their 95% bootstrap half-widths) per outcome and lever."""
        return self.indices.drop(columns=["method"])

    def noise(self) -> pd.DataFrame:
        """Share of the across-point variance that is Monte-Carlo noise (estimate, %), and
        the sum of the first-order indices, per outcome."""
        g = self.summary.groupby("point")[self.outcomes]
        between = g.mean().var(ddof=1)
        within = g.var(ddof=1).mean() / self.reps if self.reps > 1 else between * np.nan
        share = (100 * within / between).where(between > 0)
        s1 = self.indices.groupby("outcome")["S1"].sum().reindex(self.outcomes)
        return pd.DataFrame({"noise share (%, estimate)": share, "sum of S1": s1}).rename_axis(
            "outcome"
        )

    def sobol_figure(self, outcomes, title: str):
        """Figures 1 and 2: ST (dark) and S1 (light) with 95% bootstrap intervals, one panel
        per outcome, levers sorted by ST."""
        fig, axes = new_figure(1, len(outcomes), figsize=(7 * len(outcomes), 4.8), squeeze=False)
        for ax, o in zip(axes[0], outcomes, strict=True):
            t = self.indices[self.indices["outcome"] == o].sort_values("ST").reset_index(drop=True)
            yy = np.arange(len(t))
            ax.barh(
                yy + 0.2,
                t["ST"],
                0.4,
                xerr=t["ST_conf"],
                color=_DARK,
                capsize=3,
                label="total order ST",
            )
            ax.barh(
                yy - 0.2,
                t["S1"],
                0.4,
                xerr=t["S1_conf"],
                color=_LIGHT,
                capsize=3,
                label="first order S1",
            )
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(yy, t["label"])
            ax.set_xlabel("Sobol index (share of output variance), 95% CI")
            ax.set_title(_title(o), fontsize=10)
            ax.grid(axis="y", visible=False)
        handles = axes[0, 0].get_legend_handles_labels()
        fig.legend(*handles, loc="lower center", ncol=2, frameon=False)
        sw = self.sweep
        fig.suptitle(
            f"{title}\n{sw.design.samples} base samples x {len(self.names) + 2} = {sw.points} "
            f"design points, {self.reps} replications each, {sw.base['run.n_smes']:,} simulated "
            f"SMEs, {sw.base['run.horizon']}-month horizon",
            fontsize=11,
        )
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        return fig

    def directions(self):
        """Figure 3: the main outcomes at each design point against each lever, with the
        mean in ten equal-width bins and Spearman's rho."""
        from scipy import stats

        from sim.parameters import parameters

        registry = parameters()
        show, names = self.main, self.names
        fig, axes = new_figure(
            len(show),
            len(names),
            squeeze=False,
            sharey="row",
            figsize=(3.1 * len(names), 3.0 * len(show)),
        )
        for i, o in enumerate(show):
            scale, unit = _scale_unit(o)
            yv = self.point_means[o].to_numpy() * scale
            for j, k in enumerate(names):
                ax = axes[i, j]
                xv = self.design[k].to_numpy()
                ax.plot(xv, yv, ".", ms=3, alpha=0.35, color=_DARK)
                bins = np.linspace(xv.min(), xv.max(), 11)
                idx = np.clip(np.digitize(xv, bins) - 1, 0, 9)
                sums = np.bincount(idx, weights=np.nan_to_num(yv), minlength=10)
                counts = np.bincount(idx[np.isfinite(yv)], minlength=10)
                with np.errstate(invalid="ignore", divide="ignore"):
                    bm = np.where(counts > 0, sums / counts, np.nan)
                ax.plot((bins[1:] + bins[:-1]) / 2, bm, "-", color="#C00000", lw=2)
                rho = stats.spearmanr(xv, yv).statistic
                ax.text(
                    0.03,
                    0.95,
                    f"rho = {rho:+.2f}",
                    transform=ax.transAxes,
                    va="top",
                    fontsize=8,
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1},
                )
                if k == "bank.share":
                    ax.axvline(0.2, color="red", ls="--", lw=1)
                if i == len(show) - 1:
                    ax.set_xlabel(f"{LEVER_LABELS.get(k, k)}\n({registry[k].unit})", fontsize=8)
                if j == 0:
                    ax.set_ylabel(f"{_title(o)}\n({unit})", fontsize=8)
        fig.suptitle(
            "Outcome at each design point against each parameter (line: binned mean)",
            fontsize=11,
        )
        fig.tight_layout()
        return fig

    def interpretation(self, noise: pd.DataFrame) -> str:
        """The reading of this run's indices as Markdown (from :meth:`noise`)."""
        from scipy import stats

        lines = []
        for o in self.outcomes:
            t = self.indices[self.indices["outcome"] == o].sort_values("ST", ascending=False)
            strong = t[t["ST"] - t["ST_conf"] > 0.05]
            weak = t[t["ST"] - t["ST_conf"] <= 0]
            top = t.iloc[0]
            rho = stats.spearmanr(self.design[top["parameter"]], self.point_means[o]).statistic
            inter = float((t["ST"] - t["S1"]).clip(lower=0).sum())
            text = (
                f"- **{_title(o)}:** largest total effect {top['label']} "
                f"(ST {top['ST']:.2f} ± {top['ST_conf']:.2f}, S1 {top['S1']:.2f} ± "
                f"{top['S1_conf']:.2f}; it {'raises' if rho > 0 else 'lowers'} the outcome). "
            )
            if len(strong):
                text += "Clearly important: "
                text += ", ".join(f"{r.label} ({r.ST:.2f})" for r in strong.itertuples()) + ". "
            else:
                text += "No parameter is clearly important at this sample size. "
            if len(weak):
                text += "No detectable effect: " + ", ".join(weak["label"]) + ". "
            share = noise.loc[o, "noise share (%, estimate)"]
            text += f"Interactions (sum of ST - S1): {inter:.2f}; noise share of the variance "
            lines.append(text + f"{share:.1f}%.")
        widest = float(self.indices["ST_conf"].max())
        if widest > 0.5:
            verdict = (
                "That is too wide to rank parameters: rerun at full size "
                "(more SOBOL_SAMPLES, N_SMES, REPS)."
            )
        else:
            verdict = (
                f"Parameters whose ST differ by more than about {widest:.2f} are ranked "
                "robustly; closer ones are not resolved at this sample size (doubling "
                "SOBOL_SAMPLES narrows the intervals by about 30%)."
            )
        lines.append(f"- **Precision:** the widest ST interval is ±{widest:.2f}. {verdict}")
        budget = self.sweep.base["government.fee_subsidy_budget"]
        if budget > 0 and "government.fee_subsidy_rate" in self.names:
            paid = self.summary.groupby("point")["fee_subsidies"].mean()
            capped = float((paid >= 0.9 * budget * self.sweep.base["run.horizon"] / 12).mean())
            lines.append(
                f"- **Fee-subsidy budget:** {budget / YI:,.0f} 100m yuan a year; at "
                f"{100 * capped:.0f}% of the design points the subsidies paid reach 90% of it. "
                "Where the budget binds, a higher subsidy rate cannot buy more volume, so a "
                "small index for the rate reflects the budget."
            )
        return "\n".join(lines)

    def ensemble_spread(self, ensemble_summary: pd.DataFrame):
        """Figure 4 and its table: the 5-95% width of each outcome over the ensemble's
        members against its width over the design points."""
        members = ensemble_summary.groupby("member")[self.outcomes].mean()
        rows = {}
        for o in self.outcomes:
            lev = np.nanquantile(self.point_means[o], [0.05, 0.95])
            par = np.nanquantile(members[o], [0.05, 0.95])
            rows[_title(o)] = {
                "levers: 5-95% width": lev[1] - lev[0],
                "ensemble: 5-95% width": par[1] - par[0],
                "ratio (ensemble / levers)": (par[1] - par[0]) / (lev[1] - lev[0])
                if lev[1] > lev[0]
                else np.nan,
            }
        spread = pd.DataFrame.from_dict(rows, orient="index").rename_axis("outcome")
        n = len(self.outcomes)
        fig, axes = new_figure(1, n, figsize=(3.4 * n, 3.6), squeeze=False)
        for ax, o in zip(axes[0], self.outcomes, strict=True):
            scale, unit = _scale_unit(o)
            data = [
                self.point_means[o].dropna().to_numpy() * scale,
                members[o].dropna().to_numpy() * scale,
            ]
            ax.boxplot(data, whis=(5, 95), showfliers=False)
            ax.set_xticks([1, 2], ["levers\n(Sobol design)", "parameters\n(ensemble)"])
            ax.set_title(_title(o), fontsize=9)
            ax.set_ylabel(unit)
        fig.suptitle(
            "Spread of each outcome: lever ranges against parameter uncertainty (5-95% whiskers)"
        )
        fig.tight_layout()
        return fig, spread
