"""Runs and minutes of the ensemble calibration, from the ensemble file, into BENCHMARKS.md.

``gsim calibrate --ensemble`` records its waves, runs and minutes in the Parquet file's
metadata (``gsim.ensemble``); this script writes them as the section
``## Ensemble calibration`` of ``BENCHMARKS.md`` (replacing it, or appending it)::

    python benchmarks/ensemble_record.py [scenarios/ensembles/baseline_2021.parquet]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
from mdsections import replace_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Ensemble calibration"


def section(path: Path) -> str:
    meta = pq.read_schema(path).metadata or {}
    record = json.loads(meta[b"gsim.ensemble"])
    st = record["settings"]
    lines = [
        HEADING,
        "",
        f"Command: `gsim calibrate --ensemble --n-smes {st['n_smes']} --reps "
        f"{st['replications']} --waves {st['waves']} --seed {st['seed']} --workers 2` "
        "(the record of "
        f"`{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}`; this 2-core machine)",
        "",
        "| stage | points | simulator runs | minutes |",
        "|---|---|---|---|",
    ]
    for i, w in enumerate(record["waves"], 1):
        lines.append(f"| wave {i} | {w['points']} | {w['runs']:,} | {w['seconds'] / 60:.1f} |")
    waves_runs = sum(w["runs"] for w in record["waves"])
    final_runs = record["runs"] - waves_runs
    lines += [
        f"| final stage | {st.get('final_points', st['accept'])} | {final_runs:,} | |",
        f"| **total** | | **{record['runs']:,}** | **{record['minutes']:.1f}** |",
        "",
        f"{record['accepted']} members accepted ({100 * record['accepted_fraction']:.0f}% of the "
        f"final stage's points); {st['n_smes']:,} SMEs per run, {len(st['dims'])} calibrated "
        "dimensions.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else ROOT / "scenarios/ensembles/baseline_2021.parquet").resolve()
    out = ROOT / "BENCHMARKS.md"
    text = out.read_text(encoding="utf-8")
    new = section(path)
    out.write_text(replace_section(text, HEADING, new), encoding="utf-8")
    print(f"wrote {HEADING!r} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
