"""The outcome registry (sim.outcome_registry): coverage of every output column, kinds,
units as tables, figures and Parquet files show them, integer counts, totals of flows."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import sim
from sim.experiments.calibration import _fmt
from sim.experiments.replications import run_replications, summary_by_year
from sim.interfaces.cli import format_value
from sim.interfaces.documentation import OUTCOME_END, OUTCOME_START, outcome_table, render
from sim.outcome_registry import (
    COUNT_UNITS,
    DISPLAYS,
    KINDS,
    OUTCOMES,
    TABLES,
    axis_label,
    column_metadata,
    outcome,
    whole_counts,
)
from sim.outcomes import FLOW_SERIES, MONTHLY_SERIES, SUMMARY_FIELDS
from sim.outputs import PARQUET_METADATA, write_parquet
from sim.parameters import REGISTRY

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def results(scenario_factory):
    """Two replications of a small run whose population weight is not a whole number."""
    sc = scenario_factory({"population.firms": 1_234_567.0}, n_smes=2000, burn_in=2, horizon=14)
    return run_replications(sc, replications=2, seed=7)


@pytest.fixture(scope="module")
def model(scenario_factory):
    m = sim.GuaranteeMarket(scenario_factory(n_smes=2000, burn_in=2, horizon=14), rng=11)
    m.run()
    return m


# --------------------------------------------------------------------------- coverage
def test_every_column_has_an_entry_and_every_entry_a_column():
    """The registry's timeseries entries are exactly MONTHLY_SERIES, its summary entries
    exactly SUMMARY_FIELDS; nothing else is registered."""
    in_table = {t: {k for k, o in OUTCOMES.items() if t in o.tables} for t in TABLES}
    assert in_table["timeseries"] == set(MONTHLY_SERIES)
    assert in_table["summary"] == set(SUMMARY_FIELDS)
    assert set(OUTCOMES) == set(MONTHLY_SERIES) | set(SUMMARY_FIELDS)
    assert len(MONTHLY_SERIES) == len(set(MONTHLY_SERIES))
    assert len(SUMMARY_FIELDS) == len(set(SUMMARY_FIELDS))


def test_the_model_writes_the_registered_columns(model, results):
    """What a run produces: its monthly frame's columns, its summary's keys, the columns
    of summary_by_year, all registered for the table they are in."""
    ts = model.datacollector.get_model_vars_dataframe()
    assert list(ts.columns) == list(MONTHLY_SERIES)
    assert list(model.summary()) == list(SUMMARY_FIELDS)
    ids = {"scenario", "replication", "seed", "year"}
    for table, frame in (
        ("timeseries", results.timeseries),
        ("summary", results.summary),
        ("summary", summary_by_year(results.timeseries)),
    ):
        outcomes = [c for c in frame.columns if c not in ids and c not in REGISTRY]
        assert outcomes and all(table in OUTCOMES[c].tables for c in outcomes), table


def test_entries_are_complete():
    """Every entry has a kind, a unit, labels in both languages, a description and a
    display style; labels are distinct within each table."""
    for key, o in OUTCOMES.items():
        assert o.key == key
        assert o.kind in KINDS, key
        assert o.tables and set(o.tables) <= set(TABLES), key
        assert o.unit and o.label and o.description, key
        assert CJK.search(o.label_zh), key
        assert not o.display or o.display in DISPLAYS, key
        assert o.style in DISPLAYS.values(), key
    for table in TABLES:
        labels = [o.label for o in OUTCOMES.values() if table in o.tables]
        assert len(labels) == len(set(labels)), table
    with pytest.raises(KeyError, match="'nope' is not an outcome"):
        outcome("nope")


def test_kinds_follow_the_definitions():
    """Amounts of money a month adds up are flows, balances are stocks, rates are ratios."""
    kinds = {k: o.kind for k, o in OUTCOMES.items()}
    assert kinds["month"] == "index"
    for key in ("new_guaranteed", "compensation", "fiscal_cost", "lending_volume", "borrowers"):
        assert kinds[key] == "flow", key
    for key in ("leverage", "leverage_cap", "guarantor_equity", "insolvent_guarantors", "z"):
        assert kinds[key] == "stock", key
    for key in ("avg_guarantee_fee", "compensation_rate", "default_rate", "rationed_share"):
        assert kinds[key] == "ratio", key
    # a fraction is never summed
    for key, o in OUTCOMES.items():
        if o.unit.startswith("fraction"):
            assert o.kind != "flow", key
    assert "leverage" not in FLOW_SERIES and "month" not in FLOW_SERIES
    assert FLOW_SERIES == tuple(k for k in MONTHLY_SERIES if kinds[k] == "flow")


# ----------------------------------------------------------------------- totals
def test_totals_sum_only_the_flows(model):
    """model.totals holds the flows, each the sum of its monthly series added month by month
    (so exactly equal); stocks, ratios and the month have no total."""
    ts = model.datacollector.get_model_vars_dataframe()
    assert list(model.totals) == list(FLOW_SERIES)
    for key in FLOW_SERIES:
        running = 0.0
        for value in ts[key]:
            running += value
        assert model.totals[key] == running, key
    for key in ("leverage", "avg_guarantee_fee", "guarantor_equity", "month", "z"):
        assert key not in model.totals
    assert model.totals["new_guaranteed"] > 0 and model.totals["compensation"] > 0


# ----------------------------------------------------------------------- integers
def test_true_counts_are_integers_and_weighted_counts_are_whole_when_stored(
    results, model, tmp_path
):
    """The unweighted counts are int64 columns (and ints in summary()). The weighted firm
    and loan counts keep their fractions in memory (a population weight that is not whole
    makes them so, and ratios are computed from them) and are stored as int64 columns,
    rounded to the nearest whole firm or loan; every count outcome of both files is."""
    integer = {k for k, o in OUTCOMES.items() if o.integer}
    assert integer == {"month", "insolvent_guarantors", "national_fund_sharing"}
    for frame in (results.timeseries, results.summary, summary_by_year(results.timeseries)):
        for col in integer & set(frame.columns):
            assert frame[col].dtype == np.int64, col
    assert isinstance(model.summary()["insolvent_guarantors"], int)
    assert set(results.timeseries["national_fund_sharing"]) <= {0, 1}
    weight = 1_234_567.0 / 2000
    assert weight != int(weight)
    weighted = ("borrowers", "applications", "first_time_borrowers", "applicant_firms")
    for col in weighted:
        values = results.summary[col].to_numpy()
        assert values.dtype == np.float64, col
        assert (values % 1 != 0).any(), col
    tables = {
        "summary": (results.summary, set(weighted)),
        "timeseries": (results.timeseries, {"new_loans", "applications"}),
    }
    for name, (frame, expected) in tables.items():
        back = pd.read_parquet(write_parquet(frame, tmp_path / f"{name}.parquet"))
        counts = [c for c in frame if c in OUTCOMES and OUTCOMES[c].unit in COUNT_UNITS]
        assert expected <= set(counts), name
        for col in counts:
            assert back[col].dtype == np.int64, (name, col)
            np.testing.assert_array_equal(back[col], np.rint(frame[col]).astype(np.int64))
        others = [c for c in frame if c not in counts]
        pd.testing.assert_frame_equal(back[others], frame[others], check_exact=True)


# ----------------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("key", "value", "diff", "text"),
    [
        ("lending_volume", 4.82627e12, False, "48,262.7 亿元"),
        ("lending_volume", 7.469e10, True, "+746.9"),
        ("loss_national_fund", 0.0, False, "0.0 亿元"),
        ("default_rate", 0.017642, False, "1.76%"),
        ("rationed_share", -0.01874, True, "-1.87 pp"),
        ("avg_guarantee_fee", 0.0149, False, "1.49%"),
        ("leverage", 5.0712, False, "5.07x"),
        ("leverage", 4.64512, True, "+4.645"),
        ("leverage", float("inf"), False, "infx"),
        ("borrowers", 1045045.3, False, "1,045,045"),
        ("borrowers", 35260.2, True, "+3.526e+04"),
        ("fiscal_cost_per_additional_yuan", 0.19912, False, "0.1991"),
        ("fiscal_cost_per_additional_yuan", 0.0, False, "0"),
        ("default_rate", float("nan"), False, "n/a"),
    ],
)
def test_tables_show_the_registry_units(key, value, diff, text):
    """The command line's format (亿元, %, pp, x, thousands separators) comes from the
    registry; these are the strings gsim run and gsim compare have always printed."""
    assert format_value(key, value, diff=diff) == text


def test_the_calibration_record_keeps_its_units():
    """The calibration record's values, as docs/calibration.md shows them."""
    assert _fmt("leverage", 2.79) == "2.79x"
    assert _fmt("avg_guarantee_size", 3.04e6) == "3.04M yuan"
    assert _fmt("guaranteed_volume_per_year", 93.7e9) == "93.7 bn yuan"
    assert _fmt("compensation_rate", 0.019) == "1.90%"
    assert _fmt("recovery_ratio", 0.1908) == "19.08%"
    assert _fmt("default_rate", float("nan")) == "n/a"
    # not a fraction: no per cent sign (the record used to print every other outcome as %)
    assert _fmt("avg_approval_delay", 0.75) == "0.75"


