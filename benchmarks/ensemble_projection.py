"""How much the 2021 figures narrow the package projection: prior against posterior.

The 2022 package is compared with the baseline for two ensembles of the same size:

- **prior**: parameter sets drawn by a Latin hypercube from the priors alone (the
  calibrated parameters over their search ranges, every strength over its prior), i.e.
  what the model says before it has seen the 2021 figures;
- **posterior**: the first members of the calibrated ensemble
  (``scenarios/ensembles/baseline_2021.parquet``), i.e. the parameter sets the figures do
  not rule out, with the strengths they cannot inform still drawn from their priors.

For each, the table gives the median and the 5-95% band of the paired difference over
members and replications (parameter and stochastic uncertainty together), and the ratio of
the band widths. The table is written between ``<!-- ensemble-projection:start -->`` and
``<!-- ensemble-projection:end -->`` of ``docs/validation.md``::

    python benchmarks/ensemble_projection.py            # 40 members x 1 replication each
    python benchmarks/ensemble_projection.py --members 10 --n-smes 5000 --print
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from mdsections import replace_block

from sim.experiments.ensemble import (
    calibration_dimensions,
    constraint,
    projection_dimensions,
)
from sim.experiments.members import read_members
from sim.experiments.replications import compare

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "validation.md"
START, END = "<!-- ensemble-projection:start -->", "<!-- ensemble-projection:end -->"
CONSTRAINT_START = "<!-- ensemble-constraint:start -->"
CONSTRAINT_END = "<!-- ensemble-constraint:end -->"
OUTCOMES = (
    ("guaranteed_volume", "guaranteed volume (亿元)", 1e8, 0),
    ("lending_volume", "total lending (亿元)", 1e8, 0),
    ("refused_firm_share", "applicant firms refused (pp)", 0.01, 2),
    ("leverage", "leverage (x)", 1.0, 2),
    ("compensation_rate", "compensation rate (pp)", 0.01, 2),
    ("fiscal_cost", "fiscal cost (亿元)", 1e8, 1),
)


def prior_members(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` parameter sets drawn from the priors by a Latin hypercube."""
    from scipy.stats import qmc

    dims = calibration_dimensions() + projection_dimensions()
    u = qmc.LatinHypercube(d=len(dims), seed=seed).random(n)
    frame = pd.DataFrame({d.key: d.value(u[:, j]) for j, d in enumerate(dims)})
    frame["weight"] = 1.0
    return frame


def bands(members: pd.DataFrame, n_smes: int, reps: int, workers: int, seed: int):
    res = compare(
        [ROOT / "scenarios/baseline_2021.toml", ROOT / "scenarios/beijing_2022.toml"],
        reps,
        seed,
        workers=workers,
        overrides={"run.n_smes": n_smes},
        ensemble=members,
    )
    b = res.bands.set_index(["outcome", "scenario"])
    return {o: b.loc[(o, "beijing_2022")] for o, *_ in OUTCOMES}


def render(prior, posterior, members, reps, n_smes, seconds, command) -> str:
    lines = [
        START,
        "",
        f"Command: `{command}` ({members} members x {reps} replication(s) each, {n_smes:,} "
        f"SMEs, {seconds / 60:.1f} minutes on this 2-core machine). Paired difference "
        "beijing_2022 − baseline_2021 over 2022–2024: median [5–95% band over members and "
        "replications].",
        "",
        "| outcome | prior ensemble | posterior ensemble | band width, posterior / prior |",
        "|---|---|---|---|",
    ]
    for o, label, scale, digits in OUTCOMES:
        cells = []
        widths = []
        for b in (prior[o], posterior[o]):
            m, lo, hi = (b[c] / scale for c in ("diff_median", "diff_q05", "diff_q95"))
            cells.append(f"{m:+,.{digits}f} [{lo:+,.{digits}f}, {hi:+,.{digits}f}]")
            widths.append(hi - lo)
        ratio = widths[1] / widths[0] if widths[0] > 0 else float("nan")
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio:.2f} |")
    lines += ["", END]
    return "\n".join(lines)


def constrained(members: pd.DataFrame) -> str:
    """Which calibrated parameters the 2021 figures narrow (sim.experiments.ensemble.constraint)."""
    shares = sorted(constraint(members).items(), key=lambda kv: kv[1])
    groups = {"narrowed to under half their prior": [], "narrowed by a fifth to a half": []}
    groups["left near their prior"] = []
    for d, share in shares:
        key = (
            "narrowed to under half their prior"
            if share < 0.5
            else "narrowed by a fifth to a half"
            if share < 0.8
            else "left near their prior"
        )
        groups[key].append(f"`{d.key}` ({100 * share:.0f}%)")
    lines = [
        CONSTRAINT_START,
        "",
        f"Over the {len(members)} members of the ensemble, the prior probability inside each "
        "calibrated parameter's 5-95% band, relative to the prior's own 90% "
        "(`sim.experiments.ensemble.constraint`):",
        "",
    ]
    lines += [f"- {k}: {', '.join(v) if v else 'none'}" for k, v in groups.items()]
    lines += [
        f"- at their prior by construction (the 2021 figures cannot inform them): "
        f"{', '.join(f'`{d.key}`' for d in projection_dimensions())}",
        "",
        CONSTRAINT_END,
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=40)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--n-smes", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--ensemble", default=None, help="ensemble file (default: the baseline's)")
    ap.add_argument("--print", action="store_true", help="print the table, write nothing")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    posterior = read_members(args.ensemble, args.members)
    n = len(posterior)
    prior_b = bands(prior_members(n), args.n_smes, args.reps, args.workers, args.seed)
    post_b = bands(posterior, args.n_smes, args.reps, args.workers, args.seed)
    seconds = time.perf_counter() - t0
    command = "python benchmarks/ensemble_projection.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    text = render(prior_b, post_b, n, args.reps, args.n_smes, seconds, command)
    narrowed = constrained(read_members(args.ensemble))
    if args.print:
        print(text + "\n\n" + narrowed)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    doc = replace_block(doc, START, END, text)
    doc = replace_block(doc, CONSTRAINT_START, CONSTRAINT_END, narrowed)
    DOC.write_text(doc, encoding="utf-8")
    print(f"wrote the prior/posterior projection ({n} members, {seconds:.0f} s) to {DOC}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
