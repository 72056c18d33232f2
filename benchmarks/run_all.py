"""Performance benchmarks of the monthly step (issue 6), written to BENCHMARKS.md.

Measures, in ONE process so that ratios compare like with like:

1. the flagship run: ``beijing_2022`` with N SMEs for M months (default 1,000,000 x 120):
   construction time (the SME agents are made on first read, not here), wall time of
   ``run()``, ns per SME-month, peak resident memory;
2. the floor kernel over the same sizes: only the irreducible work, one uniform draw and
   compare per SME-month (demand) plus one per active loan-month (defaults);
3. Mesa's own ``model.agents.shuffle_do("step")`` over 100,000 agents with an empty
   ``step``: ns per agent-step;
4. scaling of ns per SME-month at 10k, 100k and 1M SMEs;
5. where the step's time goes: ms per month in each stage (``profile_step.py``).

Every timing is the median of ``--repeats`` runs. Usage::

    python benchmarks/run_all.py                  # full size, writes BENCHMARKS.md
    python benchmarks/run_all.py --smes 100000 --months 24 --repeats 2 --no-write
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import mesa
import numpy as np

import sim
from sim.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_step  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "beijing_2022.toml"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flagship(n: int, months: int, seed: int) -> dict:
    """Construct and run beijing_2022 with n SMEs for ``months`` months (no burn-in)."""
    sc = load_scenario(
        SCENARIO, overrides={"run.n_smes": n, "run.burn_in": 0, "run.horizon": months}
    )
    gc.collect()
    t0 = time.perf_counter()
    model = sim.GuaranteeMarket(sc, rng=seed)
    t1 = time.perf_counter()
    model.run()
    t2 = time.perf_counter()
    active = model.totals["loan_months_direct"] + model.totals["loan_months_guaranteed"]
    active_share = active / model.weight / (n * months)
    del model
    gc.collect()
    return {"construct": t1 - t0, "run": t2 - t1, "active_share": active_share}


def floor_kernel(n: int, months: int, active_share: float, seed: int, dtype=np.float64) -> float:
    """Seconds for the irreducible work: a uniform draw and compare per SME-month and per
    active loan-month (``dtype`` of the draws: float64, numpy's default, or float32 as the
    model draws them).

    The minimal numpy realisation: draws into preallocated buffers, compares, and counts
    the hits (``count_nonzero``, the cheapest use of the result).
    """
    rng = np.random.default_rng(seed)
    n_active = int(round(active_share * n))
    hazard = np.full(n_active, 0.002, dtype=dtype)
    u_demand, u_default = np.empty(n, dtype), np.empty(n_active, dtype)
    t0 = time.perf_counter()
    count = 0
    for _ in range(months):
        applying = rng.random(out=u_demand, dtype=dtype) < 0.05
        defaults = rng.random(out=u_default, dtype=dtype) < hazard
        count += np.count_nonzero(applying) + np.count_nonzero(defaults)
    return time.perf_counter() - t0


class _Empty(mesa.Agent):
    def step(self):
        pass


def mesa_shuffle_do(n_agents: int, steps: int, seed: int) -> float:
    """ns per agent-step of Mesa's shuffle_do('step') with an empty step."""
    model = mesa.Model(rng=seed)
    for _ in range(n_agents):
        _Empty(model)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.agents.shuffle_do("step")
    return (time.perf_counter() - t0) / (n_agents * steps) * 1e9


