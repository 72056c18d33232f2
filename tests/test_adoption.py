"""Measures take time: adoption levels, the parameters in force, and the package's ramp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.adoption import Adoption, adoption_level
from sim.parameters import REGISTRY, RISK_SHARE_KEYS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "scenarios" / "beijing_2022.toml"
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
IMMEDIATE = {"adoption.delay": [0.0] * 12, "adoption.ramp": [0.0] * 12}


@pytest.mark.parametrize(
    ("month", "delay", "ramp", "expected"),
    [
        (0, 0, 0, 0.0),  # burn-in
        (1, 0, 0, 1.0),
        (3, 3, 0, 0.0),
        (4, 3, 0, 1.0),
        (3, 3, 6, 0.0),
        (6, 3, 6, 0.5),
        (9, 3, 6, 1.0),
        (40, 3, 6, 1.0),
    ],
)
def test_adoption_level(month, delay, ramp, expected):
    assert adoption_level(month, delay, ramp) == pytest.approx(expected)


def test_adoption_level_rejects_negative_path():
    with pytest.raises(ValueError):
        adoption_level(1, -1, 0)


def _values(**changes):
    values = {k: sim.scenario.copy_value(p.default) for k, p in REGISTRY.items()}
    values.update(changes)
    return values


def test_in_force_blends_numbers_and_switches_at_start():
    """Half-way along measure 4's path the sharing degree is half-way to its target, and
    the receivables switch is on (it switches when adoption starts); measure 9's bank
    share follows its own path and the guarantor's share is the residual."""
    delay = [0.0] * 12
    ramp = [10.0] * 12
    ramp[8] = 20.0  # measure 9 slower
    values = _values(
        **{
            "information.sharing": 0.6,
            "collateral.receivables": True,
            "bank.share": 0.2,
            "guarantor.share": 0.6,
            "adoption.delay": delay,
            "adoption.ramp": ramp,
        }
    )
    a = Adoption(values)
    assert a.changed == {
        "information.sharing": 4,
        "collateral.receivables": 4,
        "bank.share": 9,
        "guarantor.share": 9,
    }
    a.update(0)
    p0 = a.in_force()
    assert p0["information.sharing"] == 0.0 and p0["collateral.receivables"] is False
    assert p0["bank.share"] == 0.0 and p0["guarantor.share"] == pytest.approx(0.8)
    a.update(5)
    p = a.in_force()
    assert p["information.sharing"] == pytest.approx(0.3)
    assert p["collateral.receivables"] is True
    assert p["bank.share"] == pytest.approx(0.05)
    assert p["guarantor.share"] == pytest.approx(0.75)
    assert sum(p[k] for k in RISK_SHARE_KEYS) == pytest.approx(1.0)
    assert a.level(4) == pytest.approx(0.5) and a.level(9) == pytest.approx(0.25)
    assert a.level(1) == 1.0  # nothing of measure 1 changes
    a.update(30)
    assert a.in_force()["information.sharing"] == pytest.approx(0.6)


def test_integer_parameters_are_rounded():
    values = _values(**{"guarantor.approval_delay": 3, "adoption.ramp": [4.0] * 12})
    values["adoption.delay"] = [0.0] * 12
    a = Adoption(values)
    a.update(2)
    assert a.in_force()["guarantor.approval_delay"] == 2  # 1 + 0.5 x (3 - 1)


def test_shares_stay_a_distribution_when_adopted_out_of_step():
    """Shares that fit one by one but not together are scaled down; the guarantor's share
    is never negative."""
    delay = [0.0] * 12
    ramp = [0.0] * 12
    delay[8] = 100.0  # measure 9 (bank share back to 0) not yet adopted
    values = _values(
        **{
            "guarantor.share": 0.0,
            "reguarantor.share": 0.5,
            "bank.share": 0.5,
            "adoption.delay": delay,
            "adoption.ramp": ramp,
        }
    )
    values["reguarantor.share"], values["bank.share"] = 0.9, 0.1
    a = Adoption(values)
    a.update(1)
    p = a.in_force()
    shares = [p[k] for k in RISK_SHARE_KEYS]
    assert min(shares) >= 0.0
    assert sum(shares) == pytest.approx(1.0)


def _monthly(scenario, overrides, seed=3):
    sc = sim.load_scenario(scenario, overrides={"run.n_smes": 20_000, **overrides})
    m = sim.GuaranteeMarket(sc, rng=seed)
    m.run()
    return m, m.datacollector.get_model_vars_dataframe()


def test_package_ramps_up_rather_than_jumping():
    """With the registry's adoption paths (delay 6 months, ramp 12), the package's new
    guaranteed lending in its first three months is close to the baseline's (nothing is
    adopted yet), and its months 19-36 (full adoption) differ from month 1-3 far more than
    the baseline's do. Same seed for both (common random numbers)."""
    _, base = _monthly(BASELINE, {})
    _, pkg = _monthly(PACKAGE, {})
    first = slice(0, 3)
    late = slice(18, 36)
    g_base = base["new_guaranteed"].to_numpy()
    g_pkg = pkg["new_guaranteed"].to_numpy()
    assert g_pkg[first].sum() == pytest.approx(g_base[first].sum(), rel=0.05)
    change_pkg = g_pkg[late].mean() / g_pkg[first].mean()
    change_base = g_base[late].mean() / g_base[first].mean()
    assert change_pkg > change_base * 1.1, (change_pkg, change_base)


def test_immediate_adoption_acts_from_the_first_month():
    """With every delay and ramp at zero the package is in force from month 1: its first
    months already differ from the baseline's."""
    _, base = _monthly(BASELINE, IMMEDIATE)
    _, pkg = _monthly(PACKAGE, IMMEDIATE)
    assert pkg["new_guaranteed"].iloc[:3].sum() > 1.1 * base["new_guaranteed"].iloc[:3].sum()


def test_params_in_force_follow_the_path():
    """``model.params`` moves from the reference to the scenario's values; ``model.spec``
    keeps the scenario as given."""
    sc = sim.load_scenario(PACKAGE, overrides={"run.n_smes": 500})
    m = sim.GuaranteeMarket(sc, rng=1)
    seen = []
    for _ in range(m.burn_in + 24):
        m.step()
        seen.append(m.params["information.sharing"])
    seen = np.array(seen)
    assert seen[: m.burn_in + 6].max() == 0.0
    assert np.all(np.diff(seen) >= 0)
    assert seen[-1] == pytest.approx(sc["information.sharing"])
    assert m.spec["information.sharing"] == sc["information.sharing"]


def test_loans_keep_the_risk_split_they_were_booked_under():
    """A guarantee booked before the bank share is adopted keeps s_bank = 0: its
    compensation is its whole exposure, while loans booked after adoption pay 80%."""
    m, _ = _monthly(PACKAGE, {"run.horizon": 30})
    by_month = m.shares_by_month
    assert by_month[m.burn_in, 3] == 0.0  # before adoption
    assert by_month[m.burn_in + 30, 3] == pytest.approx(0.2)
    assert np.allclose(by_month[1 : m.burn_in + 31].sum(axis=1), 1.0)