def test_scaling_is_exact():
    """Shown values are scaled as 100 x v and v / 1e8, exactly (no 1e-8 x v rounding)."""
    v = 0.1 + 0.2
    assert DISPLAYS["percent"].scaled(v) == 100 * v
    assert DISPLAYS["yi_yuan"].scaled(123456789012.345) == 123456789012.345 / 1e8
    x = np.array([1e8, 3.3e9])
    np.testing.assert_array_equal(DISPLAYS["yi_yuan"].scaled(x), x / 1e8)


def test_figure_labels():
    assert axis_label("guaranteed_volume") == "Guaranteed lending (100 million yuan)"
    assert axis_label("avg_guarantee_fee") == "Average guarantee fee (% p.a.)"
    assert axis_label("default_rate_guaranteed", diff=True) == (
        "Default rate, guaranteed book (pp p.a.)"
    )
    assert axis_label("compensation_rate", diff=True) == "Compensation rate (pp)"
    assert axis_label("leverage", label="Liability / net assets") == "Liability / net assets (x)"
    assert OUTCOMES["defaults_direct"].figure_unit() == "loans"
    assert OUTCOMES["avg_approval_delay"].figure_unit() == "months"
    # figure units are ASCII: figure fonts lack CJK glyphs
    assert all(o.figure_unit().isascii() for o in OUTCOMES.values())


