"""Runs that share their first months compute them once, with the same results bit for bit.

Every measure is at adoption level 0 during the burn-in and the horizon's months before the
earliest adoption delay, so scenarios that differ only in parameters of a measure run these
months alike from the same seed (``sim.adoption.shared_months``):
``GuaranteeMarket.continue_as`` continues a model as another scenario, and
``sim.experiments.burn_in`` shares such models between the runs of a sweep or a comparison.
The claims are exact (same summary, monthly series and final state), so they are checked by
equality, not statistically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from golden import assert_state_equal, final_state

import sim
from sim.adoption import burn_in_values, shared_months
from sim.experiments import burn_in
from sim.experiments.replications import replication_seed, run_replications
from sim.model import GuaranteeMarket, _relaid

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"run.n_smes": 1500, "run.horizon": 18}
#: The package and each of its twelve measures alone: between them every measure's
#: parameters depart from their reference.
MEASURE_SCENARIOS = [
    "beijing_2022",
    *sorted(p.stem for p in (ROOT / "scenarios").glob("m??_*.toml")),
]


def _load(name: str, burn: int, **extra):
    return sim.load_scenario(name, overrides={**SMALL, "run.burn_in": burn, **extra})


def _burned(scenario, seed: int, months: int | None = None) -> GuaranteeMarket:
    """A model of ``scenario`` run through ``months`` (default: its burn-in)."""
    model = GuaranteeMarket(scenario, rng=seed)
    for _ in range(model.burn_in if months is None else months):
        model.step()
    return model


def _assert_same_run(a: GuaranteeMarket, b: GuaranteeMarket) -> None:
    """Same summary, monthly series and final state (every array a later month would read,
    the random generators' states included: tests/golden.py), bit for bit."""
    np.testing.assert_equal(a.summary(), b.summary())  # NaN == NaN here
    pd.testing.assert_frame_equal(
        a.datacollector.get_model_vars_dataframe(),
        b.datacollector.get_model_vars_dataframe(),
        check_exact=True,
    )
    assert_state_equal(final_state(a), final_state(b))


def test_the_measure_scenarios_are_thirteen():
    assert len(MEASURE_SCENARIOS) == 13


@pytest.mark.parametrize("burn", [18, 24])  # a burn-in that ends mid-year, and one that does not
@pytest.mark.parametrize("name", MEASURE_SCENARIOS)
def test_a_run_continued_after_shared_months_is_the_run_itself(name, burn):
    """The 2021 baseline's first months, continued as the package or as one measure, give
    the run of that scenario: summary, monthly series and final state, bit for bit; from the
    end of the burn-in, and from the end of the shared months (default delays: 6 months
    into the horizon)."""
    scenario = _load(name, burn)
    alone = GuaranteeMarket(scenario, rng=7)
    alone.run()
    assert shared_months(scenario.values) == burn + 6
    for months in (burn, burn + 6):
        twin = _burned(_load("baseline_2021", burn), 7, months).continue_as(scenario)
        assert twin.spec is scenario and twin.month == months
        twin.run()
        _assert_same_run(twin, alone)


def test_shared_months_follow_the_earliest_adoption_delay_and_the_horizon():
    def months(delay, horizon=18):
        return shared_months(
            _load("beijing_2022", 12, **{"adoption.delay": delay, "run.horizon": horizon}).values
        )

    assert months([6.0] * 12) == 18 and months([0.0] * 12) == 12
    assert months([9.5] * 11 + [3.5]) == 15  # a measure starts after its delay: month 4
    assert months([30.0] * 12) == 12 + 18  # no measure starts within the horizon


def test_a_run_wholly_shared_is_the_run_itself():
    """With every delay past the horizon, no measure starts: the whole run is shared."""
    extra = {"adoption.delay": [30.0] * 12}
    scenario = _load("beijing_2022", 12, **extra)
    alone = GuaranteeMarket(scenario, rng=2)
    alone.run()
    twin = _burned(_load("baseline_2021", 12, **extra), 2, 30).continue_as(scenario)
    twin.run()
    _assert_same_run(twin, alone)


def test_longer_recovery_lags_than_the_burn_in_had_relay_the_schedules():
    """A scenario whose recovery and write-off lags exceed the reference needs longer
    schedules than the burned-in model has: they are re-laid, and the run is unchanged."""
    scenario = _load(
        "beijing_2022", 18, **{"recovery.lag_months": 30, "recovery.write_off_months": 20}
    )
    burned = _burned(_load("baseline_2021", 18), 3)
    twin = burned.continue_as(scenario)
    assert twin.recovery_due.shape[0] == 31 > burned.recovery_due.shape[0]
    alone = GuaranteeMarket(scenario, rng=3)
    alone.run()
    twin.run()
    _assert_same_run(twin, alone)


def test_relaid_keeps_every_month_that_falls_due():
    rng = np.random.default_rng(0)
    due = np.zeros((13, 4))
    month = 29
    for ahead in (1, 5, 12):  # rows fall due 1, 5 and 12 months ahead of month 29
        due[(month + ahead) % 13] = rng.random(4)
    out = _relaid(due, month, 31)
    for ahead in range(13):
        np.testing.assert_array_equal(out[(month + ahead) % 31], due[(month + ahead) % 13])
    assert np.count_nonzero(out.any(axis=1)) == 3
    with pytest.raises(ValueError, match="cannot hold month"):
        _relaid(due, month, 12)


def test_the_burned_in_model_is_left_as_it_was():
    """Two continuations of one burned-in model are the same run; the model itself is at
    the end of its burn-in still."""
    scenario = _load("beijing_2022", 18)
    burned = _burned(_load("baseline_2021", 18), 5)
    first, second = burned.continue_as(scenario), burned.continue_as(scenario)
    first.run()
    assert burned.month == 18 and not burned.datacollector.model_vars["month"]
    second.run()
    _assert_same_run(first, second)


def test_continue_as_refuses_another_start_or_a_later_month():
    burned = _burned(_load("baseline_2021", 12), 5)
    other = _load("beijing_2022", 12, **{"credit.pd": 0.05})
    with pytest.raises(ValueError, match=r"does not share.*credit\.pd = 0\.05"):
        burned.continue_as(other)
    for _ in range(7):  # 12 + 6 shared months, then one more
        burned.step()
    with pytest.raises(ValueError, match="at month 19, past the 18 months"):
        burned.continue_as(_load("beijing_2022", 12))


def test_burn_in_values_hold_the_parameters_without_a_measure():
    base = _load("baseline_2021", 12)
    package = _load("beijing_2022", 12)
    assert dict(burn_in_values(package.values)) == dict(burn_in_values(base.values))
    keys = dict(burn_in_values(base.values))
    assert "credit.pd" in keys and "run.n_smes" in keys and "bank.share" not in keys
    assert keys["population.sector_shares"] == tuple(base["population.sector_shares"])
    hash(burn_in_values(base.values))  # a cache key
    assert burn_in_values(_load("beijing_2022", 12, **{"credit.pd": 0.05}).values) != (
        burn_in_values(base.values)
    )


def test_start_run_computes_a_shared_burn_in_once(monkeypatch):
    """In a shared_burn_ins block, three scenarios of one replication step through the
    burn-in once (and give the runs they give alone); outside it, each steps through its own."""
    steps = []
    step = GuaranteeMarket.step
    monkeypatch.setattr(GuaranteeMarket, "step", lambda self: (steps.append(1), step(self))[1])
    names = ["baseline_2021", "beijing_2022", MEASURE_SCENARIOS[3]]
    scenarios = [_load(n, 12) for n in names]

    def runs():
        out = []
        for sc in scenarios:
            model = burn_in.start_run(sc, 9, 1, replication_seed(9, 1))
            model.run()
            out.append(model)
        return out

    plain = runs()
    assert len(steps) == 3 * (12 + 18)
    steps.clear()
    with burn_in.shared_burn_ins():
        shared = runs()
        assert len(steps) == (12 + 6) + 3 * (18 - 6)  # shared months once
    for a, b in zip(shared, plain, strict=True):
        _assert_same_run(a, b)


def test_shared_burn_ins_keep_the_latest_models_and_drop_them_at_the_end():
    scenario = _load("baseline_2021", 6)
    with burn_in.shared_burn_ins():
        for rep in range(4):
            burn_in.start_run(scenario, 1, rep, replication_seed(1, rep))
        kept = [k[2] for k in burn_in._local.models]
        assert kept == list(range(4))[-burn_in.KEEP :]  # the latest KEEP replications
        with burn_in.shared_burn_ins():  # nested: the same models
            assert len(burn_in._local.models) == burn_in.KEEP
    assert burn_in._local.models is None


def test_burn_in_groups_gather_equal_keys_in_order():
    assert burn_in.burn_in_groups(["a", "b", "a", "c", "b"]) == [[0, 2], [1, 4], [3]]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_comparison_shares_burn_ins_and_equals_runs_alone(workers):
    """compare's runs (two scenarios x two replications, grouped by replication, in-process
    or on a pool) equal the same runs made one by one without sharing."""
    scenarios = [_load("baseline_2021", 12), _load("beijing_2022", 12)]
    got = run_replications(scenarios, 2, seed=11, workers=workers)
    for sc in scenarios:
        for rep in range(2):
            alone = GuaranteeMarket(sc, rng=replication_seed(11, rep))
            alone.run()
            row = got.summary[(got.summary.scenario == sc.name) & (got.summary.replication == rep)]
            expected = alone.summary()
            assert row.shape[0] == 1
            for key in ("lending_volume", "net_credit_loss", "fiscal_cost", "guarantor_equity_end"):
                assert row[key].iloc[0] == expected[key], key


def test_a_run_alone_in_its_group_is_not_copied(monkeypatch):
    """run_grouped copies models only where runs share (a group of one makes its model as
    it is), also in a thread that shares across tasks, whose models it leaves in place."""
    copies = []
    cont = GuaranteeMarket.continue_as
    monkeypatch.setattr(
        GuaranteeMarket, "continue_as", lambda self, sc: (copies.append(1), cont(self, sc))[1]
    )
    scenarios = [_load("baseline_2021", 6), _load("beijing_2022", 6)]

    def task(sc):
        model = burn_in.start_run(sc, 4, 0, replication_seed(4, 0))
        model.run()
        return model.summary()["lending_volume"]

    alone = burn_in.run_grouped(task, scenarios[:1])
    assert copies == []
    together = burn_in.run_grouped(task, scenarios)
    assert len(copies) == 2 and together[0] == alone[0]
    with burn_in.shared_burn_ins():  # as in a pool worker (share_burn_ins_here)
        kept = burn_in._local.models
        burn_in.run_grouped(task, scenarios[1:])
        assert len(copies) == 2 and burn_in._local.models is kept
        burn_in.run_grouped(task, scenarios)
        assert len(copies) == 4 and burn_in._local.models is kept and not kept  # none left


def test_a_sweep_run_alone_gets_its_own_model_and_lever_points_share(tmp_path, monkeypatch):
    """In a sweep, a run whose first months no other run shares (a ``share_groups`` group
    of one) gets a model of its own (no copy); runs of one replication of two lever points
    share, also as single-run tasks in one process (the in-process executor)."""
    from sim.experiments.sweeps.runs import RunSpec, run_group, share_groups

    copies = []
    cont = GuaranteeMarket.continue_as
    monkeypatch.setattr(
        GuaranteeMarket, "continue_as", lambda self, sc: (copies.append(1), cont(self, sc))[1]
    )
    (tmp_path / "runs").mkdir()
    levers = [_load("baseline_2021", 6), _load("beijing_2022", 6)]
    structure = [_load("baseline_2021", 6, **{"credit.pd": pd_}) for pd_ in (0.03, 0.05)]

    def specs(scenarios, tag):
        return [
            RunSpec(point=i, replication=0, seed=3, run_id=f"{tag}{i}", values={}, scenario=sc)
            for i, sc in enumerate(scenarios)
        ]

    def task(spec):
        model = burn_in.start_run(spec.scenario, spec.seed, 0, replication_seed(3, 0))
        model.run()
        return {"lending_volume": model.summary()["lending_volume"]}, None

    both = specs(structure, "s") + specs(levers, "l")
    alone = {group[0].run_id for group in share_groups(both) if len(group) == 1}
    assert alone == {"s0", "s1"}
    assert [e for e, _, _ in run_group(task, str(tmp_path), both[:2], None, alone)] == [None] * 2
    assert copies == []
    with burn_in.shared_burn_ins():  # the in-process executor: one block, tasks of one run
        for spec in both[2:]:
            assert run_group(task, str(tmp_path), [spec], None, alone)[0][0] is None
    assert len(copies) == 2
