"""Decompose the 2022 package into its measures: alone, left out, and their interaction.

Against ``scenarios/baseline_2021.toml``, with common random numbers (replication k of
every scenario uses the seed ``SeedSequence(SEED, spawn_key=(k,))``):

- **alone**: each measure's scenario file ``m01`` ... ``m12`` (only that measure changes);
- **left out**: the package ``beijing_2022.toml`` with the parameters of one measure set
  back to the baseline's (the guarantor's risk share is the residual of the others);
- **interaction**: the package's effect minus the sum of the twelve single effects, per
  replication.

Every cell is the mean paired difference with a Student-t 95% interval over the
replications; the substitution statistic ``total_per_guaranteed`` (additional total lending
per yuan of additional guaranteed lending, ``sim.experiments.replications.ratio_of_means``) is shown
for each single measure and the package. Money is in 亿元 (1e8 yuan) over the horizon.

The tables are written between the markers ``<!-- decomposition:start -->`` and
``<!-- decomposition:end -->`` of ``docs/validation.md``::

    python benchmarks/decomposition.py                 # 20 replications, 20,000 SMEs
    python benchmarks/decomposition.py --reps 4 --n-smes 4000 --print   # quick look
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from mdsections import replace_block
from scipy import stats

import sim
from sim.experiments.members import read_members
from sim.experiments.replications import ratio_of_means, run_ensemble, run_replications
from sim.parameters import REGISTRY, RISK_SHARE_KEYS

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
DOC = ROOT / "docs" / "validation.md"
START, END = "<!-- decomposition:start -->", "<!-- decomposition:end -->"
SEED = 2022

#: (outcome, label, kind): kind "yuan" is shown in 亿元, "pp" in percentage points
OUTCOMES = (
    ("guaranteed_volume", "guaranteed volume", "yuan"),
    ("lending_volume", "total lending", "yuan"),
    ("rationed_share", "requested credit refused", "pp"),
    ("refused_firm_share", "applicant firms refused", "pp"),
    ("compensation_rate", "compensation rate", "pp"),
    ("fiscal_cost", "fiscal cost", "yuan"),
    ("loss_bank", "loss: banks", "yuan"),
    ("loss_guarantor", "loss: guarantors", "yuan"),
    ("loss_reguarantor", "loss: re-guarantor", "yuan"),
    ("loss_national_fund", "loss: National Fund", "yuan"),
    ("loss_comp_fund", "loss: compensation funds", "yuan"),
)


def measure_files() -> dict[int, Path]:
    return {int(p.name[1:3]): p for p in sorted(SCENARIOS.glob("m[01][0-9]_*.toml"))}


def left_out(package, baseline, measure: int):
    """The package with measure ``measure``'s parameters set back to the baseline's."""
    back = {
        k: baseline[k]
        for k, p in REGISTRY.items()
        if p.measure == measure and package[k] != baseline[k] and k != "risk_sharing.preset"
    }
    if any(k in back for k in RISK_SHARE_KEYS):
        values = {k: back.get(k, package[k]) for k in RISK_SHARE_KEYS[1:]}
        back.update(values)
        back["guarantor.share"] = 1.0 - sum(values.values())
    sc = package.with_overrides(back) if back else package
    return sc.__class__(
        f"without_m{measure:02d}",
        f"beijing_2022 without measure {measure}",
        sc.values,
        sc.path,
        sc.overrides,
        None,
        sc.warnings,
    )


def _ci(d: np.ndarray) -> tuple[float, float, float]:
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan"), float("nan"), float("nan")
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def _fmt(kind: str, mean: float, low: float, high: float) -> str:
    if not np.isfinite(mean):
        return "n/a"
    scale, unit = (1e8, "") if kind == "yuan" else (0.01, "")
    m, lo, hi = mean / scale, low / scale, high / scale
    digits = 1 if kind == "yuan" else 2
    return f"{m:+,.{digits}f} [{lo:+,.{digits}f}, {hi:+,.{digits}f}]{unit}"


def _band(d: np.ndarray) -> tuple[float, float, float]:
    """Median and 5-95% band of paired differences over members and replications."""
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan"), float("nan"), float("nan")
    q = np.quantile(d, [0.5, 0.05, 0.95])
    return float(q[0]), float(q[1]), float(q[2])


def decompose(
    reps: int,
    n_smes: int,
    workers: int,
    seed: int = SEED,
    ensemble=None,
    members: int | None = None,
):
    size = {"run.n_smes": n_smes}
    base = sim.load_scenario(SCENARIOS / "baseline_2021.toml", overrides=size)
    package = sim.load_scenario(SCENARIOS / "beijing_2022.toml", overrides=size)
    alone = {m: sim.load_scenario(f, overrides=size) for m, f in measure_files().items()}
    without = {m: left_out(package, base, m) for m in alone}
    scenarios = [base, package, *alone.values(), *without.values()]
    t0 = time.perf_counter()
    if ensemble is None:
        res = run_replications(scenarios, reps, seed, workers=workers, timeseries=False)
        s = res.summary.set_index(["scenario", "replication"]).sort_index()
        summarise = _ci
    else:
        res = run_ensemble(
            scenarios, ensemble, reps, seed, members=members, workers=workers, timeseries=False
        )
        s = res.summary.set_index(["scenario", "member", "replication"]).sort_index()
        summarise = _band
    seconds = time.perf_counter() - t0
    runs = len(res.summary)

    def diff(name, outcome, ref=base.name):
        return (s.loc[name, outcome] - s.loc[ref, outcome]).to_numpy(float)

    rows = []
    for m, sc in alone.items():
        rows.append(("alone", m, sc.name))
    rows.append(("package", None, package.name))
    for m, sc in without.items():
        rows.append(("without", m, sc.name))
    table = []
    for kind, m, name in rows:
        cells = {o: summarise(diff(name, o)) for o, _, _ in OUTCOMES}
        if kind == "without":  # the measure's contribution given the rest: package - without
            cells = {o: summarise(diff(package.name, o, ref=name)) for o, _, _ in OUTCOMES}
        ratio = (float("nan"),) * 3
        if kind in ("alone", "package"):
            ratio = ratio_of_means(
                diff(name, "lending_volume"), diff(name, "guaranteed_volume"), level=0.95
            )
        table.append((kind, m, name, cells, ratio))
    # interaction: package effect minus the sum of the single effects, per replication
    inter = {}
    for o, _, _ in OUTCOMES:
        total = diff(package.name, o) - sum(diff(sc.name, o) for sc in alone.values())
        inter[o] = summarise(total)
    return table, inter, seconds, runs


def render(table, inter, seconds, runs, reps, n_smes, command, members=None) -> str:
    kinds = {k: lab for k, lab, _ in OUTCOMES}
    units = {k: u for k, _, u in OUTCOMES}
    lines = [
        START,
        "",
        f"Command: `{command}` ({_size(reps, members)}, {n_smes:,} SMEs, "
        f"{runs} runs in {seconds / 60:.1f} minutes on this 2-core machine). Money in 亿元 "
        "over the 36 reported months, rates in percentage points; "
        + (
            "median paired difference [5-95% band over members and replications: parameter "
            "and stochastic uncertainty together]"
            if members
            else "mean paired difference [95% interval]"
        )
        + ". *Alone*: the measure's file against baseline_2021. *Given the "
        "rest*: the package minus the package without that measure (leave-one-out). "
        "*Total per guaranteed*: additional total lending per yuan of additional guaranteed "
        "lending (below 1: substitution).",
        "",
    ]
    groups = (
        ("Volumes, rationing, compensation and fiscal cost", OUTCOMES[:6]),
        ("Losses by party", OUTCOMES[6:]),
    )
    for title, outs in groups:
        first = outs == OUTCOMES[:6]
        lines += [f"**{title}**", ""]
        head = ["scenario", *(kinds[o] for o, _, _ in outs)]
        if first:
            head.append("total per guaranteed")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        for kind, m, _name, cells, ratio in table:
            if kind == "package":
                label = "**package** (beijing_2022)"
            else:
                label = f"m{m:02d} " + ("alone" if kind == "alone" else "given the rest")
            row = [label, *(_fmt(units[o], *cells[o]) for o, _, _ in outs)]
            if first:
                r, lo, hi = ratio
                row.append("" if not np.isfinite(r) else f"{r:.2f} [{lo:.2f}, {hi:.2f}]")
            lines.append("| " + " | ".join(row) + " |")
        row = ["interaction (package − Σ alone)", *(_fmt(units[o], *inter[o]) for o, _, _ in outs)]
        if first:
            row.append("")
        lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _size(reps, members) -> str:
    if members:
        return f"{members} ensemble members x {reps} paired replications"
    return f"{reps} paired replications"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--n-smes", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--print", action="store_true", help="print the tables, write nothing")
    ap.add_argument("--ensemble", default=None, help="ensemble file: bands over its members")
    ap.add_argument("--members", type=int, default=None, help="first M members")
    args = ap.parse_args(argv)
    table, inter, seconds, runs = decompose(
        args.reps, args.n_smes, args.workers, ensemble=args.ensemble, members=args.members
    )
    command = "python benchmarks/decomposition.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    members = None
    if args.ensemble:
        members = args.members or len(read_members(args.ensemble))
    text = render(table, inter, seconds, runs, args.reps, args.n_smes, command, members)
    if args.print:
        print(text)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    DOC.write_text(replace_block(doc, START, END, text), encoding="utf-8")
    print(f"wrote the decomposition ({runs} runs, {seconds:.0f} s) to {DOC}")
    return 0


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    sys.exit(main())
