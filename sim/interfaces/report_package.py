"""Tables and figures of report notebook 01, the 2022 Beijing package measure by measure.

:func:`scenario_names` lists the baseline, the twelve single-measure scenarios and the
package; :func:`scenario_table` says what each changes; :class:`PackageReport` takes the
result of :func:`sim.compare` over them and draws the notebook's figures and tables. Money
is shown in 亿元 (100 million yuan, :data:`sim.interfaces.report.YI`), rates in %, leverage as a
multiple; every interval is a Student-t 95% interval over replications
(:func:`sim.interfaces.report.t_interval`) or the paired one of :func:`sim.compare`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from sim.outcome_registry import axis_label

from .report import PARTIES, PARTY_COLORS, PARTY_LABELS, YI, interval_columns, new_figure

__all__ = [
    "MEASURE_LABELS",
    "HEADLINE",
    "scenario_names",
    "scenario_table",
    "calibration_check",
    "PackageReport",
]

#: Short label of each 2022 measure in figures (``Scenario.measure`` -> label).
MEASURE_LABELS = {
    1: "M1 Re-guarantee fees",
    2: "M2 Subsidies, capital, comp. funds",
    3: "M3 Due-diligence exemption",
    4: "M4 Information sharing",
    5: "M5 National Fund + sector relief",
    6: "M6 Lower counter-guarantee",
    7: "M7 Recovery and write-off",
    8: "M8 Batch guarantees",
    9: "M9 Banks retain 20%",
    10: "M10 Bank support",
    11: "M11 Performance evaluation",
    12: "M12 Supervision",
}
#: Outcomes of the headline table (labels and units from the outcome registry).
HEADLINE = (
    "lending_volume",
    "guaranteed_volume",
    "direct_volume",
    "additional_lending",
    "first_time_borrowers",
    "rationed_share",
    "default_rate_guaranteed",
    "default_rate_direct",
    "compensation_rate",
    "avg_guarantee_fee",
    "leverage",
    "net_credit_loss",
    "fiscal_cost",
    "insolvent_guarantors",
)
#: Components of fiscal cost: label and colour.
FISCAL_COMPONENTS = {
    "fee_subsidies": ("Fee subsidies", "#DD8452"),
    "capital_injections": ("Capital injections", "#55A868"),
    "comp_fund_payouts": ("Compensation-fund payouts", "#8172B3"),
    "write_off_tax_relief": ("Write-off tax relief", "#937860"),
    "national_fund_net_loss": ("National Fund net loss", "#C44E52"),
}
#: Outcomes of the forest plot, the ensemble table and the additivity table.
FOREST = ("guaranteed_volume", "default_rate_guaranteed", "lending_volume", "loss_guarantor")
BANDS = (
    "guaranteed_volume",
    "lending_volume",
    "default_rate_guaranteed",
    "loss_guarantor",
    "fiscal_cost",
    "leverage",
)
ADDITIVITY = (*BANDS[:4], "loss_bank", "fiscal_cost")
#: Line colours of the few scenarios drawn over time: baseline, two measures, package.
PATH_COLORS = ("black", "#4C72B0", "#55A868", "#C44E52")
_MEASURE_FILE = re.compile(r"m\d\d_\w+")


def scenario_names(baseline: str = "baseline_2021", package: str = "beijing_2022") -> list[str]:
    """The baseline, the single-measure scenarios (``m01_*`` ... ``m12_*``, sorted) and the
    package, as names :func:`sim.load_scenario` resolves."""
    from sim.scenario import known_names

    return [baseline, *(n for n in known_names() if _MEASURE_FILE.fullmatch(n)), package]


def label(scenario, baseline: str, package: str) -> str:
    """Label of a scenario in figures."""
    if scenario.name == baseline:
        return "Baseline 2021"
    if scenario.name == package:
        return "Package 2022 (all 12)"
    return MEASURE_LABELS.get(scenario.measure, scenario.name)


def _show_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_show_value(x) for x in v) + "]"
    return str(v)


def scenario_table(scenarios, overrides=()) -> pd.DataFrame:
    """What each scenario changes against the first, read from the scenario files.

    Parameters
    ----------
    scenarios : list of Scenario
        The baseline first, the package last.
    overrides : collection of str
        Keys set by the run (size, horizon), left out of the changes.
    """
    base = scenarios[0]

    def changes(sc) -> str:
        keys = [k for k in sc.values if k not in overrides and sc[k] != base[k]]
        text = "; ".join(f"{k}: {_show_value(base[k])} -> {_show_value(sc[k])}" for k in keys)
        return text or "(none)"

    first, last = base.name, scenarios[-1].name
    return pd.DataFrame(
        {
            "measure": [sc.measure if sc.measure else "" for sc in scenarios],
            "scenario": [sc.name for sc in scenarios],
            "label in figures": [label(sc, first, last) for sc in scenarios],
            "description": [sc.description for sc in scenarios],
            f"parameters changed against {first}": [changes(sc) for sc in scenarios],
            "risk shares (guarantor, re-guarantor, National Fund, bank, comp. fund)": [
                ", ".join(f"{s:.2f}" for s in sc.shares()) for sc in scenarios
            ],
        }
    ).set_index("scenario")


def calibration_check(baseline, summary: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Whether the calibration record and block exist, and the baseline against the targets.

    Parameters
    ----------
    baseline : Scenario
        The baseline scenario (its file is checked for the calibrated block).
    summary : pandas.DataFrame
        Summary of the run; the baseline's rows (one per replication) are used.

    Returns
    -------
    (list of str, pandas.DataFrame)
        Status lines, and one row per calibration target: target, tolerance, the baseline's
        mean and 95% half-width (in the unit shown) and whether it is within tolerance.
    """
    from sim.experiments.calibration import BLOCK_START, TARGETS

    from .report import t_interval

    path = Path(baseline.path)
    record = path.resolve().parent.parent / "docs" / "calibration.md"
    block = BLOCK_START in path.read_text(encoding="utf-8")
    status = [
        "calibration record docs/calibration.md: " + ("present" if record.is_file() else "missing"),
        f"calibrated block in {path.name}: "
        + ("present" if block else "ABSENT - the baseline runs on the pre-calibration defaults"),
    ]
    rows = []
    summary = summary[summary["scenario"] == baseline.name]
    for t in TARGETS:
        m, h = t_interval(summary[t.outcome])
        if t.outcome == "avg_guarantee_size":
            scale, unit = 1e-6, "million yuan"
        elif t.outcome == "guaranteed_volume_per_year":
            scale, unit = 1 / YI, "100m yuan / yr"
        else:
            scale, unit = (1, "x") if t.unit == "x" else (100, "%")
        rows.append(
            {
                "outcome": t.outcome,
                "unit": unit,
                "target": t.value * scale,
                "tolerance (+/-)": t.tolerance * scale,
                "baseline mean": m * scale,
                "95% CI (+/-)": h * scale,
                "within tolerance": "yes" if abs(m - t.value) <= t.tolerance else "NO",
                "source": t.source,
            }
        )
    return status, pd.DataFrame(rows).set_index("outcome")


