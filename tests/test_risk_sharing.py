"""Unit tests of the loss waterfall in :mod:`sim.risk_sharing` (model.md section 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.risk_sharing import (
    PARTIES,
    PRESETS,
    LossAllocation,
    allocate_loss,
    floor_warnings,
    share_recovery,
)
from sim.scenario import default_scenario

# The presets as model.md section 5 states them, written out independently of sim/.
DESIGN_PRESETS = {
    "national_2222": (0.4, 0.2, 0.2, 0.2, 0.0),
    "anhui_4321": (0.4, 0.3, 0.0, 0.2, 0.1),
    "full_guarantee": (1.0, 0.0, 0.0, 0.0, 0.0),
    "bank_guarantor_82": (0.8, 0.0, 0.0, 0.2, 0.0),
}

# Party losses on an exposure of 100 when every share is covered:
# (bank, compensation, guarantor, reguarantor, national_fund, comp_fund).
EXPECTED_ON_100 = {
    "national_2222": (20.0, 80.0, 40.0, 20.0, 20.0, 0.0),
    "anhui_4321": (20.0, 80.0, 40.0, 30.0, 0.0, 10.0),
    "full_guarantee": (0.0, 100.0, 100.0, 0.0, 0.0, 0.0),
    "bank_guarantor_82": (20.0, 80.0, 80.0, 0.0, 0.0, 0.0),
}


def _as_tuple(a: LossAllocation, i: int = 0) -> tuple[float, ...]:
    return tuple(
        float(getattr(a, k)[i])
        for k in ("bank", "compensation", "guarantor", "reguarantor", "national_fund", "comp_fund")
    )


# ---------------------------------------------------------------------------- presets
def test_presets_match_design():
    """PRESETS holds exactly the four share vectors of model.md section 5, each summing to 1."""
    assert set(PRESETS) == set(DESIGN_PRESETS)
    for name, vec in DESIGN_PRESETS.items():
        assert PRESETS[name] == pytest.approx(vec, abs=1e-15)
        assert math.fsum(PRESETS[name]) == pytest.approx(1.0, abs=1e-12)
    assert PARTIES == ("guarantor", "reguarantor", "national_fund", "bank", "comp_fund")


@pytest.mark.parametrize("name", sorted(EXPECTED_ON_100))
def test_preset_losses_on_exposure_100(name):
    """Each preset splits an exposure of 100 into the exact party losses and compensation."""
    a = allocate_loss([100.0], PRESETS[name])
    assert _as_tuple(a) == pytest.approx(EXPECTED_ON_100[name], abs=1e-12)
    assert float(a.total()[0]) == pytest.approx(100.0, abs=1e-12)


@pytest.mark.parametrize("name", sorted(EXPECTED_ON_100))
def test_preset_losses_scale_linearly(name):
    """Losses are proportional to exposure, per loan, for a vector of exposures."""
    e = np.array([0.0, 1.0, 250.0, 3.5e7])
    a = allocate_loss(e, PRESETS[name])
    base = np.array(EXPECTED_ON_100[name]) / 100.0
    for i, ei in enumerate(e):
        assert _as_tuple(a, i) == pytest.approx(tuple(base * ei), rel=1e-12, abs=1e-12)


def test_per_loan_share_matrix():
    """An (n, 5) share matrix applies row by row."""
    shares = np.array([PRESETS["national_2222"], PRESETS["full_guarantee"]])
    a = allocate_loss([100.0, 50.0], shares)
    assert _as_tuple(a, 0) == pytest.approx(EXPECTED_ON_100["national_2222"])
    assert _as_tuple(a, 1) == pytest.approx(
        tuple(0.5 * x for x in EXPECTED_ON_100["full_guarantee"])
    )


# ---------------------------------------------------------------------------- fall-backs
def test_uncovered_reguarantor_share_falls_back_to_guarantor():
    """A loan the re-guarantor does not cover leaves its 20% with the guarantor."""
    a = allocate_loss([100.0, 100.0], PRESETS["national_2222"], reguarantor_covers=[False, True])
    assert float(a.reguarantor[0]) == 0.0
    assert float(a.guarantor[0]) == pytest.approx(60.0)
    assert float(a.reguarantor[1]) == pytest.approx(20.0)
    assert float(a.guarantor[1]) == pytest.approx(40.0)
    assert a.bank == pytest.approx([20.0, 20.0])
    assert a.compensation == pytest.approx([80.0, 80.0])


def test_uncovered_national_fund_share_falls_back_to_guarantor():
    """A loan the National Fund does not cover (or does not share) leaves its 20% with the
    guarantor."""
    a = allocate_loss([100.0, 100.0], PRESETS["national_2222"], national_fund_covers=[True, False])
    assert a.national_fund == pytest.approx([20.0, 0.0])
    assert a.guarantor == pytest.approx([40.0, 60.0])
    a = allocate_loss(
        [100.0],
        PRESETS["national_2222"],
        reguarantor_covers=False,
        national_fund_covers=False,
    )
    assert _as_tuple(a) == pytest.approx((20.0, 80.0, 80.0, 0.0, 0.0, 0.0))


def test_comp_fund_budget_pays_pro_rata_rest_to_guarantor():
    """Compensation-fund claims above its budget are paid pro rata; the rest falls back to the
    guarantor."""
    # Anhui 4321: comp fund 10% -> claims 10 and 30 on exposures 100 and 300
    e = np.array([100.0, 300.0])
    a = allocate_loss(e, PRESETS["anhui_4321"], comp_fund_available=20.0)
    assert a.comp_fund == pytest.approx([5.0, 15.0])
    assert float(a.comp_fund.sum()) == pytest.approx(20.0)
    assert a.guarantor == pytest.approx([40.0 + 5.0, 120.0 + 15.0])
    assert a.total() == pytest.approx(e)
    # a budget equal to or above the claims pays them in full
    full = allocate_loss(e, PRESETS["anhui_4321"], comp_fund_available=40.0)
    assert full.comp_fund == pytest.approx([10.0, 30.0])
    assert full.guarantor == pytest.approx([40.0, 120.0])
    # an exhausted budget pays nothing
    none = allocate_loss(e, PRESETS["anhui_4321"], comp_fund_available=0.0)
    assert none.comp_fund == pytest.approx([0.0, 0.0])
    assert none.guarantor == pytest.approx([50.0, 150.0])


def test_national_fund_budget_pays_pro_rata_rest_to_guarantor():
    """National Fund claims beyond ``national_fund_available`` are paid pro rata (covered loans
    only); the rest falls back to the guarantor."""
    e = np.array([100.0, 300.0, 200.0])
    covers = np.array([True, True, False])
    a = allocate_loss(
        e, PRESETS["national_2222"], national_fund_covers=covers, national_fund_available=40.0
    )
    # claims 20 and 60 (the third is not covered) scaled to 40 in total
    assert a.national_fund == pytest.approx([10.0, 30.0, 0.0])
    assert a.guarantor == pytest.approx([40.0 + 10.0, 120.0 + 30.0, 80.0 + 40.0])
    assert a.total() == pytest.approx(e)


def test_allocation_by_party_and_total():
    """``by_party`` returns the five parties in PARTIES order and ``total`` is their sum."""
    a = allocate_loss([100.0, 7.0], PRESETS["anhui_4321"])
    parts = a.by_party()
    assert tuple(parts) == PARTIES
    np.testing.assert_allclose(sum(parts.values()), a.total(), rtol=1e-15)


# ---------------------------------------------------------------------------- conservation
@st.composite
def waterfall_inputs(draw):
    """Random exposures, share rows summing to 1, coverage masks and budgets."""
    n = draw(st.integers(1, 12))
    exposure = draw(
        hnp.arrays(np.float64, n, elements=st.floats(0.0, 1e9, allow_nan=False, width=64))
    )
    raw = draw(
        hnp.arrays(np.float64, (n, 5), elements=st.floats(0.0, 1.0, allow_nan=False, width=64))
    )
    keep = draw(hnp.arrays(np.bool_, (n, 5)))
    raw = np.where(keep, raw, 0.0)
    raw[raw.sum(axis=1) == 0.0, 0] = 1.0
    shares = raw / raw.sum(axis=1, keepdims=True)
    reg = draw(hnp.arrays(np.bool_, n))
    nf = draw(hnp.arrays(np.bool_, n))
    budget = st.one_of(st.just(np.inf), st.floats(0.0, 5e8, allow_nan=False))
    return exposure, shares, reg, nf, draw(budget), draw(budget)


def _allocate(data):
    """``allocate_loss`` of one ``waterfall_inputs`` example."""
    e, shares, reg, nf, cf_budget, nf_budget = data
    return allocate_loss(
        e,
        shares,
        reguarantor_covers=reg,
        national_fund_covers=nf,
        comp_fund_available=cf_budget,
        national_fund_available=nf_budget,
    )


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(waterfall_inputs())
def test_waterfall_conserves_loss(data):
    """Hypothesis: for random shares, coverage masks and budgets the parties sum to the exposure,
    no loss is negative, no covering party pays above its share and budgets hold."""
    e, shares, reg, nf, cf_budget, nf_budget = data
    a = _allocate(data)
    tol = 1e-9 * np.maximum(e, 1.0)
    np.testing.assert_allclose(a.total(), e, rtol=1e-12, atol=1e-6)
    for party, loss in a.by_party().items():
        assert loss.shape == e.shape
        assert np.all(loss >= -tol), party
    np.testing.assert_allclose(a.bank, shares[:, 3] * e, rtol=1e-12)
    np.testing.assert_allclose(a.compensation, e - a.bank, rtol=1e-12, atol=1e-6)
    assert np.all(a.reguarantor <= shares[:, 1] * e + tol)
    assert np.all(a.national_fund <= shares[:, 2] * e + tol)
    assert np.all(a.comp_fund <= shares[:, 4] * e + tol)
    assert np.all(a.reguarantor[~reg] == 0.0)
    assert np.all(a.national_fund[~nf] == 0.0)
    np.testing.assert_allclose(a.reguarantor[reg], (shares[:, 1] * e)[reg], rtol=1e-12)
    # the guarantor bears at least its own share
    assert np.all(a.guarantor >= shares[:, 0] * e - tol)
    assert a.comp_fund.sum() <= cf_budget * (1 + 1e-12) + 1e-6
    assert a.national_fund.sum() <= nf_budget * (1 + 1e-12) + 1e-6
    # a budget that binds is spent in full
    cf_claims = (shares[:, 4] * e).sum()
    np.testing.assert_allclose(a.comp_fund.sum(), min(cf_claims, cf_budget), rtol=1e-9, atol=1e-6)
    nf_claims = (shares[:, 2] * e)[nf].sum()
    np.testing.assert_allclose(
        a.national_fund.sum(), min(nf_claims, nf_budget), rtol=1e-9, atol=1e-6
    )


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(waterfall_inputs(), st.data())
def test_recoveries_shared_pro_rata(data, more):
    """Hypothesis: recoveries are split pro rata to the losses borne and sum to the recovery."""
    e = data[0]
    a = _allocate(data)
    frac = more.draw(
        hnp.arrays(np.float64, e.shape, elements=st.floats(0.0, 1.0, allow_nan=False, width=64))
    )
    rec = frac * e
    shared = share_recovery(rec, a, e)
    assert tuple(shared) == PARTIES
    np.testing.assert_allclose(sum(shared.values()), rec, rtol=1e-12, atol=1e-6)
    losses = a.by_party()
    for party, r in shared.items():
        assert np.all(r >= -1e-9 * np.maximum(e, 1.0)), party
        assert np.all(r <= losses[party] + 1e-9 * np.maximum(e, 1.0)), party
        pos = e > 0
        np.testing.assert_allclose(r[pos], (rec / np.where(pos, e, 1.0) * losses[party])[pos])


def test_share_recovery_zero_exposure():
    """A zero-exposure loan shares nothing (no division by zero)."""
    a = allocate_loss([0.0, 100.0], PRESETS["national_2222"])
    shared = share_recovery([0.0, 50.0], a, [0.0, 100.0])
    for party, r in shared.items():
        assert np.all(np.isfinite(r)), party
        assert float(r[0]) == 0.0
    assert shared["bank"][1] == pytest.approx(10.0)
    assert shared["guarantor"][1] == pytest.approx(20.0)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("exposure", "shares"),
    [
        ([100.0], (0.5, 0.5, 0.0, 0.0)),  # 4 shares
        ([100.0, 50.0], np.full((3, 5), 0.2)),  # rows do not match loans
        ([100.0], np.full((1, 6), 1 / 6)),  # 6 columns
    ],
)
def test_bad_shapes_raise(exposure, shares):
    """Share vectors of the wrong shape raise ValueError."""
    with pytest.raises(ValueError):
        allocate_loss(exposure, shares)


def test_negative_exposure_raises():
    """A negative exposure raises ValueError."""
    with pytest.raises(ValueError):
        allocate_loss([100.0, -1.0], PRESETS["national_2222"])


@pytest.mark.parametrize("kw", ["comp_fund_available", "national_fund_available"])
def test_negative_budget_raises(kw):
    """A negative available budget raises ValueError."""
    with pytest.raises(ValueError):
        allocate_loss([100.0], PRESETS["anhui_4321"], **{kw: -1.0})


# ---------------------------------------------------------------------------- floors
def _named(vec) -> dict[str, float]:
    return dict(zip(PARTIES, vec, strict=True))


def test_floor_warnings_empty_for_national_template():
    """The 2:2:2:4 template meets every floor of 国办发〔2019〕6号."""
    assert floor_warnings(_named(PRESETS["national_2222"])) == []


@pytest.mark.parametrize(
    ("vec", "flags"),
    [
        ((0.45, 0.2, 0.2, 0.15, 0.0), {"bank"}),
        ((0.4, 0.3, 0.1, 0.2, 0.0), {"national_fund"}),
        ((0.5, 0.1, 0.2, 0.2, 0.0), {"reguarantor"}),
        ((1.0, 0.0, 0.0, 0.0, 0.0), {"bank", "national_fund"}),
        ((0.8, 0.0, 0.0, 0.2, 0.0), {"national_fund"}),
        ((0.4, 0.3, 0.0, 0.2, 0.1), {"national_fund"}),
        ((0.6, 0.0, 0.3, 0.1, 0.0), {"bank", "reguarantor"}),
    ],
)
def test_floor_warnings_flags(vec, flags):
    """bank < 0.2, national_fund < 0.2 and reguarantor < national_fund are each flagged once."""
    out = floor_warnings(_named(vec))
    assert len(out) == len(flags)
    for party in flags:
        assert sum(msg.startswith(f"{party} share") for msg in out) == 1, (party, out)


def test_floor_warnings_boundary():
    """Shares exactly at the floors are not flagged; just below them they are."""
    assert floor_warnings(_named((0.3, 0.3, 0.2, 0.2, 0.0))) == []
    assert len(floor_warnings(_named((0.3 + 1e-6, 0.3, 0.2, 0.2 - 1e-6, 0.0)))) == 1
    assert len(floor_warnings(_named((0.3, 0.2 - 1e-6, 0.2, 0.3 + 1e-6, 0.0)))) == 1


def test_scenario_carries_floor_warnings():
    """A scenario's warnings are the floor warnings of its share vector."""
    ok = default_scenario().with_overrides({"risk_sharing.preset": "national_2222"})
    assert ok.warnings == ()
    assert ok.shares() == pytest.approx(PRESETS["national_2222"])
    bad = default_scenario().with_overrides({"risk_sharing.preset": "full_guarantee"})
    assert list(bad.warnings) == floor_warnings(_named(PRESETS["full_guarantee"]))
    assert len(bad.warnings) == 2