def test_plots_take_units_from_the_registry():
    from sim.interfaces import plots

    assert plots.BAND_OUTCOMES["loss_guarantor"] == (
        "Guarantors' credit loss (100 million yuan)",
        1e-8,
    )
    assert plots.BAND_OUTCOMES["default_rate_guaranteed"][1] == 100.0


# ----------------------------------------------------------------------- Parquet
def test_parquet_files_carry_units_and_labels(results, tmp_path):
    """write_parquet puts every outcome column's unit, labels and kind (and each parameter
    column's unit) into the schema metadata and the field metadata; the table reads back
    unchanged."""
    summary = results.summary
    path = write_parquet(summary, tmp_path / "summary.parquet")
    schema = pq.read_schema(path)
    meta = {k.decode(): json.loads(v) for k, v in schema.metadata.items() if k != b"pandas"}
    assert set(meta) == set(PARQUET_METADATA)
    units, labels = meta["gsim.units"], meta["gsim.labels"]
    for key in SUMMARY_FIELDS:
        assert units[key] == OUTCOMES[key].unit, key
        assert labels[key] == OUTCOMES[key].label
        assert meta["gsim.labels_zh"][key] == OUTCOMES[key].label_zh
        assert meta["gsim.kinds"][key] == OUTCOMES[key].kind
    assert units["lending_volume"] == "yuan" and units["default_rate"] == "fraction p.a."
    assert meta["gsim.labels_zh"]["leverage"] == "放大倍数"
    assert units["population.firms"] == "firms"  # an overridden parameter
    assert "scenario" not in units and "replication" not in units
    field = schema.field("compensation_rate")
    assert field.metadata == {b"unit": b"fraction", b"label": b"Compensation rate"}
    assert schema.field("scenario").metadata is None
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, whole_counts(summary), check_exact=True)

    ts_path = write_parquet(results.timeseries, tmp_path / "timeseries.parquet")
    ts_units = json.loads(pq.read_schema(ts_path).metadata[b"gsim.units"])
    assert set(ts_units) == set(MONTHLY_SERIES)
    assert pq.read_schema(ts_path).field("insolvent_guarantors").type == "int64"
    pd.testing.assert_frame_equal(
        pd.read_parquet(ts_path), whole_counts(results.timeseries), check_exact=True
    )


def test_tables_without_outcome_columns_have_no_units(tmp_path):
    frame = pd.DataFrame({"outcome": ["leverage"], "diff": [0.5]})
    path = write_parquet(frame, tmp_path / "differences.parquet")
    assert set(pq.read_schema(path).metadata) == {b"pandas"}
    assert column_metadata(["outcome", "diff"])["units"] == {}


# ----------------------------------------------------------------------- docs
def test_odd_outcome_table_is_generated_from_the_registry():
    """docs/ODD.md's outcome block is exactly outcome_table(); every outcome is listed; a
    registry change changes the rendering (so a stale document fails --check)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "ODD.md").read_text(encoding="utf-8")
    begin = text.index(OUTCOME_START) + len(OUTCOME_START)
    block = text[begin : text.index(OUTCOME_END)].strip("\n")
    assert block == outcome_table(), "run: python -m sim.interfaces.documentation docs/ODD.md"
    for key in OUTCOMES:
        assert f"| `{key}` |" in block, key
    assert block.count("| `leverage` |") == 2  # a column of both tables
    changed = dict(OUTCOMES)
    changed["leverage"] = dataclasses.replace(OUTCOMES["leverage"], unit="times")
    assert outcome_table(changed) != outcome_table()
    assert render(text) == text


def test_the_registry_is_part_of_the_public_api():
    assert sim.OUTCOMES is OUTCOMES
    assert isinstance(sim.OUTCOMES["leverage"], sim.Outcome)
    assert "OUTCOMES" in dir(sim)
