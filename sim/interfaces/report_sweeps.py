"""Tables and figures of report notebook 02, the bank's risk share x the fee subsidy.

:class:`GridReport` takes a :class:`sim.SweepResult` of a grid over ``bank.share`` and
``government.fee_subsidy_rate`` (``risk_share_fee_grid.toml``); :func:`lever_variants` and
:func:`variant_table` run the two levers over the calibrated ensemble; the sweep helpers
(:func:`grid_values`, :func:`require_complete`, :func:`describe_sweep`) serve notebook 03
(:mod:`sim.interfaces.report_sobol`) too. Money is shown in 亿元 (100 million yuan), rates in %;
intervals are Student-t 95% intervals over replications (:func:`sim.interfaces.report.t_interval`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .report import PARTIES, PARTY_COLORS, PARTY_LABELS, YI, interval_columns, new_figure

__all__ = [
    "BANK",
    "SUBSIDY",
    "FLOOR",
    "GRID_OUTCOMES",
    "grid_values",
    "require_complete",
    "describe_sweep",
    "GridReport",
    "lever_variants",
    "variant_table",
]

BANK, SUBSIDY = "bank.share", "government.fee_subsidy_rate"
#: The State Council 2019 floor (国办发〔2019〕6号): banks retain at least 20% of the risk.
FLOOR = 0.2
#: Outcomes of notebook 02: title, unit shown, scale from the stored unit.
GRID_OUTCOMES = {
    "guaranteed_volume": ("Guaranteed volume", "100 million yuan", 1 / YI),
    "default_rate_guaranteed": ("Default rate of the guaranteed book", "% p.a.", 100),
    "fiscal_cost": ("Fiscal cost", "100 million yuan", 1 / YI),
}
_CMAPS = {"guaranteed_volume": "viridis", "default_rate_guaranteed": "magma_r"}
_FLOOR_TEXT = " State Council 2019 floor: bank >= 20%"


def grid_values(values: dict) -> dict:
    """``{key: {"values": [...]}}`` for ``Sweep.with_(parameters=...)`` from
    ``{key: list or None}``, leaving out the keys given as ``None``."""
    return {k: {"values": [float(x) for x in v]} for k, v in values.items() if v is not None}


def require_complete(result) -> None:
    """Raise if any run of a sweep failed, naming how many (the failed runs are shown)."""
    if len(result.failed):
        from .report import _display

        _display(result.failed[["point", "replication", "status", "error"]])
        raise RuntimeError(f"{len(result.failed)} runs failed")


def describe_sweep(sweep) -> str:
    """The sweep's design, fixed values and base scenario's risk shares, as text."""
    lines = [str(sweep)]
    for key, values in zip(sweep.design.names, sweep.design.values or (), strict=False):
        lines.append(f"  {key}: {', '.join(f'{v:g}' for v in values)}")
    lines.append(f"  fixed: {sweep.fixed}; balancing share: {sweep.balance}")
    lines.append(
        "base scenario risk shares (guarantor, re-guarantor, National Fund, bank, comp. fund): "
        + ", ".join(f"{s:.2f}" for s in sweep.base.shares())
    )
    lines.append(
        f"base fee subsidy: {sweep.base['government.fee_subsidy_rate']:.4f} per yuan p.a., "
        f"threshold {sweep.base['government.fee_subsidy_threshold']:.4f}"
    )
    return "\n".join(lines)


def _edges(values) -> np.ndarray:
    """Cell edges around grid values (midpoints; half a step beyond the ends)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5]) if v[0] == 0 else v[0] * np.array([0.5, 1.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _floor(ax) -> None:
    ax.axvline(FLOOR, color="red", lw=1.5)
    ax.text(
        FLOOR,
        1.0,
        _FLOOR_TEXT,
        color="red",
        fontsize=8,
        va="top",
        transform=ax.get_xaxis_transform(),
    )


class GridReport:
    """Figures and tables of a grid sweep over the bank's share and the fee subsidy.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``result.summary`` of a complete run of ``risk_share_fee_grid.toml`` (or a resized
        copy).
    base : Scenario
        The sweep's base scenario (``sweep.base``), for the package's own setting.
    horizon : int
        Reported months (for labels).
    """

    def __init__(self, summary: pd.DataFrame, base, horizon: int):
        self.summary = s = summary
        self.base, self.horizon = base, horizon
        self.reps = s["replication"].nunique()
        self.banks = np.sort(s[BANK].unique())
        self.subs = np.sort(s[SUBSIDY].unique())
        cols = [*GRID_OUTCOMES, "direct_volume", "avg_guarantee_fee", "fee_subsidies"]
        cols += [f"loss_{p}" for p in PARTIES] + ["guarantor.share"]
        self.grid = s.groupby([BANK, SUBSIDY])[cols].mean()
        self.package_point = (base[BANK], base[SUBSIDY])
        self.b_ref = self.banks[np.argmin(np.abs(self.banks - FLOOR))]

    def __str__(self) -> str:
        return (
            f"{len(self.summary)} runs: {len(self.banks)} bank shares x {len(self.subs)} "
            f"subsidy rates x {self.reps} replications"
        )

    def means(self) -> pd.DataFrame:
        """Means over replications per grid point (money in 100m yuan, rates in %)."""
        g = self.grid
        return pd.DataFrame(
            {
                "guarantor share": g["guarantor.share"],
                "guaranteed (100m yuan)": g["guaranteed_volume"] / YI,
                "direct (100m yuan)": g["direct_volume"] / YI,
                "default rate guaranteed (%)": 100 * g["default_rate_guaranteed"],
                "avg fee after subsidy (%)": 100 * g["avg_guarantee_fee"],
                "fee subsidies (100m yuan)": g["fee_subsidies"] / YI,
                "fiscal cost (100m yuan)": g["fiscal_cost"] / YI,
            }
        )

    def heatmaps(self):
        """Figure 1: heat maps of the three outcomes over (bank share, fee subsidy), with the
        2019 floor and the package's setting."""
        from matplotlib import patheffects

        banks, subs, px = self.banks, self.subs, self.package_point
        fig, axes = new_figure(1, 3, figsize=(17, 5.2))
        for ax, (o, (title, unit, scale)) in zip(axes, GRID_OUTCOMES.items(), strict=True):
            z = self.grid[o].unstack(BANK).reindex(index=subs, columns=banks).to_numpy() * scale
            xe, ye = _edges(banks), _edges(100 * subs)
            cmap = _CMAPS.get(o, "cividis")
            mesh = ax.pcolormesh(xe, ye, z, cmap=cmap, shading="flat")
            fig.colorbar(mesh, ax=ax, pad=0.02).set_label(f"{title} ({unit})")
            lo, hi = np.nanmin(z), np.nanmax(z)
            frac = (z - lo) / (hi - lo) if hi > lo else np.full_like(z, 0.5)
            dark = frac > 0.5 if cmap == "magma_r" else frac < 0.5
            for (i, j), v in np.ndenumerate(z):
                ax.text(
                    banks[j],
                    100 * subs[i],
                    f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    zorder=4,
                    color="white" if dark[i, j] else "black",
                    path_effects=[
                        patheffects.withStroke(
                            linewidth=2, foreground="black" if dark[i, j] else "white"
                        )
                    ],
                )
            ax.axvline(FLOOR, color="red", lw=2, zorder=2, label=_FLOOR_TEXT.strip())
            if xe[0] <= px[0] <= xe[-1] and ye[0] <= 100 * px[1] <= ye[-1]:
                ax.plot(
                    px[0],
                    100 * px[1],
                    marker="*",
                    ms=16,
                    mfc="white",
                    mec="black",
                    ls="none",
                    zorder=5,
                    label="2022 package setting",
                )
            ax.set_yticks(100 * subs, [f"{100 * s_:.2f}" for s_ in subs])
            ax.set_xticks(banks, [f"{b_:.2f}" for b_ in banks])
            ax.set_xlabel("Bank's retained risk share (bank.share)")
            ax.set_ylabel("Fee subsidy (% of loan per year)")
            total = f", total over {self.horizon} months" if "yuan" in unit else ""
            ax.set_title(f"{title}\n({unit}{total})", fontsize=10)
            ax.grid(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, fontsize=9)
        fig.suptitle(
            "2022 package with varying bank share and fee subsidy "
            f"(guarantor share balances; mean of {self.reps} replications)",
            y=1.04,
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return fig

    def responses(self):
        """Figure 2: each outcome against the bank's share, one line per subsidy level, with
        the 95% CI over replications as a band."""
        from matplotlib import colormaps

        cmap = colormaps["plasma"].resampled(len(self.subs) + 1)
        fig, axes = new_figure(1, 3, figsize=(17, 4.8))
        for ax, (o, (title, unit, scale)) in zip(axes, GRID_OUTCOMES.items(), strict=True):
            ci = interval_columns(
                self.summary.assign(v=self.summary[o] * scale), [SUBSIDY, BANK], "v"
            )
            for k, s_ in enumerate(self.subs):
                c = ci.loc[s_].reindex(self.banks)
                m, h = c["mean"].to_numpy(), np.nan_to_num(c["half"].to_numpy())
                ax.plot(self.banks, m, marker="o", color=cmap(k), label=f"subsidy {100 * s_:.2f}%")
                ax.fill_between(self.banks, m - h, m + h, color=cmap(k), alpha=0.15, lw=0)
            _floor(ax)
            ax.set_xlabel("Bank's retained risk share (bank.share)")
            ax.set_ylabel(f"{title} ({unit})")
            ax.set_title(title, fontsize=10)
            ax.set_xticks(self.banks)
        fig.legend(
            *axes[0].get_legend_handles_labels(),
            loc="lower center",
            ncol=len(self.subs),
            frameon=False,
            fontsize=9,
        )
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        return fig

    def paired_effects(self) -> pd.DataFrame:
        """Paired differences (common random numbers) between grid points: the bank's share
        from the lowest to the floor and from the floor to the highest without subsidy, and
        the subsidy from lowest to highest at the floor; 95% CI."""
        from .report import t_interval

        banks, subs, b_ref, s = self.banks, self.subs, self.b_ref, self.summary
        changes = (
            (
                f"bank share {banks[0]:.2f} -> {b_ref:.2f}, no subsidy",
                (banks[0], subs[0]),
                (b_ref, subs[0]),
            ),
            (
                f"bank share {b_ref:.2f} -> {banks[-1]:.2f}, no subsidy",
                (b_ref, subs[0]),
                (banks[-1], subs[0]),
            ),
            (
                f"subsidy {100 * subs[0]:.2f}% -> {100 * subs[-1]:.2f}%, bank share {b_ref:.2f}",
                (b_ref, subs[0]),
                (b_ref, subs[-1]),
            ),
        )
        at = s.set_index([BANK, SUBSIDY, "replication"]).sort_index()
        rows = []
        for o, (title, unit, scale) in GRID_OUTCOMES.items():
            for text, ref, point in changes:
                a, r = at.loc[point, o], at.loc[ref, o]
                m, h = t_interval((a - r).dropna() * scale)
                r_mean = float(r.mean() * scale)
                rows.append(
                    {
                        "change": text,
                        "outcome": f"{title} ({unit})",
                        "from": r_mean,
                        "difference": m,
                        "95% CI +/-": h,
                        "relative (%)": 100 * m / r_mean if r_mean else np.nan,
                    }
                )
        return pd.DataFrame(rows).set_index(["change", "outcome"])

    def losses_by_party(self):
        """Figure 3: net credit losses by party against the bank's share, at the subsidy
        closest to the package's."""
        banks = self.banks
        s_pkg = self.subs[np.argmin(np.abs(self.subs - self.package_point[1]))]
        part = self.grid.xs(s_pkg, level=SUBSIDY).reindex(banks)
        fig, ax = new_figure(figsize=(8, 4.8))
        bottom = np.zeros(len(banks))
        width = 0.8 * (np.min(np.diff(banks)) if len(banks) > 1 else 0.1)
        for p in PARTIES:
            v = part[f"loss_{p}"].to_numpy() / YI
            ax.bar(
                banks, v, width=width, bottom=bottom, color=PARTY_COLORS[p], label=PARTY_LABELS[p]
            )
            bottom += v
        _floor(ax)
        ax.set_xticks(banks)
        ax.set_xlabel("Bank's retained risk share (bank.share)")
        ax.set_ylabel(f"Loss net of recoveries over {self.horizon} months (100 million yuan)")
        ax.set_title(
            f"Who bears credit losses (fee subsidy {100 * s_pkg:.2f}%, "
            f"mean of {self.reps} replications)",
            fontsize=10,
        )
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False, fontsize=8
        )
        return fig

    def tradeoff(self):
        """Figure 4: fiscal cost against guaranteed volume, one line per bank share in
        order of the subsidy (arrow: larger subsidy)."""
        from matplotlib import colormaps

        fig, ax = new_figure(figsize=(8, 5.5))
        bmap = colormaps["viridis"].resampled(len(self.banks) + 1)
        for j, b_ in enumerate(self.banks):
            d = self.grid.xs(b_, level=BANK).reindex(self.subs)
            x, y = d["guaranteed_volume"] / YI, d["fiscal_cost"] / YI
            floor = np.isclose(b_, FLOOR)
            ax.plot(
                x,
                y,
                "-o",
                color=bmap(j),
                lw=2.5 if floor else 1.2,
                label=f"bank share {b_:.2f}" + (" (2019 floor)" if floor else ""),
            )
            if len(d) > 1:
                ax.annotate(
                    "",
                    xy=(x.iloc[-1], y.iloc[-1]),
                    xytext=(x.iloc[-2], y.iloc[-2]),
                    arrowprops={"arrowstyle": "->", "color": bmap(j)},
                )
        ax.set_xlabel(f"Guaranteed volume over {self.horizon} months (100 million yuan)")
        ax.set_ylabel(f"Fiscal cost over {self.horizon} months (100 million yuan)")
        ax.set_title(
            "Fiscal cost vs guaranteed volume across the grid\n"
            "(lines: same bank share; arrow: larger fee subsidy)",
            fontsize=10,
        )
        ax.legend(fontsize=8, frameon=False)
        return fig

    def key_numbers(self, effects: pd.DataFrame) -> str:
        """The run's key numbers as Markdown, from :meth:`paired_effects`."""

        def say(change, o):
            title, unit, _ = GRID_OUTCOMES[o]
            r = effects.loc[(change, f"{title} ({unit})")]
            return (
                f"{r['difference']:+,.2f} {unit} (±{r['95% CI +/-']:,.2f}; "
                f"{r['relative (%)']:+.0f}% of {r['from']:,.2f})"
            )

        lines = [
            f"- **{c}:** guaranteed volume {say(c, 'guaranteed_volume')}; default rate of the "
            f"guaranteed book {say(c, 'default_rate_guaranteed')}; fiscal cost "
            f"{say(c, 'fiscal_cost')}."
            for c in dict.fromkeys(effects.index.get_level_values(0))
        ]
        g, b_ref = self.grid, self.b_ref
        hi, lo = (b_ref, self.subs[-1]), (b_ref, self.subs[0])
        d_vol = g.loc[hi, "guaranteed_volume"] - g.loc[lo, "guaranteed_volume"]
        d_fis = g.loc[hi, "fiscal_cost"] - g.loc[lo, "fiscal_cost"]
        if d_vol > 0:
            lines.append(
                f"- **Marginal fiscal cost of the subsidy** at bank share {b_ref:.2f}: "
                f"{100 * d_fis / d_vol:.1f} yuan per 100 yuan of extra guaranteed lending."
            )
        budget = self.base["government.fee_subsidy_budget"]
        paid = g["fee_subsidies"] / YI
        lines.append(
            f"- **Fee subsidies actually paid** range from {paid.min():,.2f} to {paid.max():,.2f} "
            f"100m yuan over the horizon (budget {budget / YI:,.0f} 100m yuan a year)."
        )
        return "\n".join(lines)


def lever_variants(base, n_smes: int, horizon: int) -> list:
    """The package (``base``'s file at this size), the package with the bank retaining no
    risk (the guarantor takes its share) and the package without the fee subsidy."""
    from sim.scenario import load_scenario

    pkg = load_scenario(base.path, overrides={"run.n_smes": n_smes, "run.horizon": horizon})
    no_bank = {BANK: 0.0, "guarantor.share": pkg["guarantor.share"] + pkg[BANK]}
    return [
        replace(pkg, name="package"),
        replace(pkg.with_overrides(no_bank), name="bank share 0"),
        replace(pkg.with_overrides({SUBSIDY: 0.0}), name="no fee subsidy"),
    ]


def variant_table(bands: pd.DataFrame, variants) -> pd.DataFrame:
    """Each variant's paired difference to the first over the ensemble: median and 5-95%
    band (``Comparison.bands``), in the units shown."""
    b = bands.set_index(["outcome", "scenario"])
    first = variants[0].name
    rows = []
    for v in variants[1:]:
        for o, (title, unit, scale) in GRID_OUTCOMES.items():
            r = b.loc[(o, v.name)]
            rows.append(
                {
                    "variant": v.name,
                    "outcome": f"{title} ({unit})",
                    "package median": b.loc[(o, first), "median"] * scale,
                    "difference median": r["diff_median"] * scale,
                    "difference 5%": r["diff_q05"] * scale,
                    "difference 95%": r["diff_q95"] * scale,
                }
            )
    return pd.DataFrame(rows).set_index(["variant", "outcome"])


def band_outcomes() -> dict:
    """``{outcome: (label, scale)}`` of :data:`GRID_OUTCOMES` for
    :func:`sim.interfaces.plots.difference_bands`."""
    return {o: (f"{t} ({u})", s) for o, (t, u, s) in GRID_OUTCOMES.items()}


__all__ += ["band_outcomes"]
