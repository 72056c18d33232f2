"""Sweep throughput as a user sees it: whole ``gsim sweep`` commands, by worker count.

A grid sweep of ``--runs`` default-size ``beijing_2022`` runs (8 grid points x replications;
20,000 SMEs, the default burn-in and horizon) is run as a whole command (``python -m
sim.interfaces.cli sweep FILE --workers W --quiet``: start-up, pool, planning, runs and
merge) for each
worker count, ``--repeats`` times; the table gives the median wall time, runs per second,
the speed-up over the first worker count and the parallel efficiency (speed-up / W), and a
least-squares fit of ``T = s + p / W`` (``s``: the fixed cost of a command). Written as the
section ``--section`` of BENCHMARKS.md with the machine named::

    python benchmarks/sweep_throughput.py                          # 1 and 2 workers
    python benchmarks/sweep_throughput.py --workers 1 2 4 8 16 --section "Sweeps, 16 cores"
    python benchmarks/sweep_throughput.py --runs 16 --repeats 1 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mdsections import replace_section

ROOT = Path(__file__).resolve().parent.parent
GRID_POINTS = 8

SWEEP = """
description = "throughput benchmark: {runs} default-size runs of the 2022 package"
base = "{base}"
design = "grid"
replications = {reps}
seed = 5
balance = "guarantor.share"

[set]
"run.n_smes" = {n}

[parameters]
"bank.share" = {{ values = [0.0, 0.1, 0.2, 0.3] }}
"government.fee_subsidy_rate" = {{ values = [0.0, 0.005] }}
"""


def whole_command(sweep: Path, out: Path, workers: int) -> float:
    """Wall seconds of one ``gsim sweep`` command (a fresh interpreter)."""
    cmd = [sys.executable, "-m", "sim.interfaces.cli", "sweep", str(sweep), "--out", str(out)]
    cmd += ["--workers", str(workers), "--quiet", "--overwrite"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def fixed_cost(workers: list[int], seconds: list[float]) -> tuple[float, float]:
    """Least-squares ``(s, p)`` of ``T = s + p / W``."""
    a = np.column_stack([np.ones(len(workers)), 1.0 / np.asarray(workers, float)])
    (s, p), *_ = np.linalg.lstsq(a, np.asarray(seconds, float), rcond=None)
    return float(s), float(p)


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()}, {cpus} cores usable, Python {platform.python_version()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=96, help="a multiple of 8 (grid points)")
    ap.add_argument("--smes", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--section", default="Sweeps")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    if args.runs % GRID_POINTS:
        ap.error(f"--runs {args.runs}: expected a multiple of {GRID_POINTS}")
    cmd = "python benchmarks/sweep_throughput.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "bench.toml"
        base = (ROOT / "scenarios" / "beijing_2022.toml").as_posix()
        reps = args.runs // GRID_POINTS
        sweep.write_text(
            SWEEP.format(base=base, n=args.smes, reps=reps, runs=args.runs), encoding="utf-8"
        )
        for w in args.workers:
            times = [whole_command(sweep, Path(tmp) / f"out{w}", w) for _ in range(args.repeats)]
            rows.append((w, statistics.median(times)))
            print(f"{w:>3} workers: {args.runs / rows[-1][1]:6.2f} runs/s ({rows[-1][1]:.2f} s)")
    w0, t0 = rows[0]
    lines = [
        f"## {args.section}",
        "",
        f"Command: `{cmd.strip()}`; machine: {machine()}.",
        "",
        f"A grid sweep of {args.runs} `beijing_2022` runs ({args.smes:,} SMEs, default burn-in "
        "and horizon) as a whole `gsim sweep` command (start-up, pool, planning, runs, merge); "
        f"median of {args.repeats}.",
        "",
        "| workers | seconds | runs per second | speed-up | parallel efficiency |",
        "|---|---|---|---|---|",
    ]
    for w, t in rows:
        speed = t0 / t
        lines.append(
            f"| {w} | {t:.2f} | {args.runs / t:.2f} | {speed:.2f}x | {speed * w0 / w:.0%} |"
        )
    if len(rows) > 1:
        s, p = fixed_cost([w for w, _ in rows], [t for _, t in rows])
        lines += [
            "",
            f"Fit `T = s + p / W`: fixed cost s = {s:.2f} s, parallel work p = {p:.2f} s.",
        ]
    section = "\n".join([*lines, ""])
    print(section)
    if args.no_write:
        return 0
    path = Path(args.out)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    path.write_text(replace_section(text, f"## {args.section}", section), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
