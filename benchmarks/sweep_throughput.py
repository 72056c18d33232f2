"""Sweep throughput with 1 and 2 local workers (issue 7), written to BENCHMARKS.md.

Runs the same small grid sweep through ``sim.sweeps.execute`` in-process (1 worker) and on
a local process pool of 2 workers, in this one process, ``--repeats`` times each, and
reports the median runs per second and their ratio. Usage::

    python benchmarks/sweep_throughput.py            # writes the "Sweeps" section
    python benchmarks/sweep_throughput.py --no-write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sim.sweeps import execute, load_sweep, make_sweep_executor, model_task, plan_runs

ROOT = Path(__file__).resolve().parent.parent

SWEEP = """
description = "throughput benchmark"
base = "{base}"
design = "grid"
replications = 2
seed = 5
balance = "guarantor.share"

[set]
"run.n_smes" = {n}
"run.horizon" = 24

[parameters]
"bank.share" = {{ values = [0.0, 0.1, 0.2, 0.3] }}
"government.fee_subsidy_rate" = {{ values = [0.0, 0.005] }}
"""


def throughput(specs, workers: int) -> float:
    """Runs per second of a full pass over ``specs`` with ``workers`` workers."""
    with tempfile.TemporaryDirectory() as out:
        pool = make_sweep_executor(workers)
        try:
            # warm the pool (worker start-up and imports are not sweep throughput)
            if workers > 1:
                list(pool.executor.map(abs, range(workers)))
            t0 = time.perf_counter()
            counts = execute(
                specs, model_task, out, pool.executor, window=2 * pool.workers, rebuild=pool.rebuild
            )
            elapsed = time.perf_counter() - t0
        finally:
            pool.close()
    assert counts["ok"] == len(specs), counts
    return len(specs) / elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smes", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    cmd = "python benchmarks/sweep_throughput.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "bench.toml"
        base = (ROOT / "scenarios" / "baseline_2021.toml").as_posix()
        f.write_text(SWEEP.format(base=base, n=args.smes), encoding="utf-8")
        specs = plan_runs(load_sweep(f))
    one = statistics.median(throughput(specs, 1) for _ in range(args.repeats))
    two = statistics.median(throughput(specs, 2) for _ in range(args.repeats))
    print(
        f"sweep of {len(specs)} runs ({args.smes:,} SMEs x 36 months each): "
        f"1 worker {one:.2f} runs/s, 2 workers {two:.2f} runs/s, ratio {two / one:.2f}x"
    )
    if args.no_write:
        return 0
    section = "\n".join(
        [
            "## Sweeps",
            "",
            f"Command: `{cmd.strip()}`",
            "",
            "| executor | runs per second (median) |",
            "|---|---|",
            f"| in-process, 1 worker | {one:.2f} |",
            f"| local process pool, 2 workers | {two:.2f} |",
            f"| ratio 2 / 1 | {two / one:.2f}x |",
            "",
            f"{len(specs)} runs of {args.smes:,} SMEs (12 burn-in + 24 reported months) per pass; "
            "pool start-up excluded.",
            "",
        ]
    )
    path = Path(args.out)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    head = text[: text.index("## Sweeps")] if "## Sweeps" in text else text.rstrip() + "\n\n"
    rest = text[len(head) :]
    nxt = rest.find("\n## ", 1)  # sections after this one (e.g. the ensemble calibration)
    tail = rest[nxt + 1 :] if "## Sweeps" in text and nxt >= 0 else ""
    path.write_text(head + section + ("\n" + tail if tail else ""), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
