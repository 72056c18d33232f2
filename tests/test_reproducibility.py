"""Reproducibility and common random numbers (architecture: seeds and replications)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments.replications import replication_seed, run_replications

SEED = 4242
LEVERS = {
    "credit.pd": 0.05,
    "risk_sharing.preset": "national_2222",
    "national_fund.coverage": 0.7,
    "government.fee_subsidy_rate": 0.005,
    "government.fee_subsidy_budget": 1e8,
    "recovery.lag_months": 2,
    "shock.sectors": ["transport", "catering"],
    "shock.pd_multiplier": 2.0,
}


def _run(scenario, rng):
    model = sim.GuaranteeMarket(scenario, rng=rng)
    model.run()
    return model.summary(), model.datacollector.get_model_vars_dataframe()


@pytest.fixture(scope="module")
def scenario(scenario_factory):
    """A small scenario with several levers on (so that defaults, recoveries, fees occur)."""
    return scenario_factory(LEVERS, n_smes=2500, burn_in=2, horizon=14)


@pytest.fixture(scope="module")
def reference_run(scenario):
    return _run(scenario, SEED)


def test_same_seed_same_outputs(scenario, reference_run):
    """Same scenario and seed give an identical summary dict and monthly DataFrame."""
    summary, ts = reference_run
    again_summary, again_ts = _run(scenario, SEED)
    assert summary["lending_volume"] > 0 and summary["net_credit_loss"] > 0
    np.testing.assert_equal(again_summary, summary)  # NaN == NaN here
    pd.testing.assert_frame_equal(again_ts, ts, check_exact=True)
    assert len(ts) == scenario["run.horizon"]


def test_seed_forms_are_equivalent(scenario, reference_run):
    """An int seed and the SeedSequence built from it give the same run."""
    summary, ts = reference_run
    s2, ts2 = _run(scenario, np.random.SeedSequence(SEED))
    np.testing.assert_equal(s2, summary)
    pd.testing.assert_frame_equal(ts2, ts, check_exact=True)


def test_different_seeds_differ(scenario, reference_run):
    """A different seed gives a different summary and monthly series."""
    summary, ts = reference_run
    other, other_ts = _run(scenario, SEED + 1)
    assert other["lending_volume"] != summary["lending_volume"]
    assert other["net_credit_loss"] != summary["net_credit_loss"]
    assert not other_ts["z"].equals(ts["z"])
    assert not other_ts.equals(ts)


def test_run_replications_is_reproducible(scenario):
    """run_replications(..., workers=1) twice gives identical summary and timeseries frames, its
    replications differ from each other, and replication k equals a model seeded with
    replication_seed(seed, k)."""
    a = run_replications(scenario, replications=3, seed=SEED, workers=1)
    b = run_replications(scenario, replications=3, seed=SEED, workers=1)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
    assert list(a.summary["replication"]) == [0, 1, 2]
    assert a.summary["lending_volume"].nunique() == 3
    direct, _ = _run(scenario, replication_seed(SEED, 1))
    row = a.summary.iloc[1]
    for key, value in direct.items():
        np.testing.assert_equal(row[key], value, err_msg=key)


def test_run_replications_independent_of_workers(scenario):
    """Results do not depend on the number of worker processes (1 vs 2)."""
    sc = scenario.with_overrides({"run.horizon": 6})
    one = run_replications(sc, replications=2, seed=SEED, workers=1, timeseries=False)
    two = run_replications(sc, replications=2, seed=SEED, workers=2, timeseries=False)
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)


POPULATION_COLUMNS = (
    "firm_id",
    "sector",
    "size",
    "revenue",
    "pd",
    "rho",
    "first_time",
    "collateral",
    "ip",
    "receivables",
    "request",
    "bank",
    "guarantor",
    "eps_bank",
    "eps_guarantor",
    "u_route",
    "u_cover",
)


@pytest.mark.parametrize(
    "lever",
    [
        {"guarantor.base_fee": 0.005},
        {"risk_sharing.preset": "bank_guarantor_82"},
        {"guarantor.due_diligence_exemption": True, "information.sharing": 0.8},
    ],
    ids=["base_fee", "risk_shares", "exemption_sharing"],
)
def test_common_random_numbers(scenario, lever):
    """Two scenarios differing only in a lever that does not touch the population build the same
    initial population with the same seed, and draw the same macro factors every month."""
    base = sim.GuaranteeMarket(scenario, rng=SEED)
    alt_scenario = scenario.with_overrides(lever)
    alt = sim.GuaranteeMarket(alt_scenario, rng=SEED)
    for col in POPULATION_COLUMNS:
        np.testing.assert_array_equal(getattr(alt.smes, col), getattr(base.smes, col), col)
    base.run()
    alt.run()
    z_base = base.datacollector.get_model_vars_dataframe()["z"]
    z_alt = alt.datacollector.get_model_vars_dataframe()["z"]
    pd.testing.assert_series_equal(z_alt, z_base, check_exact=True)
    # the lever does change outcomes (the comparison is not vacuous)
    s_base, s_alt = base.summary(), alt.summary()
    changed = [k for k in s_base if not np.array_equal(s_base[k], s_alt[k], equal_nan=True)]
    assert changed


def test_population_differs_across_seeds(scenario):
    """Different seeds draw different populations."""
    a = sim.GuaranteeMarket(scenario, rng=SEED)
    b = sim.GuaranteeMarket(scenario, rng=SEED + 1)
    assert not np.array_equal(a.smes.pd, b.smes.pd)
    assert not np.array_equal(a.smes.sector, b.smes.sector)


def test_deep_copy_mid_run_continues_identically(scenario, reference_run):
    """A model copied mid-run is independent of, and continues exactly like, the original.

    Guards the SME record columns: they must be derived from the records on access, so
    that a copy's columns and records stay one and the same storage.
    """
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    for _ in range(5):
        model.step()
    twin = copy.deepcopy(model)
    twin.run()
    model.run()
    np.testing.assert_equal(twin.summary(), reference_run[0])  # NaN == NaN here
    np.testing.assert_equal(model.summary(), reference_run[0])
    assert not np.shares_memory(twin.smes.applicant, model.smes.applicant)
    twin.smes.request[:] = 0.0  # writing a copy's column changes the copy's records only
    assert not twin.smes.applicant["request"].any() and model.smes.request.all()


def test_results_equal_the_summary_stored_before_the_refactors():
    """Today's code reproduces, to the last digit, the summary that the code of commit
    bd28783 wrote before the refactors of the monthly cycle, the layout and the stored
    counts (tests/data/README.md): baseline_2021 and beijing_2022, 3,000 SMEs, 2
    replications, root seed 7."""
    from pathlib import Path

    stored = pd.read_parquet(Path(__file__).parent / "data" / "summary_before_refactor.parquet")
    scenarios = [
        sim.load_scenario(name, overrides={"run.n_smes": 3000})
        for name in ("baseline_2021", "beijing_2022")
    ]
    now = run_replications(scenarios, 2, seed=7, timeseries=False).summary
    assert list(now.columns) == list(stored.columns)
    pd.testing.assert_frame_equal(now, stored, check_exact=True, check_dtype=True)
