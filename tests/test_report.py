"""sim.interfaces.report: the helpers of the report notebooks (intervals, tables with units, paths,
the footer record)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.interfaces import report


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_t_interval_matches_scipy(level):
    x = np.random.default_rng(3).normal(5.0, 2.0, size=12)
    mean, half = report.t_interval(x, level)
    low, high = stats.t.interval(level, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean())
    assert (mean - half, mean + half) == pytest.approx((low, high))


def test_t_interval_drops_non_finite_and_needs_two_values():
    mean, half = report.t_interval([1.0, np.nan, 3.0, np.inf])
    assert mean == 2.0 and half == pytest.approx(report.t_interval([1.0, 3.0])[1])
    mean, half = report.t_interval([4.0])
    assert mean == 4.0 and np.isnan(half)
    mean, half = report.t_interval([])
    assert np.isnan(mean) and np.isnan(half)


def test_interval_columns_equal_t_interval_per_group():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"scenario": np.repeat(["b", "a", "c"], [5, 4, 1]), "v": rng.normal(size=10)})
    df.loc[2, "v"] = np.inf
    table = report.interval_columns(df, "scenario", "v")
    assert list(table.index) == ["b", "a", "c"]
    for name, g in df.groupby("scenario"):
        mean, half = report.t_interval(g["v"])
        assert table.loc[name, "mean"] == pytest.approx(mean)
        assert table.loc[name, "half"] == pytest.approx(half, nan_ok=True)
    assert np.isnan(table.loc["c", "half"]) and table.loc["b", "n"] == 4


def test_outcome_columns_scale_and_label_from_the_registry():
    t = pd.DataFrame({"fiscal_cost": [5e8], "default_rate": [0.02], "other": [1.0]})
    shown = report.outcome_columns(t)
    assert list(shown.columns) == [
        sim.OUTCOMES["fiscal_cost"].label + " (100 million yuan)",
        sim.OUTCOMES["default_rate"].label + " (% p.a.)",
    ]
    assert shown.iloc[0].tolist() == pytest.approx([5.0, 2.0])


def test_resolve_path_finds_packaged_files_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = report.resolve_path("scenarios/ensembles/baseline_2021.parquet")
    assert found.is_file() and found.name == "baseline_2021.parquet"
    with pytest.raises(FileNotFoundError):
        report.resolve_path("scenarios/no_such_file.toml")


def test_worker_count():
    assert report.worker_count(3) == 3
    assert report.worker_count(0) >= 1


def test_party_colours_cover_the_parties():
    assert set(report.PARTY_COLORS) == set(report.PARTIES) == set(report.PARTY_LABELS)


def test_footer_record_and_html(tmp_path):
    rep = report.Report("demo", tmp_path / "out", workers=1, seed=7, replications=2)
    sweep = sim.Sweep.from_file("risk_share_fee_grid")
    rep.uses(sim.load_scenario("baseline_2021"), sweep, "scenarios/baseline_2021.toml")
    assert rep.files[0].endswith("baseline_2021.toml") and len(rep.files) == 3
    assert any(f.endswith("risk_share_fee_grid.toml") for f in rep.files)
    rep.footer()  # outside IPython: writes the record, shows nothing
    record = json.loads((tmp_path / "out" / report.RECORD_NAME).read_text())
    assert record["gsim"] == sim.__version__ and record["run"] == {"seed": 7, "replications": 2}
    page = report.footer_html(record)
    assert f'class="{report.FOOTER_CLASS}"' in page
    assert f"gsim {sim.__version__}" in page and "seed 7" in page
    assert "baseline_2021.toml" in page and "risk_share_fee_grid.toml" in page


def test_report_figure_is_saved(tmp_path):
    rep = report.Report("demo", tmp_path, workers=1)
    fig, ax = report.new_figure(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    path = rep.figure(fig, "line")
    assert path == tmp_path / "figures" / "line.png" and path.stat().st_size > 1000
