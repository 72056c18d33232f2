"""The benchmark scripts run, write BENCHMARKS.md's sections, and time the real step.

Only structure is checked here (no timed assertions): the figures themselves come from
running the scripts on a quiet machine (see BENCHMARKS.md).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.model import GuaranteeMarket

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import profile_step  # noqa: E402
import run_all  # noqa: E402


def test_profile_covers_every_stage_the_step_calls():
    """STAGES lists exactly the calls in GuaranteeMarket.step (drift guard)."""
    source = inspect.getsource(GuaranteeMarket.step)
    called = set(re.findall(r"self\.(\w+)\(", source))
    called |= set(re.findall(r"self\.government\.(\w+)\(", source))
    called |= set(re.findall(r"(?:SME|Bank|Guarantor)\.(\w+)\(", source))
    called |= set(re.findall(r"\.do\(\"(\w+)\"", source))
    called -= {"step"}
    assert called == {name for _, name, _ in profile_step.STAGES}


def test_timing_wrappers_leave_the_model_unchanged_and_are_removed():
    originals = {(cls, name): cls.__dict__[name] for cls, name, _ in profile_step.STAGES}
    scenario = sim.load_scenario(
        run_all.SCENARIO, overrides={"run.n_smes": 3000, "run.burn_in": 0, "run.horizon": 13}
    )
    plain = GuaranteeMarket(scenario, rng=4)
    plain.run()
    seconds = defaultdict(float)
    with profile_step.timed_stages(seconds):
        timed = GuaranteeMarket(scenario, rng=4)
        timed.run()
    np.testing.assert_equal(timed.summary(), plain.summary())  # NaN equals NaN
    # every stage ran (month 12 runs the yearly evaluation) and was timed
    assert set(seconds) == {profile_step.stage_label(c, name) for c, name, _ in profile_step.STAGES}
    assert all(s > 0 for s in seconds.values())
    for (cls, name), original in originals.items():
        assert cls.__dict__[name] is original


def test_run_all_writes_the_sections_and_keeps_the_sweeps_section(tmp_path, capsys):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nold\n\n## Sweeps\n\nkept table\n", encoding="utf-8")
    argv = ["--smes", "2000", "--months", "3", "--repeats", "1", "--scaling", "1000,2000"]
    argv += ["--scaling-months", "2", "--out", str(out)]
    assert run_all.main(argv) == 0
    text = out.read_text(encoding="utf-8")
    for heading in ["## Model step", "## Scaling", "## Where the time goes", "## Sweeps"]:
        assert heading in text
    assert "kept table" in text and "old" not in text
    assert "python benchmarks/run_all.py --smes 2000" in text
    assert re.search(r"\| ns per SME-month \| [0-9.]+ ns \|", text)
    assert re.search(r"\| `GuaranteeMarket.book_loans` \| [0-9.]+ \| \d+% \|", text)


@pytest.mark.parametrize("module", [run_all, profile_step])
def test_scripts_have_help(module, capsys):
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_construction_benchmark_writes_its_section(tmp_path):
    """benchmarks/construction.py measures a small model and writes its section."""
    import construction

    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Model step\n\nkept\n")
    assert construction.main(["--sizes", "2000", "--repeats", "1", "--out", str(out)]) == 0
    text = out.read_text()
    assert "kept" in text and construction.HEADING in text and "| 2,000 |" in text


def test_shared_months_benchmark_finds_the_same_summaries(tmp_path):
    """benchmarks/shared_months.py times both ways on small runs, finds identical summaries
    (every outcome of every run) and writes its section."""
    import shared_months

    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Model step\n\nkept\n")
    args = ["--smes", "400", "--reps", "1", "--repeats", "1", "--out", str(out)]
    assert shared_months.main(args) == 0
    text = out.read_text()
    assert "kept" in text and shared_months.HEADING in text
    rows = [line for line in text.splitlines() if line.startswith(("| compare", "| lever"))]
    assert len(rows) == 2 and all(row.endswith("| yes |") for row in rows)


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCH.glob("*.py")))
def test_every_benchmark_script_imports(script):
    """Each script's imports resolve against today's package layout (a moved or renamed
    function fails here, not when someone regenerates a figure); ``main`` is not run."""
    import importlib

    module = importlib.import_module(script)
    assert module.__file__.startswith(str(BENCH))
