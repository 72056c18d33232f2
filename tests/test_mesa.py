"""SMEs and institutions are Mesa agents, and a step does not loop over SMEs in Python."""

from __future__ import annotations

import copy
import cProfile
import pickle
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


# ============================================================ SME agents made on first use
def _institutions(model) -> int:
    return len(model.banks) + len(model.guarantors) + 3  # re-guarantor, fund, government


def test_construction_reserves_the_seats_ids_without_making_agents(scenario):
    """Building the model makes no SME agent, but takes the seats' ids: the next id is
    the one after the last seat's, as if the seats had been created."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    n = scenario["run.n_smes"]
    assert len(model._all_agents) == _institutions(model)  # Mesa's store: no seats yet
    assert model.first_sme_id == _institutions(model) + 1
    assert model.agent_id_counter == model.first_sme_id + n


def test_seats_appear_on_first_access_with_their_ids_and_rows(scenario):
    """The first read of model.agents makes the seats: ids first_sme_id onwards, after
    the institutions' and in order, rows 0..n-1; agent_types and agents_by_type agree."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    n = scenario["run.n_smes"]
    agents = list(model.agents)
    assert [a.unique_id for a in agents] == list(range(1, _institutions(model) + n + 1))
    smes = agents[_institutions(model) :]
    assert all(type(a) is SME and a.model is model and a.pos is None for a in smes)
    assert [a.row for a in smes] == list(range(n))
    assert vars(smes[0]) == {"model": model, "unique_id": model.first_sme_id, "pos": None}
    assert model.agent_types == [Bank, Guarantor, Reguarantor, NationalFund, Government, SME]
    assert list(model.agents_by_type[SME]) == smes
    assert model.agents is model.agents  # made once
    assert model.agent_id_counter == model.first_sme_id + n


@pytest.mark.parametrize("first", ["agents", "agents_by_type", "agent_types", "new agent"])
def test_every_way_in_sees_the_seats(scenario, first):
    """Whichever Mesa path comes first (the collections, or registering a new agent), the
    seats are there, and an agent created later comes after them."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    n = scenario["run.n_smes"]
    if first == "new agent":
        newcomer = mesa.Agent(model)
    else:
        getattr(model, first)
        newcomer = mesa.Agent(model)
    assert newcomer.unique_id == model.first_sme_id + n
    assert list(model.agents)[-1] is newcomer
    assert len(model.agents_by_type[SME]) == n
    assert len(model.agents) == _institutions(model) + n + 1


def test_removing_agents_before_first_access(scenario):
    """Removing an institution, or all agents, before the seats were read behaves as if
    the seats had been there all along."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    model.banks[0].remove()
    assert len(model.agents) == _institutions(model) - 1 + scenario["run.n_smes"]
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    model.remove_all_agents()
    assert len(model.agents) == 0
    assert len(model.agents_by_type[SME]) == 0


def test_agentset_do_and_datacollector_agent_reporters(scenario):
    """AgentSet.do/get and DataCollector agent and agent-type reporters see every seat."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    n = scenario["run.n_smes"]
    dc = mesa.DataCollector(
        agent_reporters={"id": "unique_id"}, agenttype_reporters={SME: {"pd": "pd"}}
    )
    dc.collect(model)
    assert len(dc.get_agent_vars_dataframe()) == _institutions(model) + n
    pd_by_agent = dc.get_agenttype_vars_dataframe(SME)["pd"].to_numpy()
    np.testing.assert_array_equal(pd_by_agent, model.smes.pd)
    assert model.agents_by_type[SME].do("step") is model.agents_by_type[SME]
    np.testing.assert_array_equal(model.agents_by_type[SME].get("revenue"), model.smes.revenue)


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copies_made_before_first_access_have_their_own_seats(scenario, clone):
    """A deep copy or a pickle round trip of a model whose seats were never read makes its
    own seats, onto its own columns; the original is untouched."""
    model = sim.GuaranteeMarket(scenario, rng=SEED)
    twin = clone(model)
    seats = list(twin.agents_by_type[SME])
    assert len(seats) == scenario["run.n_smes"]
    assert all(a.model is twin for a in seats)
    assert len(model._all_agents) == _institutions(model)
    twin.smes.revenue[0] = -1.0
    assert seats[0].revenue == -1.0 and model.smes.revenue[0] != -1.0


def test_results_identical_whether_or_not_agents_are_read(scenario):
    """Reading the SME agents (before, during and after months of entry and exit) does not
    change a single number of the run."""
    plain = sim.GuaranteeMarket(scenario, rng=SEED)
    plain.run()
    looked = sim.GuaranteeMarket(scenario, rng=SEED)
    looked.agents_by_type[SME].agg("pd", max)
    for _ in range(3):
        looked.step()
    assert len(looked.agents) == len(plain.agents)
    looked.run()
    np.testing.assert_equal(looked.summary(), plain.summary())
    firm_ids = [a.firm_id for a in looked.agents_by_type[SME]]
    np.testing.assert_array_equal(firm_ids, plain.smes.firm_id)


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
