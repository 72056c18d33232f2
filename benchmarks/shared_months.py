"""What sharing the first months saves: runs that differ only in measures, shared or not.

Scenarios that differ only in parameters of a measure run the burn-in and the horizon's
months before the earliest adoption delay alike from the same seed
(``sim.adoption.shared_months``); sweeps and comparisons compute those months once per
replication (``sim.experiments.burn_in``). This script times, in one process and on one
core, the same runs both ways: one by one, each from its first month
(``run_replication`` outside any sharing block), and grouped by replication as
``run_replications`` runs them; it checks that the summaries are identical and reports the
speed-up (median of ``--repeats`` alternated pairs, thread CPU time). Two workloads:

- **compare**: ``baseline_2021`` and ``beijing_2022`` (``gsim compare``, an ensemble
  projection's pair);
- **lever sweep**: ``beijing_2022`` at 8 points of ``bank.share`` x
  ``government.fee_subsidy_rate`` (the grid of ``benchmarks/sweep_throughput.py``).

Written as the section ``## Shared first months`` of BENCHMARKS.md::

    python benchmarks/shared_months.py
    python benchmarks/shared_months.py --smes 5000 --reps 2 --repeats 1 --no-write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdsections import write_section  # noqa: E402
from sweep_throughput import machine  # noqa: E402

import sim  # noqa: E402
from sim.adoption import shared_months  # noqa: E402
from sim.experiments.replications import run_replication, run_replications  # noqa: E402
from sim.outcome_registry import SUMMARY_FIELDS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Shared first months"
SEED = 5


def workloads(n: int) -> dict[str, list]:
    """The scenarios of each workload, at ``n`` SMEs."""
    size = {"run.n_smes": n}
    pair = [sim.load_scenario(s, overrides=size) for s in ("baseline_2021", "beijing_2022")]
    grid = []
    for bank in (0.0, 0.1, 0.2, 0.3):
        for rate in (0.0, 0.005):
            over = {**size, "bank.share": bank, "guarantor.share": round(0.5 - bank, 10)}
            over["government.fee_subsidy_rate"] = rate
            grid.append(sim.load_scenario("beijing_2022", overrides=over))
    return {"compare (2 scenarios)": pair, "lever sweep (8 points)": grid}


def _one_by_one(scenarios, reps):
    return [
        run_replication(sc, SEED, k, timeseries=False)[0] for sc in scenarios for k in range(reps)
    ]


def _equal(a, b) -> bool:
    return a == b or (a != a and b != b)  # NaN equals NaN


def measure(scenarios, reps: int, repeats: int) -> dict:
    """CPU seconds of both ways (median of alternated pairs) and whether they agree."""
    from dataclasses import replace

    scenarios = [replace(sc, name=f"s{i}") for i, sc in enumerate(scenarios)]  # distinct
    plain, shared, ratios, same = [], [], [], True
    for _ in range(repeats):
        t0 = time.thread_time()
        rows = _one_by_one(scenarios, reps)
        t1 = time.thread_time()
        table = run_replications(scenarios, reps, seed=SEED, timeseries=False).summary
        t2 = time.thread_time()
        plain.append(t1 - t0)
        shared.append(t2 - t1)
        ratios.append((t1 - t0) / (t2 - t1))
        for row in rows:
            got = table[
                (table.scenario == row["scenario"]) & (table.replication == row["replication"])
            ]
            got = got.iloc[0].to_dict()
            same &= all(_equal(got[k], row[k]) for k in SUMMARY_FIELDS)
    runs = len(scenarios) * reps
    return {
        "runs": runs,
        "plain": statistics.median(plain) / runs,
        "shared": statistics.median(shared) / runs,
        "speedup": statistics.median(ratios),
        "range": (min(ratios), max(ratios)),
        "same": same,
        "months": (
            shared_months(scenarios[0].values),
            scenarios[0]["run.burn_in"] + scenarios[0]["run.horizon"],
        ),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smes", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=4, help="replications per scenario")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    cmd = "python benchmarks/shared_months.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    lines = [
        HEADING,
        "",
        f"Command: `{cmd.strip()}`; machine: {machine()}.",
        "",
    ]
    rows = []
    for name, scenarios in workloads(args.smes).items():
        r = measure(scenarios, args.reps, args.repeats)
        rows.append((name, r))
        print(name, r, flush=True)
    shared, total = rows[0][1]["months"]
    lines += [
        f"Runs of {args.smes:,} SMEs that differ only in measures share {shared} of "
        f"their {total} months; {args.reps} replications per scenario, in one process: each "
        "run from its first month (one by one) against the runs grouped by replication "
        "(`run_replications`: the shared months once per replication). CPU time of the "
        f"thread, median of {args.repeats} alternated pairs.",
        "",
        "| workload | runs | one by one, CPU s per run | shared, CPU s per run | speed-up (range) "
        "| same summaries |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lo, hi = r["range"]
        lines.append(
            f"| {name} | {r['runs']} | {r['plain']:.3f} | {r['shared']:.3f} | "
            f"{r['speedup']:.2f}x ({lo:.2f}-{hi:.2f}) | {'yes' if r['same'] else 'NO'} |"
        )
    section = "\n".join([*lines, ""])
    print(section)
    if not args.no_write:
        write_section(args.out, HEADING, section)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
