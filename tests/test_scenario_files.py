"""The scenario files in ``scenarios/``: they load, validate, run, and say what they change.

- every file loads and validates (``sim.load_scenario``) and runs a short horizon with a
  finite lending volume;
- every single-measure file ``mNN_*.toml`` extends ``baseline_2021.toml``, declares
  ``measure = NN``, starts with a comment line, and changes (in resolved values, against
  baseline_2021) only parameters of its measure; the risk-share keys (``*.share``,
  ``risk_sharing.preset``) may change in the files of measures 1, 2, 5 and 9, the measures
  that move risk between the parties;
- ``beijing_2022.toml`` (the whole package) changes at least one parameter of every measure
  whose single-measure file changes anything;
- ``gsim scenarios`` lists every file with its description; ``gsim validate`` accepts every
  file and prints the 国办发〔2019〕6号 floor warnings for baseline_2021 (bank share 0).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.experiments.replications import run_replications
from sim.parameters import REGISTRY, RISK_SHARE_KEYS

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
FILES = sorted(SCENARIOS.glob("*.toml"))
MEASURE_FILES = [f for f in FILES if re.match(r"m\d\d_", f.name)]
BASELINE = SCENARIOS / "baseline_2021.toml"
PACKAGE = SCENARIOS / "beijing_2022.toml"

SHORT = {"run.n_smes": 1000, "run.burn_in": 2, "run.horizon": 3}
#: Keys that move risk between the parties, and the measures allowed to change them.
RISK_KEYS = (*RISK_SHARE_KEYS, "risk_sharing.preset")
RISK_MEASURES = {1, 2, 5, 9}


def _ids(files):
    return [f.name for f in files]


def _differing(scenario: sim.Scenario, baseline: sim.Scenario) -> dict[str, tuple]:
    """Keys whose resolved value differs from the baseline's: key -> (baseline, scenario)."""
    out = {}
    for key, value in scenario.values.items():
        base = baseline.values[key]
        if isinstance(value, float) and isinstance(base, float):
            same = math.isclose(value, base, rel_tol=1e-12, abs_tol=0.0)
        else:
            same = value == base
        if not same:
            out[key] = (base, value)
    return out


def _measure_of(path: Path) -> int:
    return int(re.match(r"m(\d\d)_", path.name).group(1))


@pytest.fixture(scope="module")
def baseline() -> sim.Scenario:
    return sim.load_scenario(BASELINE)


# ------------------------------------------------------------------------ every file
def test_scenario_folder_is_complete():
    """There are 12 single-measure files (m01-m12), the baseline and the 2022 package."""
    assert BASELINE in FILES and PACKAGE in FILES
    assert sorted(_measure_of(f) for f in MEASURE_FILES) == list(range(1, 13))


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_file_loads_validates_and_runs(path: Path):
    """The file loads and validates, and a short run (1,000 SMEs, burn-in 2, horizon 3)
    gives a finite lending volume."""
    sc = sim.load_scenario(path)
    assert sc.name == path.stem
    assert isinstance(sc.description, str) and sc.description.strip(), "no description"
    assert "\n" not in sc.description, "description must be one line"
    assert set(sc.values) == set(REGISTRY)
    assert math.isclose(sum(sc.shares()), 1.0, abs_tol=1e-9)
    short = sc.with_overrides(SHORT)
    res = run_replications(short, 1, 0, timeseries=False)
    vol = res.summary["lending_volume"].to_numpy(dtype=float)
    assert vol.shape == (1,) and np.isfinite(vol).all(), vol