class PackageReport:
    """Figures and tables of a comparison of the baseline, the measures and the package.

    Parameters
    ----------
    result : sim.experiments.Comparison
        :func:`sim.compare` over :func:`scenario_names` (baseline first, package last).
    horizon : int
        Reported months (for labels).
    n_smes : int
        Simulated SMEs per run (for notes).

    Attributes
    ----------
    order : list of str
        Scenario names, baseline first.
    labels : dict
        Scenario name -> label in figures.
    means : pandas.DataFrame
        Mean of every summary outcome per scenario (stored units).
    """

    def __init__(self, result, horizon: int, n_smes: int):
        from sim.outcomes import SUMMARY_FIELDS

        self.summary = result.summary
        self.ts = result.timeseries
        self.diffs = result.differences
        self.horizon, self.n_smes = horizon, n_smes
        self.reps = self.summary["replication"].nunique()
        self.order = list(dict.fromkeys(self.summary["scenario"]))
        self.base, self.package = self.order[0], self.order[-1]
        self.singles = self.order[1:-1]
        self.labels = {sc.name: label(sc, self.base, self.package) for sc in result.scenarios}
        cols = [c for c in SUMMARY_FIELDS if c in self.summary]
        self.means = self.summary.groupby("scenario", sort=False)[cols].mean().loc[self.order]
        self.y = np.arange(len(self.order))[::-1]
        loss = self.means[[f"loss_{p}" for p in PARTIES]].set_axis(list(PARTIES), axis=1) / YI
        self.loss = loss
        self.loss_share = loss.div(loss.sum(axis=1), axis=0) * 100

    def _ticks(self, ax) -> None:
        ax.set_yticks(self.y, self._lab(self.order))
        ax.grid(axis="y", visible=False)

    def _lab(self, names):
        return [self.labels[n] for n in names]

    def headline(self) -> pd.DataFrame:
        """Means per scenario of the headline outcomes, in the units shown."""
        table = outcome_table(self.means, HEADLINE)
        table.index = self._lab(table.index)
        return table

    def lending_by_channel(self):
        """Figure 1: guaranteed and direct lending per scenario, 95% CI of the total."""
        y, o = self.y, self.order
        g = self.means["guaranteed_volume"] / YI
        d = self.means["direct_volume"] / YI
        tot = self.summary.assign(v=self.summary["lending_volume"] / YI)
        tot_ci = interval_columns(tot, "scenario", "v").loc[o, "half"].to_numpy()
        fig, ax = new_figure(figsize=(9, 6.5))
        ax.barh(y, g, color=PARTY_COLORS["guarantor"], label="Guaranteed loans")
        ax.barh(y, d, left=g, color=PARTY_COLORS["bank"], label="Direct (unguaranteed) loans")
        ax.errorbar(
            g + d, y, xerr=tot_ci, fmt="none", ecolor="black", capsize=3, lw=1, label="95% CI"
        )
        ax.axvline(g[self.base], color=PARTY_COLORS["guarantor"], ls="--", lw=1)
        ax.axvline(g[self.base] + d[self.base], color=PARTY_COLORS["bank"], ls="--", lw=1)
        self._ticks(ax)
        ax.set_xlabel(f"New lending over {self.horizon} months (100 million yuan)")
        ax.set_title("New lending to SMEs by channel, per scenario")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, frameon=False)
        note = f"Mean of {self.reps} replications, {self.n_smes:,} simulated SMEs scaled to "
        fig.text(0.01, -0.06, note + "the population. Dashed lines: baseline.", fontsize=8)
        return fig

    def losses_by_party(self):
        """Figure 2: net credit losses by party, amounts and shares; and the amounts table."""
        fig, axes = new_figure(
            1, 2, figsize=(13, 6.5), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
        )
        for ax, table, xlabel in (
            (axes[0], self.loss, f"Loss net of recoveries over {self.horizon} months (100m yuan)"),
            (axes[1], self.loss_share, "Share of total net loss (%)"),
        ):
            pos = np.zeros(len(self.order))
            neg = np.zeros(len(self.order))
            for p in PARTIES:
                v = table.loc[self.order, p].to_numpy()
                left = np.where(v >= 0, pos, neg)
                ax.barh(self.y, v, left=left, color=PARTY_COLORS[p], label=PARTY_LABELS[p])
                pos += np.where(v >= 0, v, 0)
                neg += np.where(v < 0, v, 0)
            ax.set_xlabel(xlabel)
            ax.grid(axis="y", visible=False)
        self._ticks(axes[0])
        axes[1].axvline(100, color="grey", lw=0.8)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=5, frameon=False)
        fig.suptitle("Who bears credit losses, per scenario (mean over replications)")
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        table = self.loss.loc[self.order].rename(index=self.labels, columns=PARTY_LABELS)
        return fig, table

    def fiscal_cost(self):
        """Figure 3: fiscal cost by component, and per 100 yuan of additional lending
        (average with 95% CI; incremental against the baseline where significant); the
        table behind it."""
        o, y, m = self.order, self.y, self.means
        s = self.summary.assign(v=100 * self.summary["fiscal_cost_per_additional_yuan"])
        per_add = interval_columns(s, "scenario", "v").loc[o]
        d_add = m["additional_lending"] - m.loc[self.base, "additional_lending"]
        d_fis = m["fiscal_cost"] - m.loc[self.base, "fiscal_cost"]
        add = self.diffs[self.diffs["outcome"] == "additional_lending"].set_index("scenario")
        significant = (add["ci_low"].reindex(d_add.index) > 0) & (d_fis > 0)
        incremental = (100 * d_fis / d_add).where(significant)
        avg, err = per_add["mean"].to_numpy(), per_add["half"].to_numpy()
        fig, axes = new_figure(1, 2, figsize=(13, 6.5), sharey=True)
        left = np.zeros(len(o))
        for c, (lab, col) in FISCAL_COMPONENTS.items():
            v = m.loc[o, c].to_numpy() / YI
            axes[0].barh(y, v, left=left, color=col, label=lab)
            left += v
        axes[0].set_xlabel(f"Fiscal cost over {self.horizon} months (100 million yuan)")
        axes[0].set_title("Fiscal cost by component")
        axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        axes[1].barh(
            y,
            avg,
            xerr=np.nan_to_num(err),
            color="#999999",
            capsize=3,
            label="Average: fiscal cost / additional lending",
        )
        inc = incremental.loc[o].to_numpy()
        axes[1].plot(inc, y, "D", color="black", label="Incremental vs baseline")
        for yi, a, i in zip(y, avg, inc, strict=True):
            if np.isfinite(i):
                axes[1].annotate(
                    f"{i:.1f}", (i, yi), xytext=(6, 4), textcoords="offset points", fontsize=8
                )
            if a > 0:
                axes[1].annotate(
                    f"{a:.2f}",
                    (0, yi),
                    xytext=(2, -12),
                    textcoords="offset points",
                    fontsize=7,
                    color="dimgrey",
                )
        axes[1].set_xlabel("Yuan of fiscal cost per 100 yuan of additional lending")
        axes[1].set_title("Fiscal cost per yuan of additional lending")
        axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
        self._ticks(axes[0])
        axes[1].grid(axis="y", visible=False)
        fig.tight_layout()
        table = pd.DataFrame(
            {
                "fiscal cost (100m yuan)": m["fiscal_cost"] / YI,
                "additional lending (100m yuan)": m["additional_lending"] / YI,
                "additional / guaranteed (%)": 100
                * m["additional_lending"]
                / m["guaranteed_volume"],
                "average (yuan per 100 yuan)": avg,
                "incremental (yuan per 100 yuan)": incremental,
            }
        )
        return fig, table.loc[o].rename(index=self.labels)

    def leverage(self):
        """Figure 4: gross and net leverage over time (baseline, package, the two measures
        that raise leverage most) and at the end against the cap; net leverage as % of the
        cap."""
        from matplotlib.lines import Line2D

        ts = self.ts
        net = ts["guarantee_liability_net"] / ts["guarantor_equity"].where(
            ts["guarantor_equity"] > 0
        )
        monthly = (
            ts.assign(net_leverage=net)
            .groupby(["scenario", "month"], sort=False)[
                ["leverage", "net_leverage", "leverage_cap"]
            ]
            .mean()
        )
        top2 = list(self.means.loc[self.singles, "leverage"].nlargest(2).index)
        shown = [self.base, *top2, self.package]
        colors = dict(zip(shown, PATH_COLORS, strict=True))
        fig, axes = new_figure(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [3, 2]})
        ax = axes[0]
        for n in shown:
            mm = monthly.loc[n]
            ax.plot(mm.index, mm["leverage"], color=colors[n], lw=1.8)
            ax.plot(mm.index, mm["net_leverage"], color=colors[n], lw=1.2, ls=":")
        cap = monthly["leverage_cap"].mean()
        ax.axhline(cap, color="grey", ls="--", lw=1.2)
        ax.set_xlabel("Month of the reported horizon")
        ax.set_ylabel("Guarantee liability / guarantors' net assets (x)")
        ax.set_ylim(0, max(cap * 1.1, float(monthly["leverage"].max()) * 1.1))
        ax.set_title("Guarantor leverage over time")
        handles = [Line2D([], [], color=colors[n], lw=2, label=self.labels[n]) for n in shown] + [
            Line2D([], [], color="dimgrey", lw=1.8, label="gross"),
            Line2D([], [], color="dimgrey", lw=1.2, ls=":", label="net of cessions"),
            Line2D([], [], color="grey", lw=1.2, ls="--", label=f"applicable cap ({cap:.1f}x)"),
        ]
        ax.legend(
            handles=handles,
            fontsize=8,
            ncol=2,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
        )
        ax = axes[1]
        m = self.means.loc[self.order]
        ax.plot(m["leverage"], self.y, "o", color="#DD8452", label="gross (end of horizon)")
        ax.plot(m["net_leverage"], self.y, "s", color="#4C72B0", label="net of cessions (capped)")
        ax.plot(m["leverage_cap"], self.y, "|", color="black", ms=14, mew=2, label="cap")
        self._ticks(ax)
        ax.set_xlim(0, None)
        ax.set_xlabel("Leverage (x)")
        ax.set_title("End-of-horizon leverage vs cap")
        ax.legend(
            fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2
        )
        fig.tight_layout()
        use = (m["net_leverage"] / m["leverage_cap"] * 100).rename(index=self.labels)
        return fig, use.to_frame("net leverage, % of the applicable cap (end of horizon)")

    def forest(self):
        """Figure 5: paired differences to the baseline with 95% CI, four outcomes."""
        from sim.outcome_registry import OUTCOMES

        others = self.order[1:]
        yy = np.arange(len(others))[::-1]
        fig, axes = new_figure(2, 2, figsize=(13, 9), sharey=True)
        for ax, o in zip(axes.flat, FOREST, strict=True):
            s = OUTCOMES[o].style.factor
            dd = self.diffs[self.diffs["outcome"] == o].set_index("scenario").loc[others]
            mid, lo, hi = (dd[c].to_numpy() * s for c in ("diff", "ci_low", "ci_high"))
            sig = (lo > 0) | (hi < 0)
            ax.hlines(yy, lo, hi, color="black", lw=1.2)
            ax.plot(mid[sig], yy[sig], "o", color="#C44E52", ms=6, label="95% CI excludes 0")
            ax.plot(mid[~sig], yy[~sig], "o", mfc="white", mec="black", ms=6, label="includes 0")
            ax.axvline(0, color="grey", lw=1)
            title = axis_label(o, diff=True)
            ax.set_title(f"Change in {title[0].lower() + title[1:]}", fontsize=10)
            base_level = self.means.loc[self.base, o] * s
            ax.set_xlabel(f"Scenario minus baseline (baseline: {base_level:,.2f})")
            ax.grid(axis="y", visible=False)
        for ax in axes[:, 0]:
            ax.set_yticks(yy, self._lab(others))
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2)
        fig.suptitle(f"Paired differences vs baseline, mean and 95% CI ({self.reps} replications)")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return fig

    def monthly_guaranteed(self):
        """Figure 6: new guaranteed lending per month with a 95% CI band (baseline, the two
        measures with the largest effect on guaranteed volume, the package)."""
        d = self.diffs
        eff = d[(d["outcome"] == "guaranteed_volume") & d["scenario"].isin(self.singles)]
        top = list(eff.assign(a=eff["diff"].abs()).nlargest(2, "a")["scenario"])
        shown = [self.base, *top, self.package]
        ts = self.ts[self.ts["scenario"].isin(shown)]
        band = interval_columns(ts.assign(v=ts["new_guaranteed"] / YI), ["scenario", "month"], "v")
        fig, ax = new_figure(figsize=(10, 4.5))
        for n, col in zip(shown, PATH_COLORS, strict=True):
            b = band.loc[n].sort_index()
            half = b["half"].fillna(0)
            ax.plot(b.index, b["mean"], color=col, label=self.labels[n])
            ax.fill_between(b.index, b["mean"] - half, b["mean"] + half, color=col, alpha=0.15)
        ax.set_xlabel("Month of the reported horizon")
        ax.set_ylabel("New guaranteed lending per month (100 million yuan)")
        ax.set_ylim(0, None)
        ax.set_title("New guaranteed lending per month")
        ax.legend(
            fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4
        )
        return fig

    def additivity(self) -> pd.DataFrame:
        """The package's paired difference against the sum of the single measures'."""
        piv = self.diffs.pivot(index="scenario", columns="outcome", values="diff")
        total = piv.loc[self.singles, list(ADDITIVITY)].sum()
        pkg = piv.loc[self.package, list(ADDITIVITY)]
        table = pd.DataFrame(
            {
                "sum of single measures": total,
                "package": pkg,
                "interaction (package - sum)": pkg - total,
            }
        )
        return outcome_table(table.T, ADDITIVITY, diff=True).T

    def _diff_text(self, scenario, o, rel=True) -> str:
        from sim.outcome_registry import OUTCOMES

        s = OUTCOMES[o].style.factor
        unit = OUTCOMES[o].figure_unit(diff=True)
        d = self.diffs
        r = d[(d["outcome"] == o) & (d["scenario"] == scenario)].iloc[0]
        lo, hi = r["ci_low"] * s, r["ci_high"] * s
        txt = f"{r['diff'] * s:+,.2f} {unit} [{lo:+,.2f}, {hi:+,.2f}]"
        base_level = self.means.loc[self.base, o]
        if rel and base_level:
            txt += f" ({100 * r['diff'] / base_level:+.0f}% of baseline)"
        return txt

    def key_numbers(self) -> str:
        """The run's key numbers as Markdown (paired differences with 95% CI)."""
        d, lab, sh = self.diffs, self.labels, self.loss_share
        gv = d[(d["outcome"] == "guaranteed_volume") & d["scenario"].isin(self.singles)]
        gv = gv.set_index("scenario")["diff"]
        core = self.summary.set_index(["scenario", "replication"])[
            ["lending_volume", "guaranteed_volume", "direct_volume", "default_rate"]
            + ["loss_bank", "loss_guarantor", "fiscal_cost"]
        ]
        null = [lab[n] for n in self.singles if core.loc[n].equals(core.loc[self.base])]
        pk, bs, P, B = (
            self.means.loc[self.package],
            self.means.loc[self.base],
            self.package,
            self.base,
        )
        lines = [
            "- **Package vs baseline, guaranteed volume:** "
            f"{self._diff_text(P, 'guaranteed_volume')}.",
            f"- **Package, total lending:** {self._diff_text(P, 'lending_volume')}.",
            "- **Package, default rate of the guaranteed book:** "
            f"{self._diff_text(P, 'default_rate_guaranteed', rel=False)} "
            f"(baseline {100 * bs['default_rate_guaranteed']:.2f}% p.a.).",
            f"- **Package, fiscal cost:** {pk['fiscal_cost'] / YI:,.2f} 100m yuan over "
            f"{self.horizon} months, {100 * pk['fiscal_cost_per_additional_yuan']:.2f} yuan per "
            "100 yuan of additional lending.",
            f"- **Banks' share of net losses:** {sh.loc[B, 'bank']:.0f}% in the baseline, "
            f"{sh.loc[P, 'bank']:.0f}% with the package; guarantors' share "
            f"{sh.loc[B, 'guarantor']:.0f}% -> {sh.loc[P, 'guarantor']:.0f}%.",
            f"- **Largest single-measure increase in guaranteed volume:** {lab[gv.idxmax()]}, "
            f"{self._diff_text(gv.idxmax(), 'guaranteed_volume')}.",
            f"- **Largest single-measure decrease:** {lab[gv.idxmin()]}, "
            f"{self._diff_text(gv.idxmin(), 'guaranteed_volume')}.",
            f"- **End-of-horizon leverage:** baseline {bs['leverage']:.2f}x gross, package "
            f"{pk['leverage']:.2f}x (net of cessions {pk['net_leverage']:.2f}x against a cap of "
            f"about {pk['leverage_cap']:.1f}x).",
            "- **Single measures with lending, default, loss and fiscal outcomes identical to the "
            "baseline in every replication:** " + (", ".join(null) if null else "none") + ".",
        ]
        return "\n".join(lines)


