"""Calibration targets as data: the loader and its one-line errors (as for scenario files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.experiments.targets import DEFAULT_TARGETS, TargetsError, load_targets
from sim.interfaces.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = """
description = "test"
start = 2019

[leverage]
value = 2.79
tolerance = 0.3
year = 2021
source = "somewhere"

[volume_2020]
outcome = "guaranteed_volume_per_year"
value = 88.7e9
tolerance = 1e10
year = 2020
source = "somewhere"
pooled = ["compensation_paid", "guarantee_released"]
"""


def test_default_targets_file_loads_and_sets_the_layout():
    t = load_targets()
    assert Path(t.path) == DEFAULT_TARGETS
    assert t.start == 2019 and t.years == [2020, 2021]
    assert t.burn_in == 12 and t.horizon == 24 and t.horizon_year(2021) == 2
    names = [x.name for x in t]
    assert len(names) == len(set(names)) >= 12
    assert {"refused_firm_share", "guaranteed_volume_2020", "leverage_2020"} <= set(names)


def test_a_valid_file(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text(GOOD, encoding="utf-8")
    t = load_targets(f)
    lev, vol = t.targets
    assert (lev.name, lev.outcome, lev.value, lev.tolerance, lev.year) == (
        "leverage",
        "leverage",
        2.79,
        0.3,
        2021,
    )
    assert vol.outcome == "guaranteed_volume_per_year" and vol.pooled == (
        "compensation_paid",
        "guarantee_released",
    )
    assert t.burn_in == 12 and t.horizon == 24


BAD = [
    ("[leverage]\nvalue = 1\n", "start = "),
    ("start = 2019\n[leverage]\nvalue = 2.79\ntolerance = 0.3\nyear = 2021\n", "source is missing"),
    (
        'start = 2019\n[leverage]\nvalue = 2.79\ntolerance = 0.3\nyear = 2021\nsource = "s"\n'
        "colour = 1\n",
        "colour = 1: unknown key",
    ),
    (
        'start = 2019\n[leverag]\nvalue = 2.79\ntolerance = 0.3\nyear = 2021\nsource = "s"\n',
        'outcome = "leverag": not an outcome',
    ),
    (
        'start = 2019\n[leverage]\nvalue = 2.79\ntolerance = 0\nyear = 2021\nsource = "s"\n',
        "tolerance = 0: expected > 0",
    ),
    (
        'start = 2019\n[leverage]\nvalue = "high"\ntolerance = 1\nyear = 2021\nsource = "s"\n',
        'value = "high": expected a number',
    ),
    (
        'start = 2019\n[leverage]\nvalue = nan\ntolerance = 1\nyear = 2021\nsource = "s"\n',
        "value = nan: expected a finite number",
    ),
    (
        'start = 2019\n[leverage]\nvalue = 1\ntolerance = 1\nyear = 2018\nsource = "s"\n',
        "year = 2018: expected a calendar year",
    ),
    (
        'start = 2019\n[leverage]\nvalue = 1\ntolerance = 1\nyear = 2021\nsource = "s"\n'
        'pooled = ["leverage"]\n',
        'pooled = ["leverage"]: expected two outcomes',
    ),
    ("start = 2019\nleverage = 2.79\n", "leverage = 2.79: expected a table"),
    ("start = 2019\n", "no targets"),
    ("start = 2019\n[leverage\n", "invalid TOML"),
    ('start = "2019"\n', 'start = "2019": expected a year'),
]


@pytest.mark.parametrize(("text", "fragment"), BAD, ids=[b[1][:30] for b in BAD])
def test_malformed_targets_raise_one_line_naming_file_key_and_value(tmp_path, text, fragment):
    f = tmp_path / "bad.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(TargetsError) as exc:
        load_targets(f)
    msg = str(exc.value)
    assert msg.startswith(str(f)) and "\n" not in msg
    assert fragment in msg, msg


def test_paths_that_are_not_files(tmp_path):
    with pytest.raises(TargetsError, match="file not found"):
        load_targets(tmp_path / "missing.toml")
    with pytest.raises(TargetsError, match="directory"):
        load_targets(tmp_path)


def test_calibrate_refuses_a_malformed_targets_file_before_any_work(tmp_path, capsys):
    """``gsim calibrate --targets BAD`` exits 2 with one line; the report is not written."""
    bad = tmp_path / "bad.toml"
    bad.write_text('start = 2019\n[leverag]\nvalue = 1\ntolerance = 1\nyear = 2021\nsource = "s"\n')
    report = tmp_path / "report.md"
    code = main(["calibrate", "--targets", str(bad), "--report", str(report), "--max-evals", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "not an outcome" in err
    assert not report.exists()
