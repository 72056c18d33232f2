"""The layout shows the layers (issue 19, item 6): modules of one concern, none over 700 lines
except the parameter and outcome registries; the public API stays ``sim``'s own names. (The
import layers themselves are checked by ``lint-imports``, run by ``make lint``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim

SIM = Path(sim.__file__).resolve().parent
MAX_LINES = 700
#: The registries: long by nature (one entry per parameter or outcome).
EXEMPT = {"parameters.py", "outcome_registry.py"}


@pytest.mark.parametrize(
    "path", sorted(SIM.rglob("*.py")), ids=lambda p: p.relative_to(SIM).as_posix()
)
def test_no_module_over_700_lines(path):
    if path.relative_to(SIM).as_posix() in EXEMPT:
        pytest.skip("exempt: see EXEMPT")
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SIM)}: {lines} lines; split it by concern"


def test_public_api_is_unchanged():
    names = {
        "GuaranteeMarket", "load_scenario", "Scenario", "ScenarioError", "run_replications",
        "compare", "SUMMARY_FIELDS", "MONTHLY_SERIES", "OUTCOMES", "Outcome", "Sweep",
        "SweepResult", "parameters", "Parameter", "__version__",
    }  # fmt: skip
    assert set(sim.__all__) == names
    for name in names:
        assert getattr(sim, name) is not None
    assert sim.Sweep.from_file and sim.SweepResult.sensitivity
