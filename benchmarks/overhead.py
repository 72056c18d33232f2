"""Where the time of many small runs goes: one default-size run, and a 2-worker sweep.

Part 1 times a default-size ``beijing_2022`` run (20,000 SMEs, default burn-in and horizon)
in a process that has already run one (imports and caches warm), median of ``--repeats``:
scenario resolution, model construction, the monthly steps (by stage, with
``benchmarks/profile_step.py``'s timers), and collecting the results (summary and monthly
series); then nanoseconds per SME-month of the whole.

Part 2 takes a grid sweep of ``--runs`` such runs with ``--workers`` workers apart: the
interpreter with ``import sim.interfaces.cli`` (a fresh process), planning (``load_sweep`` and
``plan_runs``), pool start-up (a fork server that imports the model once, then the workers),
the runs (``sim.experiments.sweeps.execute``: runs grouped into tasks, each worker writes its
runs' files and sends back only their status), the merge and its Parquet files, and the
whole command; the remainder is what the parts do not explain. Written as the section
``## Where the time of small runs goes`` of BENCHMARKS.md::

    python benchmarks/overhead.py
    python benchmarks/overhead.py --runs 16 --repeats 2 --no-write

Part 1 also fits the time of a month against the number of SMEs (runs of ``n / --stack``,
``n`` and ``n x --stack`` SMEs): the fixed part is the per-month overhead that stacking
``--stack`` replications into one population would pay once; and counts the calls a month
makes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdsections import replace_section  # noqa: E402
from profile_step import timed_stages  # noqa: E402
from sweep_throughput import GRID_POINTS, SWEEP, machine  # noqa: E402

import sim  # noqa: E402
from sim.experiments.sweeps import SweepExecutor, execute, load_sweep, merge, model_task, plan_runs  # noqa: E402
from sim.outcomes import SUMMARY_FIELDS  # noqa: E402
from sim.outputs import write_parquet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "beijing_2022.toml"
HEADING = "## Where the time of small runs goes"


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def one_run(n: int, repeats: int) -> tuple[list[tuple[str, float]], float]:
    """Milliseconds of each part of one run, and ns per SME-month of the whole."""
    overrides = {"run.n_smes": n}
    sc = sim.load_scenario(SCENARIO, overrides=overrides)
    sim.GuaranteeMarket(sc, rng=0).run()  # warm
    t_load, sc = _median_time(lambda: sim.load_scenario(SCENARIO, overrides=overrides), repeats)
    t_build, _ = _median_time(lambda: sim.GuaranteeMarket(sc, rng=1), repeats)
    runs = []
    for r in range(repeats):
        model = sim.GuaranteeMarket(sc, rng=r)
        t0 = time.perf_counter()
        model.run()
        runs.append(time.perf_counter() - t0)
    t_run = statistics.median(runs)

    def results():
        model.summary()
        model.datacollector.get_model_vars_dataframe()

    t_res, _ = _median_time(results, repeats)
    seconds: dict[str, float] = defaultdict(float)
    model = sim.GuaranteeMarket(sc, rng=99)
    with timed_stages(seconds):
        t0 = time.perf_counter()
        model.run()
        staged = time.perf_counter() - t0
    months = model.burn_in + model.horizon
    rows = [("scenario resolution (load_scenario)", t_load), ("model construction", t_build)]
    top = sorted(seconds.items(), key=lambda kv: -kv[1])
    for name, s in top[:6]:
        rows.append((f"  step: `{name}`", s * t_run / staged))
    rest = sum(s for _, s in top[6:]) + (staged - sum(seconds.values()))
    rows.append(("  step: other stages and the step's own work", rest * t_run / staged))
    rows.append((f"monthly steps ({months} months), total", t_run))
    rows.append(("results (summary and monthly series)", t_res))
    total = t_load + t_build + t_run + t_res
    rows.append(("total", total))
    return [(k, 1e3 * v) for k, v in rows], total / (n * months) * 1e9


def count_calls(n: int, months: int = 12) -> tuple[float, float]:
    """Python function calls and C calls (numpy's included) per month of a default run of
    ``n`` SMEs, counted with :func:`sys.setprofile` over ``months`` months after 30."""
    model = sim.GuaranteeMarket(sim.load_scenario(SCENARIO, overrides={"run.n_smes": n}), rng=3)
    for _ in range(30):
        model.step()
    calls = {"call": 0, "c_call": 0}

    def count(frame, event, arg):
        if event in calls:
            calls[event] += 1

    sys.setprofile(count)
    try:
        for _ in range(months):
            model.step()
    finally:
        sys.setprofile(None)
    return calls["call"] / months, calls["c_call"] / months


def per_month(n: int, stack: int, repeats: int) -> list[tuple[int, float]]:
    """Milliseconds per month of whole default runs of ``n / stack``, ``n`` and ``n * stack``
    SMEs (median of ``repeats``), for the fit ``ms per month = a + b x SMEs``."""
    out = []
    for size in (n // stack, n, n * stack):
        sc = sim.load_scenario(SCENARIO, overrides={"run.n_smes": size})
        times = []
        for r in range(repeats):
            model = sim.GuaranteeMarket(sc, rng=r)
            t0 = time.perf_counter()
            model.run()
            times.append((time.perf_counter() - t0) / (model.burn_in + model.horizon))
        out.append((size, 1e3 * statistics.median(times)))
    return out


def sweep_parts(n: int, runs: int, workers: int, repeats: int) -> list[tuple[str, float]]:
    """Seconds of each part of a sweep command."""
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "bench.toml"
        f.write_text(
            SWEEP.format(base=SCENARIO.as_posix(), n=n, reps=runs // GRID_POINTS, runs=runs),
            encoding="utf-8",
        )
        t_import, _ = _median_time(
            lambda: subprocess.run([sys.executable, "-c", "import sim.interfaces.cli"], check=True),
            repeats,
        )
        t_plan, specs = _median_time(lambda: plan_runs(load_sweep(f)), repeats)
        pools, runs_ = [], []
        for r in range(repeats):  # a fresh pool each time: its workers keep shared months
            t0 = time.perf_counter()
            pool = SweepExecutor(workers)
            list(pool.executor.map(abs, range(max(workers, 1))))
            pools.append(time.perf_counter() - t0)
            try:
                t0 = time.perf_counter()
                out = Path(tmp) / f"o{r}"
                counts = execute(specs, model_task, out, pool.executor, window=2 * workers)
                runs_.append(time.perf_counter() - t0)
            finally:
                pool.close()
            assert counts["ok"] == len(specs), counts
        t_pool = pools[0]  # the first includes the fork server, as in a command
        t_runs = statistics.median(runs_)

        def merged():
            summary, ts = merge(specs, Path(tmp) / "o0", SUMMARY_FIELDS)
            write_parquet(summary, Path(tmp) / "summary.parquet")
            write_parquet(ts, Path(tmp) / "timeseries.parquet")

        t_merge, _ = _median_time(merged, repeats)
        cmd = [
            sys.executable,
            "-m",
            "sim.interfaces.cli",
            "sweep",
            str(f),
            "--out",
            str(Path(tmp) / "w"),
        ]
        cmd += ["--workers", str(workers), "--quiet", "--overwrite"]
        t_whole, _ = _median_time(
            lambda: subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL), repeats
        )
    parts = [
        ("interpreter and `import sim.interfaces.cli`", t_import),
        ("planning (load_sweep, plan_runs)", t_plan),
        (f"pool start-up ({workers} workers)", t_pool),
        (f"runs ({runs}, workers write the run files)", t_runs),
        ("merge and Parquet files", t_merge),
    ]
    parts.append(("remainder (checks, manifest, shutdown)", t_whole - sum(s for _, s in parts)))
    parts.append(("whole command", t_whole))
    return parts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smes", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=96)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stack", type=int, default=8, help="R of the stacking ceiling")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    cmd = "python benchmarks/overhead.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows, ns = one_run(args.smes, args.repeats)
    sizes = per_month(args.smes, args.stack, args.repeats)
    (b, a), *_ = np.linalg.lstsq(
        np.column_stack([[x for x, _ in sizes], np.ones(len(sizes))]),
        np.array([t for _, t in sizes]),
        rcond=None,
    )
    py_calls, c_calls = count_calls(args.smes)
    month_n = dict(sizes)[args.smes]
    month_stacked = dict(sizes)[args.smes * args.stack] / args.stack
    parts = sweep_parts(args.smes, args.runs, args.workers, args.repeats)
    total = rows[-1][1]
    runs_s = dict(parts)[f"runs ({args.runs}, workers write the run files)"]
    per_run_pool = runs_s * args.workers / args.runs * 1e3
    lines = [
        HEADING,
        "",
        f"Command: `{cmd.strip()}`; machine: {machine()}.",
        "",
        f"One default-size `beijing_2022` run ({args.smes:,} SMEs) in a warm process, median "
        f"of {args.repeats}: **{ns:.0f} ns per SME-month** in all.",
        "",
        "| part | ms | share |",
        "|---|---|---|",
        *[f"| {k} | {v:.1f} | {v / total:.0%} |" for k, v in rows],
        "",
        "Per month, whole default runs by size (median of "
        f"{args.repeats}): "
        + ", ".join(f"{x:,} SMEs {t:.2f} ms" for x, t in sizes)
        + f". Fit `ms per month = a + b x SMEs`: fixed a = {a:.2f} ms, b = {b * 1e6:.0f} ns "
        f"per SME-month; at {args.smes:,} SMEs the fixed part is {a / month_n:.0%} of a month. "
        f"A month of such a run makes {py_calls:,.0f} Python function calls and "
        f"{c_calls:,.0f} C calls (numpy's included; `sys.setprofile`, 12 months).",
        "",
        f"Stacking ceiling: one run of {args.smes * args.stack:,} SMEs costs "
        f"{month_stacked:.2f} ms per month per {args.smes:,} SMEs, against {month_n:.2f} ms "
        f"for a run of {args.smes:,}: {args.stack} replications stacked in one population "
        f"could at best run {month_n / month_stacked:.1f}x faster (less in practice: each "
        "replication keeps its own random draws and institutions).",
        "",
        f"A sweep of {args.runs} such runs with {args.workers} workers, as a whole command and "
        "by part (seconds):",
        "",
        "| part | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.2f} |" for k, v in parts],
        "",
        f"A run costs {per_run_pool:.0f} ms of a worker's time in the pool against "
        f"{total:.0f} ms alone in a warm process: the sweep's runs differ only in measures and "
        "share their first months (one replication of every point computes them once, "
        "`sim.experiments.burn_in`); writing the run's file, the pool's task traffic and "
        "contention for the cores cost the other way.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.no_write:
        return 0
    path = Path(args.out)
    text = path.read_text(encoding="utf-8")
    path.write_text(replace_section(text, HEADING, section), encoding="utf-8")
    print(f"wrote {HEADING!r} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
