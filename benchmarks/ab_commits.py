"""A/B timing of the monthly step: this working tree against an earlier commit, in one process.

On a shared 2-core host, timings of separate processes move by 20% and more from one
minute to the next (the floor kernel of ``run_all.py`` measured 5.1 and 6.3 ns on the same
evening), more than most changes to the step. This script imports both versions into one
process (the earlier commit's ``sim`` package, taken with ``git archive``, renamed
``simbase``) and alternates their runs (default ``beijing_2022`` runs, same seeds), so that
both see the same machine: the figure is the median of the per-pair ratios of ms per month,
in CPU time of the running thread (``time.thread_time``: on this virtual machine the wall
time also counts the moments the host takes the core away, which moved single runs by
-40% to +50% here; CPU time does not).
It also checks that the two versions give the same summary, bit for bit. Written as the
section ``## A/B against an earlier commit`` of BENCHMARKS.md::

    python benchmarks/ab_commits.py --base 829ffdd
    python benchmarks/ab_commits.py --base HEAD~3 --smes 2500 --repeats 4 --no-write
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdsections import write_section  # noqa: E402
from sweep_throughput import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "beijing_2022.toml"
HEADING = "## A/B against an earlier commit"
_IMPORT = re.compile(r"\b(from|import) sim\b")
_MODULE_NAME = re.compile(r"(?<=[\"'])sim\.")  # "sim.model" (lazy imports by name)


def base_package(commit: str, into: Path) -> str:
    """Extract ``sim/`` of ``commit`` into ``into/simbase`` (imports renamed); its hash."""
    rev = ["git", "rev-parse", "--short", commit]
    full = subprocess.run(rev, cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    tar = subprocess.run(["git", "archive", full, "sim"], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
        t.extractall(into, filter="data")
    (into / "sim").rename(into / "simbase")
    for path in (into / "simbase").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        text = _MODULE_NAME.sub("simbase.", _IMPORT.sub(r"\1 simbase", text))
        path.write_text(text, encoding="utf-8")
    return full


def ms_per_month(cls, scenario, seed: int) -> tuple[float, dict]:
    model = cls(scenario, rng=seed)
    t0 = time.thread_time()
    model.run()
    return 1e3 * (time.thread_time() - t0) / (model.burn_in + model.horizon), model.summary()


def same(a: dict, b: dict) -> bool:
    """Equal summaries, NaN equal to NaN."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--smes", type=int, nargs="+", default=[20_000, 2_500])
    ap.add_argument("--repeats", type=int, default=10, help="pairs of runs per size")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    cmd = "python benchmarks/ab_commits.py " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        base = base_package(args.base, Path(tmp))
        sys.path.insert(0, tmp)
        import simbase

        import sim

        if not simbase.GuaranteeMarket.__module__.startswith("simbase."):
            raise RuntimeError("the base package still imports this tree's model")
        head = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        rows = []
        for n in args.smes:
            sc_new = sim.load_scenario(SCENARIO, overrides={"run.n_smes": n})
            sc_old = simbase.load_scenario(SCENARIO, overrides={"run.n_smes": n})
            ms_per_month(simbase.GuaranteeMarket, sc_old, 0)  # warm both
            ms_per_month(sim.GuaranteeMarket, sc_new, 0)
            old, new, identical = [], [], True
            for r in range(1, args.repeats + 1):
                t_old, s_old = ms_per_month(simbase.GuaranteeMarket, sc_old, r)
                t_new, s_new = ms_per_month(sim.GuaranteeMarket, sc_new, r)
                old.append(t_old)
                new.append(t_new)
                identical &= same(s_old, s_new)
            ratios = [a / b for a, b in zip(old, new, strict=True)]
            rows.append((n, statistics.median(old), statistics.median(new), ratios, identical))
            print(f"{n:,} SMEs: {base} {rows[-1][1]:.2f} ms/month, {head} {rows[-1][2]:.2f}")
    lines = [
        HEADING,
        "",
        f"Command: `{cmd.strip()}`; machine: {machine()}. Default `beijing_2022` runs of "
        f"`{base}` (base) and `{head}` (this tree) alternated in one process, {args.repeats} "
        "pairs per size (same seeds); CPU time of the thread; the speed-up is the median of the "
        "pairs' ratios.",
        "",
        "| SMEs | base, CPU ms per month | this tree, CPU ms per month | speed-up (range) "
        "| same summary |",
        "|---|---|---|---|---|",
        *[
            f"| {n:,} | {o:.2f} | {w:.2f} | {statistics.median(r):.2f}x "
            f"({min(r):.2f}-{max(r):.2f}) | {'yes' if same_ else '**no**'} |"
            for n, o, w, r, same_ in rows
        ],
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section(args.out, HEADING, section)
        print(f"wrote {HEADING!r} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
