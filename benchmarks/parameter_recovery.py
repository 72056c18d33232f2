"""Parameter recovery of the ensemble calibration, all calibrated parameters at once.

Targets are produced by the model itself at a known parameter set θ* (the baseline
scenario's values of every calibrated parameter and strength in θ), with the real targets'
tolerances, from many runs with a root seed other than the calibration's (so the synthetic
"observations" carry their own Monte-Carlo noise, as real data do). History matching
(``sim.experiments.ensemble.history_match``, every dimension of ``calibration_dimensions()``) then
calibrates against them; the figure and the table show, for each parameter, the members'
90% band (5-95% quantiles) on the unit scale of its prior beside θ*, and the share of
parameters whose band contains θ* (issue 17 asks for at least 80%).

Writes ``docs/figures/parameter_recovery.png`` and the block between
``<!-- parameter-recovery:start -->`` and ``<!-- parameter-recovery:end -->`` of
``docs/calibration.md``::

    python benchmarks/parameter_recovery.py                     # 10,000 SMEs, 3 waves
    python benchmarks/parameter_recovery.py --n-smes 2000 --waves 1 --points 30 --print
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from mdsections import replace_block

from sim.experiments.calibration import TARGETS, yearly_estimates
from sim.experiments.ensemble import (
    _base_value,
    calibration_dimensions,
    history_match,
    theta_overrides,
)
from sim.experiments.targets import Targets
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
START, END = "<!-- parameter-recovery:start -->", "<!-- parameter-recovery:end -->"
FIGURE = ROOT / "docs" / "figures" / "parameter_recovery.png"


def synthetic_targets(n_smes: int, reps: int, seed: int, workers: int):
    """The real targets with their values replaced by the model's estimates at θ*, θ*, and
    the scenario the search starts from: θ* with every dimension at its prior's median (the
    search starts from the scenario's values; it must not start at the truth)."""
    base = load_scenario(BASELINE, overrides={"run.n_smes": n_smes})
    truth = {d.key: _base_value(base, d.key) for d in calibration_dimensions()}
    years = yearly_estimates(base, reps, seed, TARGETS, workers=workers)
    synthetic = Targets(
        tuple(
            dataclasses.replace(t, value=t.estimate(years[years["year"] == t.year]))
            for t in TARGETS
        ),
        TARGETS.start,
        "synthetic (the model at the baseline's values)",
    )
    dims = calibration_dimensions()
    start = base.with_overrides(theta_overrides(base, dims, [d.value(0.5) for d in dims]))
    return synthetic, truth, start


def figure(rows: list[dict], path: Path) -> None:
    """Members' 90% band and median on each prior's unit scale, θ* marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 0.28 * len(rows) + 1.2))
    ax = fig.add_subplot()
    for i, r in enumerate(rows):
        colour = "#1f77b4" if r["covered"] else "#d62728"
        ax.plot([r["lo_u"], r["hi_u"]], [i, i], color=colour, lw=4, alpha=0.6)
        ax.plot(r["med_u"], i, "o", color=colour, ms=4)
        ax.plot(r["truth_u"], i, "kx", ms=7, mew=1.5)
    ax.set_yticks(range(len(rows)), [r["key"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("prior quantile (0-1): members' 5-95% band and median; x = true value")
    covered = sum(r["covered"] for r in rows)
    title = f"Parameter recovery: {covered} of {len(rows)} bands contain the truth"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-smes", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=4, help="stratified runs per point")
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--points", type=int, default=None, help="points per wave (10 x dim)")
    ap.add_argument("--truth-reps", type=int, default=32, help="runs of the synthetic data")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--print", action="store_true", help="print only; write nothing")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    synthetic, truth, start = synthetic_targets(
        args.n_smes, args.truth_reps, args.seed + 1, args.workers
    )
    result = history_match(
        start,
        targets=synthetic,
        n_smes=args.n_smes,
        replications=args.reps,
        seed=args.seed,
        waves=args.waves,
        points=args.points,
        workers=args.workers,
        progress=lambda stage, done, n: print(f"\r{stage}: {done}/{n}", end="", flush=True),
    )
    minutes = (time.perf_counter() - t0) / 60
    print()
    rows = []
    for d in calibration_dimensions():
        col = result.members[d.key].to_numpy(float)
        lo, med, hi = np.quantile(col, [0.05, 0.5, 0.95])
        rows.append(
            {
                "key": d.key,
                "truth": truth[d.key],
                "lo": lo,
                "med": med,
                "hi": hi,
                "covered": bool(lo <= truth[d.key] <= hi),
                "truth_u": float(d.prior.cdf(truth[d.key])),
                "lo_u": float(d.prior.cdf(lo)),
                "med_u": float(d.prior.cdf(med)),
                "hi_u": float(d.prior.cdf(hi)),
            }
        )
    covered = sum(r["covered"] for r in rows)
    st = result.settings
    lines = [
        START,
        "",
        f"Command: `python benchmarks/parameter_recovery.py --n-smes {args.n_smes} --reps "
        f"{args.reps} --waves {args.waves} --truth-reps {args.truth_reps} --seed {args.seed}` "
        f"({result.runs:,} calibration runs, {minutes:.0f} minutes on this 2-core machine; "
        f"{len(result.members)} members from the {st['region']} region).",
        "",
        f"**{covered} of {len(rows)} ({100 * covered / len(rows):.0f}%) of the members' 90% "
        "bands contain the true value** (issue 17 asks for at least 80%). The synthetic targets "
        f"are the model's own estimates at θ* from {args.truth_reps} runs with root seed "
        f"{args.seed + 1}; tolerances are the real targets'; the search starts at the priors' "
        "medians (θ*'s values of the parameters not calibrated).",
        "",
        "![parameter recovery](figures/parameter_recovery.png)",
        "",
        "| parameter | true value | members 5% | median | 95% | band / prior | contains |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['key']}` | {r['truth']:.4g} | {r['lo']:.4g} | {r['med']:.4g} | "
            f"{r['hi']:.4g} | {100 * (r['hi_u'] - r['lo_u']):.0f}% | "
            f"{'yes' if r['covered'] else '**no**'} |"
        )
    lines += ["", END]
    block = "\n".join(lines)
    print(block)
    if args.print:
        return 0
    figure(rows, FIGURE)
    doc = ROOT / "docs" / "calibration.md"
    doc.write_text(replace_block(doc.read_text(encoding="utf-8"), START, END, block), "utf-8")
    print(f"wrote {FIGURE.relative_to(ROOT)} and the recovery block of docs/calibration.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