def median(xs):
    return statistics.median(xs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smes", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--scaling",
        default="10000,100000,1000000",
        help="comma-separated SME counts for the scaling row",
    )
    ap.add_argument("--scaling-months", type=int, default=24)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    n, months, reps = args.smes, args.months, args.repeats
    cmd = "python benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:])

    print(f"flagship: beijing_2022, {n:,} SMEs x {months} months, {reps} repeats", flush=True)
    # the floor kernels run interleaved with the flagship runs, so that drift in the
    # machine's speed affects model and floor alike
    runs, floors, floors32 = [], [], []
    for seed in range(reps):
        runs.append(flagship(n, months, seed))
        active_share = runs[-1]["active_share"]
        floors.append(floor_kernel(n, months, active_share, 100 + seed))
        floors32.append(floor_kernel(n, months, active_share, 200 + seed, np.float32))
    construct = median([r["construct"] for r in runs])
    run_s = median([r["run"] for r in runs])
    active = median([r["active_share"] for r in runs])
    ns_model = run_s / (n * months) * 1e9
    rss = peak_rss_mb()
    print(
        f"  construct {construct:.2f} s, run {run_s:.2f} s, {ns_model:.1f} ns/SME-month, "
        f"peak RSS {rss:.0f} MB, active loans {active:.1%} of SME-months",
        flush=True,
    )

    ns_floor = median(floors) / (n * months) * 1e9
    ns_floor32 = median(floors32) / (n * months) * 1e9
    print(
        f"floor kernel: {ns_floor:.2f} ns/SME-month float64 (ratio {ns_model / ns_floor:.1f}x), "
        f"{ns_floor32:.2f} float32 (ratio {ns_model / ns_floor32:.1f}x)",
        flush=True,
    )

    ns_mesa = median([mesa_shuffle_do(100_000, 10, s) for s in range(reps)])
    print(
        f"mesa shuffle_do empty step, 100,000 agents: {ns_mesa:.0f} ns/agent-step "
        f"(model is {ns_mesa / ns_model:.1f}x fewer ns)",
        flush=True,
    )

    scaling = []
    for size in [int(s) for s in args.scaling.split(",") if s]:
        times = [flagship(size, args.scaling_months, seed)["run"] for seed in range(reps)]
        ns = median(times) / (size * args.scaling_months) * 1e9
        scaling.append((size, ns))
        print(
            f"scaling: {size:>9,} SMEs x {args.scaling_months} months: {ns:.1f} ns/SME-month",
            flush=True,
        )

    profile_months = min(months, 60)
    stages = profile_step.profile(n, profile_months)
    print("\n".join(profile_step.table(stages)), flush=True)

    if args.no_write:
        return 0
    lines = [
        "# Benchmarks",
        "",
        "Produced by `benchmarks/run_all.py`; every timing is the median of the repeats, and",
        "ratios are against baselines measured in the same process. Rerun after touching the",
        "monthly step, the credit engine or the sweep runner.",
        "",
        f"Command: `{cmd.strip()}`",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, mesa {mesa.__version__}, {_cpus()} CPUs; "
        f"date {time.strftime('%Y-%m-%d')}.",
        "",
        "## Model step",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| flagship `beijing_2022`, {n:,} SMEs x {months} months: wall time of `run()` "
        f"| {run_s:.2f} s | about 10 s |",
        f"| ns per SME-month | {ns_model:.1f} ns | <= 80 ns |",
        f"| peak memory (RSS, whole process) | {rss:.0f} MB | <= 1024 MB |",
        f"| construction of the model, {n:,} SMEs (SME agents made on first read) "
        f"| {construct:.2f} s | < 5 s |",
        f"| floor kernel (uniform draw + compare per SME-month and per active loan-month; "
        f"{active:.0%} of SME-months have a loan; preallocated buffers, hits counted), "
        f"float64 draws | {ns_floor:.2f} ns | |",
        f"| model / floor (float64 floor) | {ns_model / ns_floor:.1f}x | <= 12x |",
        f"| floor kernel with float32 draws, as the model draws them | {ns_floor32:.2f} ns | |",
        f"| model / floor (float32 floor) | {ns_model / ns_floor32:.1f}x | |",
        f"| Mesa `shuffle_do('step')`, empty step, 100,000 agents | {ns_mesa:.0f} ns/agent-step "
        f"| |",
        f"| Mesa / model | {ns_mesa / ns_model:.1f}x | >= 10x |",
        "",
        f"## Scaling ({args.scaling_months} months, no burn-in)",
        "",
        "| SMEs | ns per SME-month |",
        "|---|---|",
        *[f"| {size:,} | {ns:.1f} |" for size, ns in scaling],
        "",
        f"## Where the time goes ({n:,} SMEs x {profile_months} months, one run)",
        "",
        "Each stage that `GuaranteeMarket.step` calls, timed by wrapping it "
        "(`benchmarks/profile_step.py`).",
        "",
        *profile_step.table(stages),
        "",
    ]
    path = Path(args.out)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    marker = "\n## Sweeps"
    tail = text[text.index(marker) :] if marker in text else ""
    path.write_text("\n".join(lines) + tail, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
