"""The policy levers move the outcomes in the directions of model.md section 6.

Every test compares two scenarios built from ``scenarios/baseline_2021.toml``: A (lever
off or low) and B (lever on or high), that differ only in the lever's keys. Both are run
with the same root seed, so replication k of A and of B uses the same random numbers for
the same purposes (common random numbers, ``sim.experiments.replications.replication_seed``). The
statistic is the per-replication paired difference ``d_k = B_k - A_k`` of an outcome of
``sim.outcomes.SUMMARY_FIELDS``, and the test is a **paired one-sided Student-t bound**:
``mean(d) - t_{1-alpha, R-1} se(d) > 0`` for "up", ``mean(d) + t_{1-alpha, R-1} se(d) < 0``
for "down" (``se = sd(d) / sqrt(R)``). Each test's docstring states alpha, R and size.

Size: ``run.n_smes`` = 10,000, ``run.horizon`` = 36 months after the baseline's burn-in,
every measure in force from the first month (adoption delays and ramps zero). R = 20
replications for the strong levers; the risk-sharing, compensation-fund and recovery levers
move the guarantor's losses by 5-20%, against replication noise of similar size (defaults
are few and lumpy, and the populations of A and B drift apart after the first differing
decision, which weakens the pairing), so they get bigger contrasts (re-guarantor
share 0 -> 40%, National Fund share 0 -> 40%) and R = 32 or 48.

Runs are cached per scenario: a scenario used by several levers (the baseline, bank share
20%, ...) is run once with the largest R any test needs, and a test reads its first R
replications. Replication k does not depend on R, on the other scenarios of the call, or on
the number of workers (``test_common_random_numbers_do_not_depend_on_grouping``), so this
is the same as running ``run_replications([A, B], R, SEED)`` per test.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.experiments.replications import run_replications

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline_2021.toml"

SEED = 2022
#: measures act in full from the first month (no adoption path): the tests are about the
#: mechanisms, not the rollout (tests/test_adoption.py)
SIZE = {
    "run.n_smes": 10_000,
    "run.horizon": 36,
    "adoption.delay": [0.0] * 12,
    "adoption.ramp": [0.0] * 12,
}
WORKERS = int(os.environ.get("GSIM_TEST_WORKERS", min(2, os.cpu_count() or 1)))

ALPHA = 0.01  # one-sided, every test unless its docstring says otherwise
R_STD = 20  # strong levers
R_RISK = 32  # re-guarantor, National Fund share, compensation fund, recovery, write-off
R_COVER = 48  # National Fund coverage (measure 5): the smallest effect on the guarantor

SHOCKED = ["transport", "catering", "accommodation", "tourism"]
BANK20 = {"guarantor.share": 0.6, "bank.share": 0.2}
SUBSIDY_005 = {"government.fee_subsidy_rate": 0.005, "government.fee_subsidy_budget": 1e10}
BATCH = {"batch.mode": "bank_led", "batch.pair_share": 1.0}
NF_NONE = {"national_fund.cap_rule": "none"}
SHOCK = {"shock.sectors": SHOCKED, "shock.pd_multiplier": 3.0}
LOW_EQUITY = {"guarantor.equity": 6e9}
INFO = {"information.sharing": 0.8}

#: scenario name -> overrides of baseline_2021 (besides SIZE)
SCENARIOS: dict[str, dict] = {
    "baseline": {},
    "bank20": BANK20,
    "fee_subsidy": {"government.fee_subsidy_rate": 0.007, "government.fee_subsidy_budget": 1e10},
    "subsidy_005": SUBSIDY_005,
    "subsidy_005_cap_1pct": {**SUBSIDY_005, "guarantor.fee_cap": 0.01},
    "exemption": {"guarantor.due_diligence_exemption": True},
    "info_sharing": INFO,
    "batch": BATCH,
    "bank20_batch": {**BANK20, **BATCH},
    "reg_0": {"guarantor.share": 1.0, "reguarantor.share": 0.0},
    "reg_40": {"guarantor.share": 0.6, "reguarantor.share": 0.4},
    "nf_0": {**NF_NONE, "national_fund.coverage": 1.0},
    "nf_40": {
        **NF_NONE,
        "national_fund.coverage": 1.0,
        "guarantor.share": 0.4,
        "national_fund.share": 0.4,
    },
    "nf_cover_0": {
        **NF_NONE,
        "guarantor.share": 0.6,
        "national_fund.share": 0.2,
        "national_fund.coverage": 0.0,
    },
    "nf_cover_100": {
        **NF_NONE,
        "guarantor.share": 0.6,
        "national_fund.share": 0.2,
        "national_fund.coverage": 1.0,
    },
    "low_equity": LOW_EQUITY,
    "low_equity_injection": {**LOW_EQUITY, "government.capital_injection_budget": 3e9},
    "comp_fund_0": {"guarantor.share": 0.6, "comp_fund.share": 0.2},
    "comp_fund_5bn": {
        "guarantor.share": 0.6,
        "comp_fund.share": 0.2,
        "comp_fund.city_budget": 5e9,
    },
    "recovery_20": {"recovery.base_rate": 0.2},
    "write_off": {"recovery.write_off": True, "recovery.write_off_months": 6},
    "bank20_tolerance": {**BANK20, "bank.guarantee_el_tolerance": 0.014},
    "bank20_relief": {**BANK20, "bank.funding_relief": 0.01},
    "shock": SHOCK,
    "shock_relief": {
        **SHOCK,
        "relief.sectors": SHOCKED,
        "relief.appetite_boost": 0.5,
        "relief.fee_cut": 0.005,
    },
}

#: (A, B, R) of every comparison; a scenario is run with the largest R it appears with.
PAIRS: dict[str, tuple[str, str, int]] = {
    "bank_share": ("baseline", "bank20", R_STD),
    "fee_subsidy": ("baseline", "fee_subsidy", R_STD),
    "fee_cap": ("subsidy_005", "subsidy_005_cap_1pct", R_STD),
    "exemption": ("baseline", "exemption", R_STD),
    "info_sharing": ("baseline", "info_sharing", R_STD),
    "info_matched": ("baseline", "info_matched", R_STD),
    "batch": ("baseline", "batch", R_STD),
    "batch_bank20": ("bank20", "bank20_batch", R_STD),
    "reguarantor": ("reg_0", "reg_40", R_RISK),
    "national_fund_share": ("nf_0", "nf_40", R_RISK),
    "national_fund_coverage": ("nf_cover_0", "nf_cover_100", R_COVER),
    "capital": ("low_equity", "low_equity_injection", R_STD),
    "comp_fund": ("comp_fund_0", "comp_fund_5bn", R_RISK),
    "recovery": ("baseline", "recovery_20", R_RISK),
    "write_off": ("baseline", "write_off", R_RISK),
    "bank_tolerance": ("bank20", "bank20_tolerance", R_STD),
    "funding_relief": ("bank20", "bank20_relief", R_STD),
    "shock": ("baseline", "shock", R_STD),
    "relief": ("shock", "shock_relief", R_COVER),
}


def _reps_needed(name: str) -> int:
    return max(r for a, b, r in PAIRS.values() if name in (a, b))


# --------------------------------------------------------------------------- running
def build(name: str, overrides: dict) -> sim.Scenario:
    """baseline_2021 with SIZE and ``overrides``, named ``name``."""
    sc = sim.load_scenario(BASELINE, overrides={**SIZE, **overrides})
    return dataclasses.replace(sc, name=name)


_CACHE: dict[tuple[str, int], pd.DataFrame] = {}


def summaries(specs: dict[str, dict], reps: int, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Summary rows (indexed by replication) of each scenario, run together with one seed."""
    missing = {n: o for n, o in specs.items() if (n, seed) not in _CACHE}
    if missing:
        res = run_replications(
            [build(n, o) for n, o in missing.items()],
            reps,
            seed,
            timeseries=False,
            workers=WORKERS,
        )
        for n in missing:
            rows = res.summary[res.summary["scenario"] == n].set_index("replication")
            _CACHE[(n, seed)] = rows.sort_index()
    out = {}
    for n in specs:
        rows = _CACHE[(n, seed)]
        assert len(rows) >= reps, (n, len(rows), reps)
        out[n] = rows.iloc[:reps]
    return out


