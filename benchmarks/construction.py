"""Construction of the model per SME (issue 18), written to BENCHMARKS.md.

Times ``GuaranteeMarket(baseline_2021 with N SMEs, rng=1)`` at each size (median of
``--repeats``), split into the SME population's draws (``SMEPopulation``) and the rest,
and the one-off cost of the SME agents, which the model makes on the first read of
``model.agents`` (or any other of Mesa's agent collections), not at construction.

Usage::

    python benchmarks/construction.py                      # 100k and 1M, writes BENCHMARKS.md
    python benchmarks/construction.py --sizes 20000 --repeats 1 --no-write
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import sim
import sim.model
from sim.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdsections import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Construction"


def measure(n: int, repeats: int) -> dict:
    """Median seconds of construction (wall and CPU time of this process), of its population
    draws, and of the first read of ``model.agents`` (making the SME agents), for ``n``
    SMEs."""
    sc = load_scenario("baseline_2021", overrides={"run.n_smes": n})
    population = sim.model.SMEPopulation
    spent = []

    def timed_population(*args, **kwargs):
        t = time.perf_counter()
        pop = population(*args, **kwargs)
        spent.append(time.perf_counter() - t)
        return pop

    total, cpu, seating = [], [], []
    with mock.patch.object(sim.model, "SMEPopulation", timed_population):
        for _ in range(repeats):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            model = sim.GuaranteeMarket(sc, rng=1)
            t1, c1 = time.perf_counter(), time.process_time()
            len(model.agents)
            t2 = time.perf_counter()
            total.append(t1 - t0)
            cpu.append(c1 - c0)
            seating.append(t2 - t1)
            del model
    med = statistics.median
    return {
        "n": n,
        "total": med(total),
        "cpu": med(cpu),
        "population": med(spent),
        "seating": med(seating),
    }


def section(rows: list[dict], note: str) -> str:
    """The BENCHMARKS.md section for the measured ``rows``."""
    lines = [
        HEADING,
        "",
        "Command: `python benchmarks/construction.py`: `GuaranteeMarket(baseline_2021, rng=1)`,",
        "median of the repeats. The SME agents are made on the first read of `model.agents`",
        "(or `agents_by_type`, ...), once, not at construction: their cost is in the last",
        "column. Target: construction at most 0.5 us per SME at 1,000,000 SMEs (wall time).",
        "CPU time is this process's, a steadier figure on a busy machine.",
        "",
    ]
    if note:
        lines += [note, ""]
    lines += [
        "| SMEs | construction, us per SME | its CPU time, us per SME | "
        "of which population draws | first read of `model.agents`, us per SME |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        per = 1e6 / r["n"]
        lines.append(
            f"| {r['n']:,} | {r['total'] * per:.3f} | {r['cpu'] * per:.3f} | "
            f"{r['population'] * per:.3f} | {r['seating'] * per:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated SME counts")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--note", default="", help="a line on the machine, written under the head")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        rows.append(measure(n, args.repeats))
        r = rows[-1]
        print(
            f"{n:,} SMEs: construction {r['total'] * 1e6 / n:.3f} us/SME "
            f"(CPU {r['cpu'] * 1e6 / n:.3f}) "
            f"(population {r['population'] * 1e6 / n:.3f}), "
            f"first read of model.agents {r['seating'] * 1e6 / n:.3f} us/SME",
            flush=True,
        )
    text = section(rows, args.note)
    print(text)
    if not args.no_write:
        write_section(args.out, HEADING, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