def ensemble_table(bands: pd.DataFrame, baseline: str, package: str) -> pd.DataFrame:
    """The package over the ensemble: medians and 5-95% bands of levels and of the paired
    difference to the baseline (``Comparison.bands``), in the units shown."""
    from sim.outcome_registry import OUTCOMES

    b = bands.set_index(["outcome", "scenario"])
    rows = {}
    for o in BANDS:
        if (o, package) not in b.index:
            continue
        r, base_r, s = b.loc[(o, package)], b.loc[(o, baseline)], OUTCOMES[o].style.factor
        rows[axis_label(o)] = {
            "baseline median": base_r["median"] * s,
            "package median": r["median"] * s,
            "package 5%": r["q05"] * s,
            "package 95%": r["q95"] * s,
            "difference median": r["diff_median"] * s,
            "difference 5%": r["diff_q05"] * s,
            "difference 95%": r["diff_q95"] * s,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("outcome")


def outcome_table(table: pd.DataFrame, keys, diff: bool = False) -> pd.DataFrame:
    """:func:`sim.interfaces.report.outcome_columns` of ``keys`` present in ``table``."""
    from .report import outcome_columns

    return outcome_columns(table, [k for k in keys if k in table.columns], diff=diff)


__all__ += ["ensemble_table", "outcome_table"]
