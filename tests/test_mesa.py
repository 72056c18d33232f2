"""SMEs and institutions are Mesa agents, and a step does not loop over SMEs in Python."""

from __future__ import annotations

import cProfile
import pstats

import mesa
import numpy as np
import pytest

import sim
from sim.agents import SME, Bank, Government, Guarantor, NationalFund, Reguarantor
from sim.parameters import BANK_TYPES, SECTORS, SIZE_CLASSES

SEED = 99


@pytest.fixture(scope="module")
def scenario(scenario_factory):
    return scenario_factory(
        {"credit.pd": 0.06, "guarantor.municipal": 3, "guarantor.district": 5},
        n_smes=2000,
        burn_in=1,
        horizon=8,
    )


@pytest.fixture(scope="module")
def fresh(scenario):
    """A model right after construction."""
    return sim.GuaranteeMarket(scenario, rng=SEED)


@pytest.fixture(scope="module")
def ran(scenario):
    """A model after its full run."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    model.run()
    return model


def test_model_is_a_mesa_model(fresh):
    """GuaranteeMarket is a mesa.Model and every agent is a mesa.Agent of it."""
    assert isinstance(fresh, mesa.Model)
    assert all(isinstance(a, mesa.Agent) and a.model is fresh for a in fresh.agents)


def test_agent_counts_by_type(fresh, scenario):
    """agents_by_type holds n_smes SMEs, 4 banks, municipal + district guarantors and one
    re-guarantor, National Fund and government."""
    by_type = fresh.agents_by_type
    assert len(by_type[SME]) == scenario["run.n_smes"] == 2000
    assert len(by_type[Bank]) == len(BANK_TYPES) == 4
    assert len(by_type[Guarantor]) == 3 + 5
    assert len(by_type[Reguarantor]) == 1
    assert len(by_type[NationalFund]) == 1
    assert len(by_type[Government]) == 1
    assert len(fresh.agents) == 2000 + 4 + 8 + 3
    tiers = sorted(g.tier for g in by_type[Guarantor])
    assert tiers == ["district"] * 5 + ["municipal"] * 3
    assert sorted(b.kind for b in by_type[Bank]) == sorted(BANK_TYPES)


def test_sme_rows_are_distinct_seats(fresh):
    """Each SME agent is a view onto a different row of the columns."""
    rows = sorted(a.row for a in fresh.agents_by_type[SME])
    assert rows == list(range(fresh.smes.n))


def test_agentset_select_and_agg(fresh):
    """AgentSet queries on SMEs agree with the columns (select by sector, agg of revenue)."""
    smes = fresh.agents_by_type[SME]
    tech = smes.select(lambda a: a.sector == "technology")
    assert len(tech) == np.count_nonzero(fresh.smes.sector == SECTORS.index("technology"))
    assert len(tech) > 0
    assert smes.agg("revenue", sum) == pytest.approx(fresh.smes.revenue.sum(), rel=1e-12)
    assert smes.agg("pd", max) == pytest.approx(fresh.smes.pd.max())
    micro = smes.select(lambda a: a.size_class == "micro")
    assert len(micro) == np.count_nonzero(fresh.smes.size == SIZE_CLASSES.index("micro"))
    first = smes.select(lambda a: a.first_time)
    assert len(first) == np.count_nonzero(fresh.smes.first_time)


def test_sme_views_reflect_loan_columns_after_run(ran):
    """After a run, has_loan, channel, loan_amount and firm_id of the SME views match the
    columns, and the AgentSet groups by channel."""
    s = ran.smes
    smes = ran.agents_by_type[SME]
    assert len(smes) == s.n  # seats persist through exits and defaults
    by_row = {a.row: a for a in smes}
    has = np.array([by_row[i].has_loan for i in range(s.n)])
    np.testing.assert_array_equal(has, s.has_loan)
    channel = np.array([by_row[i].channel or "none" for i in range(s.n)])
    expected = np.where(s.has_loan, np.where(s.loan_guarantor >= 0, "guaranteed", "direct"), "none")
    np.testing.assert_array_equal(channel, expected)
    assert {"guaranteed", "direct", "none"} <= set(channel)
    amount = np.array([by_row[i].loan_amount for i in range(s.n)])
    np.testing.assert_array_equal(amount, np.where(s.has_loan, s.loan_amount, 0.0))
    ids = np.array([by_row[i].firm_id for i in range(s.n)])
    np.testing.assert_array_equal(ids, s.firm_id)
    assert ids.max() >= s.n  # some seats were taken over by entrants
    groups = smes.groupby("channel").count()
    assert groups["guaranteed"] == np.count_nonzero(channel == "guaranteed")
    assert groups["direct"] == np.count_nonzero(channel == "direct")


def test_institution_equity_is_ledger_balance(ran):
    """Institution agents read their equity from the ledger."""
    for g in ran.agents_by_type[Guarantor]:
        assert g.equity == ran.ledger.balance[g.account]
        assert g.liability == ran.guarantor_liability[g.index]
    for b in ran.agents_by_type[Bank]:
        assert b.equity == ran.ledger.balance[b.account]


# ============================================================================ profiling
PROFILE_LEVERS = {
    "run.burn_in": 0,
    "run.horizon": 12,
    "credit.pd": 0.1,
    "shock.systematic_z": -2.0,
    "shock.duration": 600,
    "recovery.lag_months": 1,
    "guarantor.municipal": 2,
    "guarantor.district": 2,
    "demand.application_rate": 0.2,
    "bank.guarantee_el_tolerance": 0.05,
    "guarantor.el_appetite": 0.1,
}


def _calls_in_one_step(scenario_factory, n_smes: int) -> tuple[int, float]:
    """Python function calls of month 6 (after 5 months of burn-in) and that month's defaults."""
    sc = scenario_factory({**PROFILE_LEVERS, "run.n_smes": n_smes})
    model = sim.GuaranteeMarket(sc, rng=SEED)
    for _ in range(5):
        model.step()
    assert model.smes.has_loan.sum() > 0.02 * n_smes
    prof = cProfile.Profile()
    prof.enable()
    model.step()
    prof.disable()
    defaults = model.record["defaults_direct"] + model.record["defaults_guaranteed"]
    return pstats.Stats(prof).total_calls, defaults


def test_step_has_no_per_sme_python_loop(scenario_factory):
    """cProfile: the Python function calls of one step do not grow with the number of SMEs
    (2,000 vs 20,000: the larger count is at most 1.2 x the smaller + 200)."""
    small, d_small = _calls_in_one_step(scenario_factory, 2_000)
    large, d_large = _calls_in_one_step(scenario_factory, 20_000)
    assert d_small > 0 and d_large > 0  # both steps go through the default waterfall
    lo, hi = sorted((small, large))
    assert hi <= 1.2 * lo + 200, (small, large)
    assert hi < 20_000 // 4  # far fewer calls than SMEs in the large model
