"""The guarantors' state read for all of them at once (``Guarantor.equities``,
``leverage_caps``, ``appetites``) against the rules written out one guarantor at a time.

The monthly stages read these arrays; the per-guarantor properties read one element of
them. Each test sets the state the rule depends on by hand, so that every branch of the
rule (focused or not, no liability, equity above, within and below its opening value, no
opening equity) is taken.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.agents import Guarantor
from sim.agents.terms import exemption


@pytest.fixture
def model():
    sc = sim.load_scenario("scenarios/beijing_2022.toml", overrides={"run.n_smes": 500})
    return sim.GuaranteeMarket(sc, rng=3)


def test_equities_are_the_ledger_balances(model):
    model.ledger.balance[model.guarantor_accounts] = np.arange(len(model.guarantors)) * 1e6
    for g, e in zip(model.guarantors, Guarantor.equities(model), strict=True):
        assert e == g.equity == model.ledger.balance[g.account]


def test_leverage_caps_follow_the_small_micro_focus(model):
    p = model.params
    n = len(model.guarantors)
    share = p["guarantor.small_micro_focus_share"]
    caps = Guarantor.leverage_caps(model)
    assert (caps == p["guarantor.leverage_cap_small_micro"]).all()  # no liability yet
    liab = np.full(n, 1e8)
    liab[0] = 0.0  # no liability: the small/micro cap
    sm = liab * share  # exactly at the share: focused
    sm[1] = liab[1] * share * 0.99  # just below: the general cap
    sm[2] = liab[2]  # all small/micro
    model.guarantor_liability[:] = liab
    model.guarantor_liability_sm[:] = sm
    caps = Guarantor.leverage_caps(model)
    for k, g in enumerate(model.guarantors):
        focused = liab[k] <= 0 or sm[k] / liab[k] >= share
        want = p["guarantor.leverage_cap_small_micro" if focused else "guarantor.leverage_cap"]
        assert caps[k] == g.leverage_cap == want
    assert caps[1] == p["guarantor.leverage_cap"] != p["guarantor.leverage_cap_small_micro"]


def test_appetites_scale_with_drive_and_equity_health(model):
    p = model.params
    gs = model.guarantors
    opening = np.array([g.opening_equity for g in gs])
    equity = opening.copy()
    equity[0] = 2.0 * opening[0]  # above the opening capital: health 1
    equity[1] = 0.5 * opening[1]  # half: health 0.5
    equity[2] = -opening[2]  # insolvent: health 0
    model.ledger.balance[model.guarantor_accounts] = equity
    gs[3].drive = 2.0
    gs[4].opening_equity = 0.0  # no opening capital: health 1
    appetites = Guarantor.appetites(model)
    base = p["guarantor.el_appetite"] * (1.0 + exemption(model))
    for k, g in enumerate(gs):
        health = min(1.0, max(0.0, g.equity / g.opening_equity)) if g.opening_equity else 1.0
        assert appetites[k] == pytest.approx(base * g.drive * health, rel=1e-15)
        assert g.appetite() == appetites[k]
    assert appetites[0] == appetites[5] == base
    assert appetites[1] == pytest.approx(0.5 * base)
    assert appetites[2] == 0.0
    assert appetites[3] == pytest.approx(2.0 * base)
    assert appetites[4] == base


def test_recorded_capacity_and_cap_are_the_guarantors_own(model):
    for _ in range(30):
        model.step()
    caps = [g.leverage_cap for g in model.guarantors]
    room = [max(0.0, g.leverage_cap * g.equity - g.net_liability) for g in model.guarantors]
    assert model.record["leverage_cap"] == pytest.approx(np.mean(caps), rel=1e-15)
    assert model.record["capacity_headroom"] == pytest.approx(sum(room), rel=1e-12)
    assert model.record["capacity_headroom"] > 0