def pair(lever: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(A, B) summaries of a lever of PAIRS, R replications each, paired by replication."""
    a, b, reps = PAIRS[lever]
    specs = {a: SCENARIOS[a], b: SCENARIOS[b]}
    by_reps: dict[int, dict] = {}
    for n, o in specs.items():
        by_reps.setdefault(_reps_needed(n), {})[n] = o
    got = {}
    for r, group in by_reps.items():
        got.update(summaries(group, r))
    sa, sb = got[a].iloc[:reps], got[b].iloc[:reps]
    assert list(sa.index) == list(sb.index) == list(range(reps))
    assert (sa["seed"] == sb["seed"]).all()
    return sa, sb


# ----------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Paired:
    """Paired differences B - A of one outcome and their one-sided Student-t bounds."""

    lever: str
    outcome: str
    mean_a: float
    mean_b: float
    diff: float
    se: float
    n: int

    @property
    def t(self) -> float:
        return self.diff / self.se if self.se > 0 else math.copysign(math.inf, self.diff)

    def lower(self, alpha: float = ALPHA) -> float:
        """One-sided (1 - alpha) lower confidence bound of the mean difference."""
        return self.diff - stats.t.ppf(1 - alpha, self.n - 1) * self.se

    def upper(self, alpha: float = ALPHA) -> float:
        """One-sided (1 - alpha) upper confidence bound of the mean difference."""
        return self.diff + stats.t.ppf(1 - alpha, self.n - 1) * self.se

    def describe(self, alpha: float = ALPHA) -> str:
        return (
            f"{self.lever}: {self.outcome}: mean A {self.mean_a:.6g}, mean B {self.mean_b:.6g}, "
            f"paired diff B-A {self.diff:+.6g} (se {self.se:.3g}, t {self.t:+.2f}, "
            f"R {self.n}); one-sided {1 - alpha:.0%} bounds "
            f"[{self.lower(alpha):+.6g}, {self.upper(alpha):+.6g}]"
        )


def paired(lever: str, a: pd.DataFrame, b: pd.DataFrame, outcome: str) -> Paired:
    """Per-replication differences ``b - a`` of ``outcome`` (every value must be finite)."""
    xa = a[outcome].to_numpy(dtype=float)
    xb = b[outcome].to_numpy(dtype=float)
    assert np.isfinite(xa).all() and np.isfinite(xb).all(), (
        f"{lever}: {outcome} not finite: A {xa}, B {xb}"
    )
    return paired_from(lever, outcome, xb - xa, xa.mean(), xb.mean())


def paired_from(lever: str, outcome: str, d: np.ndarray, mean_a: float, mean_b: float) -> Paired:
    n = d.size
    assert n >= 2
    se = float(d.std(ddof=1) / math.sqrt(n))
    return Paired(lever, outcome, float(mean_a), float(mean_b), float(d.mean()), se, n)


def assert_moves(lever: str, outcome: str, direction: str, alpha: float = ALPHA) -> Paired:
    """Assert the lever moves ``outcome`` "up" or "down" (paired one-sided t bound)."""
    a, b = pair(lever)
    p = paired(lever, a, b, outcome)
    check(p, direction, alpha)
    return p


def check(p: Paired, direction: str, alpha: float = ALPHA) -> None:
    if direction == "up":
        assert p.lower(alpha) > 0, f"expected an increase; {p.describe(alpha)}"
    elif direction == "down":
        assert p.upper(alpha) < 0, f"expected a decrease; {p.describe(alpha)}"
    else:  # pragma: no cover
        raise ValueError(direction)


# ===================================================================== the pairing
def test_common_random_numbers_do_not_depend_on_grouping():
    """Replication k of a scenario is the same whether it is run alone, with another
    scenario, or with more replications (what the per-scenario cache relies on).

    Deterministic check, 1,000 SMEs, burn-in 2, horizon 6, R = 2 and 3.
    """
    small = {"run.n_smes": 1000, "run.burn_in": 2, "run.horizon": 6}
    a = dataclasses.replace(sim.load_scenario(BASELINE, overrides=small), name="A")
    b = dataclasses.replace(sim.load_scenario(BASELINE, overrides={**small, **BANK20}), name="B")
    together = run_replications([a, b], 2, SEED, timeseries=False).summary
    alone = run_replications([b], 3, SEED, timeseries=False).summary
    t = together[together["scenario"] == "B"].set_index("replication")
    s = alone.set_index("replication").iloc[:2]
    pd.testing.assert_frame_equal(t[list(sim.SUMMARY_FIELDS)], s[list(sim.SUMMARY_FIELDS)])


# ================================================================ bank share 0 -> 20%
def test_bank_share_lowers_guaranteed_default_rate():
    """Bank share 0 -> 20% (guarantor 80% -> 60%): default_rate_guaranteed falls (the bank
    screens its guaranteed loans harder when it keeps risk).

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("bank_share", "default_rate_guaranteed", "down")


def test_bank_share_does_not_raise_guaranteed_volume():
    """Bank share 0 -> 20%: guaranteed_volume falls or stays flat: the one-sided 99% upper
    bound of the paired difference is below +2% of A's mean volume.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    a, b = pair("bank_share")
    p = paired("bank_share", a, b, "guaranteed_volume")
    assert p.upper() < 0.02 * p.mean_a, f"expected down or flat; {p.describe()}"


# ============================================================== fee subsidy / fee cap
@pytest.mark.parametrize(
    ("outcome", "direction"),
    [("all_in_cost_guaranteed", "down"), ("guaranteed_volume", "up"), ("fiscal_cost", "up")],
)
def test_fee_subsidy(outcome, direction):
    """Fee subsidy 0 -> 0.7% p.a. (budget 1e10 yuan/yr): the all-in cost of guaranteed loans
    falls, guaranteed volume and fiscal cost rise.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("fee_subsidy", outcome, direction)


@pytest.mark.parametrize(
    ("outcome", "direction"),
    [("all_in_cost_guaranteed", "down"), ("guaranteed_volume", "up"), ("fiscal_cost", "up")],
)
def test_fee_cap(outcome, direction):
    """Fee cap 3% -> 1%, with a 0.5% fee subsidy (budget 1e10) in A and B, so that the lower
    fee qualifies more business for the subsidy: all-in cost falls, guaranteed volume and
    fiscal cost rise.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("fee_cap", outcome, direction)


# ======================================================== due-diligence exemption
@pytest.mark.parametrize(
    ("outcome", "direction"),
    [
        ("guarantee_approval_rate", "up"),
        ("first_time_approval_rate", "up"),
        ("guaranteed_volume", "up"),
        ("default_rate_guaranteed", "up"),
    ],
)
def test_exemption(outcome, direction):
    """Due-diligence exemption on: guarantee approvals, first-time approvals, guaranteed
    volume and the guaranteed default rate rise.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("exemption", outcome, direction)


def test_exemption_helps_first_time_borrowers_most():
    """Due-diligence exemption on: approvals rise most for first-time borrowers. Per
    replication, d_k = (relative rise of first_time_approval_rate) - (relative rise of
    guarantee_approval_rate), relative rise = B_k / A_k - 1; mean(d) > 0.

    Paired one-sided t bound on d, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    a, b = pair("exemption")
    first = b["first_time_approval_rate"] / a["first_time_approval_rate"] - 1
    every = b["guarantee_approval_rate"] / a["guarantee_approval_rate"] - 1
    d = (first - every).to_numpy(dtype=float)
    assert np.isfinite(d).all(), d
    p = paired_from(
        "exemption", "relative rise first-time minus all", d, every.mean(), first.mean()
    )
    check(p, "up")


def test_exemption_raises_default_rate_modestly():
    """Due-diligence exemption on: the guaranteed default rate rises by less than 100% of
    A's level (one-sided 99% upper bound of the paired difference < A's mean).

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    a, b = pair("exemption")
    p = paired("exemption", a, b, "default_rate_guaranteed")
    assert p.upper() < 1.0 * p.mean_a, f"expected a modest rise; {p.describe()}"