# --------------------------------------------------------------- single-measure files
@pytest.mark.parametrize("path", MEASURE_FILES, ids=_ids(MEASURE_FILES))
def test_measure_file_header(path: Path):
    """The file starts with a comment line, extends baseline_2021.toml and declares the
    measure number of its file-name prefix."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "first line must be a comment"
    data = tomllib.loads(text)
    assert data.get("extends") == "baseline_2021.toml", data.get("extends")
    assert data.get("measure") == _measure_of(path), data.get("measure")
    assert sim.load_scenario(path).measure == _measure_of(path)


@pytest.mark.parametrize("path", MEASURE_FILES, ids=_ids(MEASURE_FILES))
def test_measure_file_changes_only_its_measure(path: Path, baseline):
    """Every resolved value that differs from baseline_2021 is a parameter of the file's
    measure (registry ``measure``), or a risk-share key in the file of measure 1, 2, 5 or 9;
    and the file changes something."""
    m = _measure_of(path)
    diff = _differing(sim.load_scenario(path), baseline)
    assert diff, f"{path.name} changes nothing against baseline_2021"
    foreign = {
        k: v
        for k, v in diff.items()
        if REGISTRY[k].measure != m and not (k in RISK_KEYS and m in RISK_MEASURES)
    }
    assert not foreign, f"{path.name} (measure {m}) changes keys of other measures: " + ", ".join(
        f"{k} (measure {REGISTRY[k].measure}): {a!r} -> {b!r}" for k, (a, b) in foreign.items()
    )


def test_package_covers_every_measure(baseline):
    """beijing_2022 differs from baseline_2021 in at least one key of every measure whose
    single-measure file changes something (the registry keys of that measure, plus the
    risk-share keys that measure's file changes)."""
    package = _differing(sim.load_scenario(PACKAGE), baseline)
    missing = []
    for path in MEASURE_FILES:
        m = _measure_of(path)
        own = _differing(sim.load_scenario(path), baseline)
        if not own:
            continue
        keys = {k for k, p in REGISTRY.items() if p.measure == m}
        keys |= {k for k in own if k in RISK_KEYS}
        if not keys & set(package):
            missing.append(f"measure {m} ({path.name} changes {sorted(own)})")
    assert not missing, "beijing_2022 leaves out " + "; ".join(missing)


# ---------------------------------------------------------------------------- CLI
def _gsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.interfaces.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gsim_scenarios_lists_every_file():
    """``gsim scenarios`` exits 0 and lists every file with its description."""
    proc = _gsim("scenarios", "--dir", str(SCENARIOS))
    assert proc.returncode == 0, proc.stderr
    assert "INVALID" not in proc.stdout, proc.stdout
    lines = proc.stdout.splitlines()
    for path in FILES:
        sc = sim.load_scenario(path)
        hits = [ln for ln in lines if ln.split() and ln.split()[0] == path.stem]
        assert len(hits) == 1, f"{path.stem} listed {len(hits)} times:\n{proc.stdout}"
        assert sc.description in hits[0], hits[0]
        if sc.measure:
            assert f"measure {sc.measure}" in hits[0], hits[0]


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_gsim_validate_accepts_file(path: Path):
    """``gsim validate FILE`` exits 0, says ok and prints nothing on stderr."""
    proc = _gsim("validate", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    assert f"{path}: ok" in proc.stdout, proc.stdout


def test_gsim_validate_prints_floor_warnings_for_baseline():
    """For baseline_2021 (bank share 0, National Fund share 0) ``gsim validate`` prints the
    国办发〔2019〕6号 floor warnings; for beijing_2022 (bank 20%, Fund 20%) none."""
    out = _gsim("validate", str(BASELINE)).stdout
    warnings = [ln for ln in out.splitlines() if ln.startswith("warning:")]
    bank = [w for w in warnings if "bank share 0 " in w]
    assert len(bank) == 1, out
    assert "20%" in bank[0] and "国办发〔2019〕6号" in bank[0], bank[0]
    assert any("national_fund share 0 " in w and "国办发〔2019〕6号" in w for w in warnings), out
    out = _gsim("validate", str(PACKAGE)).stdout
    assert not [ln for ln in out.splitlines() if ln.startswith("warning:")], out