# ============================================================= information sharing
def test_information_sharing_serves_more_first_time_borrowers():
    """Information sharing 0 -> 0.8: first_time_borrowers (new loans to 首贷户) rise.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("info_sharing", "first_time_borrowers", "up")


INFO_SCALE_KEYS = ("bank.direct_el_tolerance", "guarantor.el_appetite")
CAL_SEED = SEED + 1  # calibration uses other random numbers than the test
CAL_REPS = 12


def _info_scaled(c: float) -> dict:
    base = sim.load_scenario(BASELINE)
    return {**INFO, **{k: base[k] * c for k in INFO_SCALE_KEYS}}


@pytest.fixture(scope="module")
def info_scale() -> float:
    """Risk-tolerance factor c at which information sharing 0.8 lends what A lends.

    Found on CAL_REPS (12) replications with seed CAL_SEED (random numbers the test does not use)
    by false position on log(volume ratio), c in [0.3, 1].
    """
    target = summaries({"baseline": {}}, CAL_REPS, CAL_SEED)["baseline"]["lending_volume"]
    target = float(target.mean())

    def gap(c: float) -> float:
        name = f"info_cal_{c:.6f}"
        vol = summaries({name: _info_scaled(c)}, CAL_REPS, CAL_SEED)[name]["lending_volume"]
        return math.log(float(vol.mean()) / target)

    lo, hi = 0.3, 1.0
    f_lo, f_hi = gap(lo), gap(hi)
    assert f_hi > 0, "information sharing at c = 1 does not raise lending volume"
    assert f_lo < 0, "information sharing at c = 0.3 still lends more than A"
    c = hi
    for _ in range(8):
        c = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        f = gap(c)
        if abs(f) < 0.01:
            break
        if f > 0:
            hi, f_hi = c, f
            f_lo /= 2  # Illinois step: avoid a stuck end point
        else:
            lo, f_lo = c, f
            f_hi /= 2
    return c


def test_information_sharing_lowers_default_rate_at_matched_volume(info_scale):
    """Information sharing 0 -> 0.8 lowers the default rate at similar lending volume.

    Design. Information sharing lowers lenders' screening noise, so they tell good from bad
    firms better; but at unchanged risk tolerances it also makes them lend much more (about
    +25% volume here), to firms they used to reject, which hides the selection gain in the
    raw default rate. So we compare at matched volume: B is information sharing 0.8 with
    both lenders' risk tolerances (bank.direct_el_tolerance, guarantor.el_appetite) scaled by
    one factor c < 1, c chosen (fixture ``info_scale``, on other random numbers) so that B
    lends what A (no sharing, tolerances unscaled) lends. At the same volume a lender with
    better information picks borrowers with a lower default rate: the volume/default
    frontier shifts down. We check the match on the test replications (mean lending_volume
    within 4% of A's) and then that default_rate (all loans, annualised) is lower.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    SCENARIOS["info_matched"] = _info_scaled(info_scale)
    a, b = pair("info_matched")
    ratio = b["lending_volume"].mean() / a["lending_volume"].mean()
    assert abs(ratio - 1) < 0.04, (
        f"volume not matched: c = {info_scale:.4f}, B/A lending volume {ratio:.4f}"
    )
    p = paired("info_matched", a, b, "default_rate")
    assert p.upper() < 0, (
        f"expected a lower default rate at matched volume (c = {info_scale:.4f}, "
        f"volume ratio {ratio:.4f}); {p.describe()}"
    )


# ==================================================================== batch guarantee
@pytest.mark.parametrize(
    ("outcome", "direction"),
    [
        ("screening_cost", "down"),
        ("avg_approval_delay", "down"),
        ("guaranteed_volume", "up"),
        ("default_rate_guaranteed", "up"),
    ],
)
def test_batch_guarantee(outcome, direction):
    """Batch guarantee on (见贷即担 on every pair), bank share 0: screening cost and approval
    delay fall, guaranteed volume rises, and, with no bank risk to make the bank screen, the
    guaranteed default rate rises.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("batch", outcome, direction)


def test_batch_guarantee_raises_defaults_more_without_bank_share():
    """The rise in default_rate_guaranteed from batch guarantees is larger with bank share 0
    than with bank share 20% (the bank's retained risk keeps its screening, on which batch
    mode relies). Per replication d_k = (batch - no batch | bank 0) - (batch - no batch |
    bank 20%); mean(d) > 0.

    Paired one-sided t bound on d (difference in differences), alpha 0.01, R 20,
    10,000 SMEs x 36 months.
    """
    a0, b0 = pair("batch")
    a20, b20 = pair("batch_bank20")
    o = "default_rate_guaranteed"
    rise0 = (b0[o] - a0[o]).to_numpy(dtype=float)
    rise20 = (b20[o] - a20[o]).to_numpy(dtype=float)
    p = paired_from("batch x bank share", o, rise0 - rise20, rise20.mean(), rise0.mean())
    check(p, "up")


# ========================================================== re-guarantee / National Fund
@pytest.mark.parametrize(
    ("outcome", "direction"),
    [("guarantor_loss_rate", "down"), ("capacity_headroom_end", "up")],
)
def test_reguarantee_share(outcome, direction):
    """Re-guarantee share 0 -> 40%, taken from the guarantor (100% -> 60%): the guarantor's
    retained loss per yuan guaranteed (guarantor_loss_rate) falls and its capacity
    (capacity_headroom_end) rises.

    Paired one-sided t bound, alpha 0.01, R 32, 10,000 SMEs x 36 months.
    """
    assert_moves("reguarantor", outcome, direction)


@pytest.mark.parametrize(
    ("outcome", "direction"),
    [("guarantor_loss_rate", "down"), ("capacity_headroom_end", "up")],
)
def test_national_fund_share(outcome, direction):
    """National Fund share 0 -> 40%, taken from the guarantor (80% -> 40%), on all eligible
    business (coverage 1), cap rule 'none': guarantor_loss_rate falls and
    capacity_headroom_end rises.

    Paired one-sided t bound, alpha 0.01, R 32, 10,000 SMEs x 36 months.
    """
    assert_moves("national_fund_share", outcome, direction)


@pytest.mark.parametrize(
    ("outcome", "direction"),
    [("guarantor_loss_rate", "down"), ("capacity_headroom_end", "up")],
)
def test_national_fund_coverage(outcome, direction):
    """National Fund coverage 0 -> 100% of eligible business at a 20% Fund share (guarantor
    60%), cap rule 'none' (measure 5): guarantor_loss_rate falls and capacity_headroom_end
    rises.

    Paired one-sided t bound, alpha 0.01, R 48, 10,000 SMEs x 36 months.
    """
    assert_moves("national_fund_coverage", outcome, direction)


# ======================================================================== capital
def test_capital_replenishment_precondition_leverage_binds():
    """In A of the capital test (guarantor equity 6e9 yuan, no injections) the leverage cap
    binds: business refused for lack of capacity (capacity_rejected_amount over the horizon)
    is at least 25% of the guaranteed volume in every replication.

    Deterministic check on R 4 replications with the test seed, 10,000 SMEs x 36 months.
    """
    sc = build("low_equity", SCENARIOS["low_equity"])
    res = run_replications([sc], 4, SEED, timeseries=True, workers=1)
    ts = res.timeseries.groupby("replication")[["capacity_rejected_amount", "new_guaranteed"]]
    tot = ts.sum()
    share = tot["capacity_rejected_amount"] / tot["new_guaranteed"]
    assert (share >= 0.25).all(), f"leverage does not bind: capacity-rejected share {share}"


def test_capital_replenishment_raises_volume_when_leverage_binds():
    """Capital replenishment 0 -> 3e9 yuan/yr with guarantor equity 6e9 (leverage binds, see
    the precondition test): guaranteed_volume rises.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("capital", "guaranteed_volume", "up")


# ================================================================ compensation fund
@pytest.mark.parametrize(
    ("outcome", "direction", "alpha"),
    [
        ("guarantor_loss_rate", "down", ALPHA),
        ("guarantor_equity_end", "up", ALPHA),
        ("guarantor_net_loss", "down", 0.05),
    ],
)
def test_compensation_fund(outcome, direction, alpha):
    """Compensation fund: share 20% (taken from the guarantor, 80% -> 60%) with city budget
    0 -> 5e9 yuan/yr: the guarantor's loss per yuan guaranteed falls and its equity is
    preserved (alpha 0.01); its net loss in yuan falls (alpha 0.05: the cover also lets the
    guarantor approve more, riskier business, which offsets part of the fall).

    Paired one-sided t bound, alpha 0.01 (0.05 for guarantor_net_loss), R 32,
    10,000 SMEs x 36 months.
    """
    assert_moves("comp_fund", outcome, direction, alpha)


# ========================================================== recovery / write-off
@pytest.mark.parametrize(
    ("outcome", "direction"), [("net_loss_rate", "down"), ("capacity_headroom_end", "up")]
)
def test_recovery_rate(outcome, direction):
    """Recovery base rate 6% -> 20%: net loss per yuan lent falls and guarantor capacity
    (capacity_headroom_end) is freed.

    Paired one-sided t bound, alpha 0.01, R 32, 10,000 SMEs x 36 months.
    """
    assert_moves("recovery", outcome, direction)


@pytest.mark.parametrize(
    ("outcome", "direction"), [("guarantor_net_loss", "down"), ("capacity_headroom_end", "up")]
)
def test_write_off(outcome, direction):
    """Write-off on (after 6 months; the deduction's tax relief flows back to the
    guarantor): guarantor_net_loss falls and capacity_headroom_end rises.

    Paired one-sided t bound, alpha 0.01, R 32, 10,000 SMEs x 36 months.
    """
    assert_moves("write_off", outcome, direction)


# ======================================================== bank tolerance / relief
@pytest.mark.parametrize("outcome", ["bank_participation", "guaranteed_volume"])
def test_bank_tolerance(outcome):
    """Bank tolerance of guarantee losses 0.8% -> 1.4% (bank share 20%, guarantor 60% in A
    and B): bank participation (share of referrals the bank agrees to fund) and guaranteed
    volume rise.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("bank_tolerance", outcome, "up")


@pytest.mark.parametrize(
    ("outcome", "direction"),
    [("avg_loan_rate", "down"), ("bank_participation", "up"), ("guaranteed_volume", "up")],
)
def test_funding_relief(outcome, direction):
    """Funding relief 0 -> 1% p.a. for risk-sharing banks (bank share 20%, guarantor 60% in
    A and B): the average loan rate falls, bank participation and guaranteed volume rise.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("funding_relief", outcome, direction)


# ===================================================================== sector shock
def test_sector_shock_raises_defaults_in_shocked_sectors():
    """Shock PD x3 for 12 months in transport, catering, accommodation, tourism:
    default_rate_exposed (defaults in those four sectors) rises.

    Paired one-sided t bound, alpha 0.01, R 20, 10,000 SMEs x 36 months.
    """
    assert_moves("shock", "default_rate_exposed", "up")


def test_targeted_relief_sustains_lending_under_the_shock():
    """Under the same shock, targeted relief for the four sectors (guarantor appetite +50%,
    fee cut 0.5% p.a.) against the shock alone: exposed_sector_volume (new lending to the
    four sectors) rises.

    Paired one-sided t bound, alpha 0.01, R 48, 10,000 SMEs x 36 months (relief reaches the
    guaranteed part of the sectors' lending, about a twentieth of it).
    """
    assert_moves("relief", "exposed_sector_volume", "up")
