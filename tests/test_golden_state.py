"""Golden outputs of single runs: summary, monthly series and final state, bit for bit.

Step S0 of ``docs/dev/stacked_replications.md``: the harness that later performance
refactors (institution state as arrays, a replication axis, the stacked engine) are checked
against. Four scenarios at 2,000 SMEs, 12 burn-in and 24 reported months, each with a fixed
seed (:data:`SCENARIOS`), are run and compared with ``tests/data/golden/<name>.npz``:

- ``summary.<field>``: ``model.summary()``, one 0-d array per field (ints stay ints);
- ``ts.<column>`` and ``ts.index``: the DataCollector's monthly frame, column by column
  (``meta.ts_columns`` keeps the column order);
- every other key: ``golden.final_state(model)``, the state a later month would read
  (``tests/golden.py``);
- ``meta.*``: the scenario file, overrides and seed the file was written from.

Together the scenarios exercise the National Fund's ``suspend`` and ``limit`` cap rules,
``annual_cohort`` demand, a sector shock, exhausted fee-subsidy and compensation-fund
budgets, insolvent guarantors and both batch modes; ``test_scenario_covers_its_conditions``
runs each with passive probes and asserts that each condition really occurs.

Regenerate the files only for a deliberate, documented change of results (say so in the
commit, as for ``tests/data/summary_before_refactor.parquet``)::

    PYTHONPATH=. python tests/test_golden_state.py --regenerate            # all four
    PYTHONPATH=. python tests/test_golden_state.py --regenerate limit_cohort

then run this file (the coverage test checks that the new runs still exercise every
condition).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import mesa
import numpy as np
import pytest
from golden import READ, SKIPPED, assert_state_equal, final_state, run_outputs

import sim
from sim.applications import GUARANTEE_ROUTE

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE.parent / "scenarios"
GOLDEN_DIR = HERE / "data" / "golden"

RUN = {"run.n_smes": 2000, "run.burn_in": 12, "run.horizon": 24}
#: every measure in force in full from the first reported month
AT_ONCE = {"adoption.delay": [0.0] * 12, "adoption.ramp": [0.0] * 12}


@dataclass(frozen=True)
class Golden:
    """A golden scenario: a scenario file, overrides (on top of :data:`RUN`) and a seed."""

    base: str
    overrides: dict = field(default_factory=dict)
    seed: int = 0
    covers: str = ""

    def scenario(self) -> sim.Scenario:
        base = sim.load_scenario(SCENARIO_DIR / f"{self.base}.toml")
        return base.with_overrides({**RUN, **self.overrides})

    def meta(self) -> dict[str, np.ndarray]:
        return {
            "meta.base": np.array(self.base),
            "meta.overrides": np.array(json.dumps({**RUN, **self.overrides}, sort_keys=True)),
            "meta.seed": np.array(self.seed, dtype=np.int64),
        }


SCENARIOS: dict[str, Golden] = {
    "suspend_shock": Golden(
        "beijing_2022",
        {
            **AT_ONCE,
            "credit.pd": 0.06,
            "national_fund.coverage": 1.0,
            "national_fund.cap_rule": "suspend",
            "batch.mode": "bank_led",
            "batch.pair_share": 1.0,
            "batch.quota": 1e10,
            "shock.sectors": ["transport", "catering", "wholesale_retail"],
            "shock.start": 4,
            "shock.duration": 9,
            "shock.pd_multiplier": 3.0,
            "shock.systematic_z": -1.0,
        },
        seed=1,
        covers="NF suspend rule (stops and resumes sharing), sector shock, bank-led batch",
    ),
    "limit_cohort": Golden(
        "beijing_2022",
        {
            **AT_ONCE,
            "credit.pd": 0.08,
            "national_fund.cap_rule": "limit",
            "demand.mode": "annual_cohort",
            "demand.application_rate": 0.5,
            "batch.mode": "guarantor_led",
            "batch.pair_share": 1.0,
        },
        seed=1,
        covers="NF limit rule (binding), annual-cohort demand, guarantor-led batch",
    ),
    "budgets_exhausted": Golden(
        "beijing_2022",
        {
            "government.fee_subsidy_budget": 2e7,
            "comp_fund.city_budget": 5e6,
            "comp_fund.district_budget": 2e6,
            "national_fund.cap_rule": "none",
        },
        seed=3,
        covers="exhausted fee-subsidy and compensation-fund budgets, adoption ramps, NF none",
    ),
    "insolvent": Golden(
        "baseline_2021",
        {"credit.pd": 0.15, "guarantor.equity": 1e9, "credit.correlation": "basel_retail"},
        seed=4,
        covers="insolvent guarantors, no measures, no batch, Basel retail correlation",
    ),
}


# ------------------------------------------------------------------ running
class Probe:
    """Passive observer of a run: wraps a few methods of one model's instances (on the
    instances only) to note what they saw and returned, and notes the state after each
    month. It changes nothing: the probed run must equal the golden file.
    """

    def __init__(self, model):
        self.model = m = model
        self.months: list[dict] = []
        self.nf_available: dict[int, float] = {}  # month -> National Fund limit left
        self.nf_defaults: dict[int, tuple[float, float]] = {}  # month -> (covered comp, paid)
        self.unfunded_subsidies: list[tuple[int, int]] = []  # (month, eligible offers unfunded)
        self.comp_fund: list[tuple[int, float, float, float]] = []  # month, before, ask, after
        self.batch_booked: dict[int, int] = {}  # month -> guarantees booked in batch mode
        nf, gov = m.national_fund, m.government
        available, record = nf.available, nf.record
        offer, spend, book = gov.offer_fee_subsidies, gov.spend_comp_fund, m.book_loans

        def nf_available():
            value = available()
            self.nf_available[m.month] = value
            return value

        def nf_record(compensation, released, paid):
            if compensation > 0:  # the call from process_defaults
                self.nf_defaults[m.month] = (compensation, paid)
            return record(compensation, released, paid)

        def offer_fee_subsidies(apps):
            before = gov.fee_subsidy_remaining
            offer(apps)
            p = m.params
            rate = p["government.fee_subsidy_rate"]
            eligible = (
                apps.approved
                & (apps.route == GUARANTEE_ROUTE)
                & apps.small_micro
                & (apps.fee - rate <= p["government.fee_subsidy_threshold"])
            )
            unfunded = int(np.count_nonzero(eligible & (apps.subsidy == 0)))
            if rate > 0 and before > 0 and unfunded:
                self.unfunded_subsidies.append((m.month, unfunded))

        def spend_comp_fund(amount):
            before = gov.comp_fund_remaining
            spend(amount)
            self.comp_fund.append((m.month, before, float(amount), gov.comp_fund_remaining))

        def book_loans(apps):
            batch = apps.taken & (apps.route == GUARANTEE_ROUTE) & apps.booked & apps.in_batch
            self.batch_booked[m.month] = int(np.count_nonzero(batch))
            return book(apps)

        nf.available, nf.record = nf_available, nf_record
        gov.offer_fee_subsidies, gov.spend_comp_fund = offer_fee_subsidies, spend_comp_fund
        m.book_loans = book_loans

    def after_month(self) -> None:
        m = self.model
        self.months.append(
            {
                "month": m.month,
                "horizon_month": m.horizon_month,
                "max_multiplier": float(m.sector_pd_multiplier.max()),
                "shocked_multiplier": m.sector_pd_multiplier[m.shocked_sectors].copy(),
                "z_shift": m.z_shift,
                "min_equity": float(m.ledger.balance[m.guarantor_accounts].min()),
                "levels": m.adoption.levels(),
            }
        )


def run(name: str, probe: bool = False):
    """Run golden scenario ``name``; return the model and its probe (or None)."""
    g = SCENARIOS[name]
    model = sim.GuaranteeMarket(g.scenario(), rng=g.seed)
    observer = Probe(model) if probe else None
    for _ in range(model.burn_in + model.horizon):
        model.step()
        if observer:
            observer.after_month()
    return model, observer


def outputs(name: str, model) -> dict[str, np.ndarray]:
    """The content of a golden file: meta, summary, monthly series, final state."""
    out = SCENARIOS[name].meta()
    out.update(run_outputs(model))
    columns = [k.removeprefix("ts.") for k in out if k.startswith("ts.") and k != "ts.index"]
    out["meta.ts_columns"] = np.array(columns)
    state = final_state(model)
    clash = set(state) & set(out)
    assert not clash, clash
    out.update(state)
    for key, value in out.items():
        assert value.dtype != object, f"{key}: object arrays cannot be stored without pickle"
    return out


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.npz"


def load(name: str) -> dict[str, np.ndarray]:
    with np.load(golden_path(name), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def regenerate(names) -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in names:
        model, _ = run(name)
        np.savez_compressed(golden_path(name), **outputs(name, model))
        print(f"wrote {golden_path(name)} ({golden_path(name).stat().st_size:,} bytes)")


def _part(d: dict, prefix: str | None) -> dict:
    """The keys of ``d`` under ``prefix`` (``None``: the state, i.e. the other keys)."""
    parts = ("meta.", "summary.", "ts.")
    if prefix is None:
        return {k: v for k, v in d.items() if not k.startswith(parts)}
    return {k: v for k, v in d.items() if k.startswith(prefix)}


def assert_matches_golden(name: str, now: dict) -> None:
    """Meta (the scenario definition), summary, monthly series and final state of ``now``
    equal the golden file of ``name``, bit for bit."""
    stored = load(name)
    assert_state_equal(_part(stored, "meta."), _part(now, "meta."))
    assert list(stored["meta.ts_columns"]) == list(now["meta.ts_columns"])
    assert_state_equal(_part(stored, "summary."), _part(now, "summary."))
    assert list(_part(stored, "summary.")) == list(_part(now, "summary.")), "summary order"
    assert_state_equal(_part(stored, "ts."), _part(now, "ts."))
    assert_state_equal(_part(stored, None), _part(now, None))


# -------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_run_equals_golden_file(name):
    """Summary, monthly series and final state equal the stored golden file, bit for bit."""
    model, _ = run(name)
    assert_matches_golden(name, outputs(name, model))


def _covers_suspend_shock(model, probe, ts):
    p = model.params
    # the suspend rule stops the National Fund's sharing, and it resumes later
    sharing = ts["national_fund_sharing"].to_numpy()
    off = np.flatnonzero(sharing == 0)
    assert off.size and sharing[: off[0]].any() and sharing[off[-1] :].any(), sharing
    assert p["national_fund.cap_rule"] == "suspend"
    # the sector shock: the multiplier and the systematic shift act exactly in its window
    start, duration = p["shock.start"], p["shock.duration"]
    for row in probe.months:
        inside = start <= row["horizon_month"] < start + duration
        assert row["z_shift"] == (p["shock.systematic_z"] if inside else 0.0), row
        expect = p["shock.pd_multiplier"] if inside else 1.0
        assert np.all(row["shocked_multiplier"] == expect), row
    z = ts["z"].to_numpy()  # the shift shows in the recorded factor within the first year
    assert z[start - 1] - z[start - 2] == pytest.approx(p["shock.systematic_z"])
    # bank-led batch: guarantees booked on the bank's approval, unscreened by the guarantor
    assert p["batch.mode"] == "bank_led" and sum(probe.batch_booked.values()) > 0
    assert (ts["guarantor_screenings"] < ts["referrals"] - 0.5 * model.weight).any()


def _covers_limit_cohort(model, probe, ts):
    p = model.params
    assert p["national_fund.cap_rule"] == "limit"
    # the limit binds: covered defaults claim more than the limit leaves; the Fund pays
    # what is left (pro rata), down to nothing
    bound = [
        month
        for month, (compensation, paid) in probe.nf_defaults.items()
        if np.isfinite(probe.nf_available[month])
        and paid <= probe.nf_available[month] * (1 + 1e-12)
        and paid >= probe.nf_available[month] * (1 - 1e-9)
    ]
    assert len(bound) >= 2, (probe.nf_defaults, probe.nf_available)
    assert any(probe.nf_available[month] == 0.0 for month in bound)
    # annual cohort: applications only in the first month of each year
    first = (ts["month"] - 1) % 12 == 0
    assert (ts.loc[first, "applications"] > 0).all()
    assert (ts.loc[~first, "applications"] == 0).all()
    # guarantor-led batch: loans booked on the guarantor's approval, unscreened by the bank
    assert p["batch.mode"] == "guarantor_led" and sum(probe.batch_booked.values()) > 0
    assert (ts["bank_screenings"] < ts["applications"] - 0.5 * model.weight).any()


def _covers_budgets_exhausted(model, probe, ts):
    p = model.params
    # fee subsidies: offers eligible for the subsidy went unfunded while the budget lasted
    # at all, i.e. the year's budget ran out mid-year
    assert probe.unfunded_subsidies, probe.unfunded_subsidies
    assert p["government.fee_subsidy_rate"] > 0
    # the compensation funds: claims exceeded what was left, which was paid out (pro rata)
    exhausted = [
        (month, before, ask, after)
        for month, before, ask, after in probe.comp_fund
        if before > 0 and ask >= before * (1 - 1e-9) and after <= 1e-9 * before
    ]
    assert exhausted, probe.comp_fund
    # the measures' adoption paths ramp (partly adopted levels) within the horizon
    levels = np.array([row["levels"] for row in probe.months])
    assert ((levels > 0) & (levels < 1)).any() and np.all(levels[-1] == 1.0)
    assert p["national_fund.cap_rule"] == "none"


def _covers_insolvent(model, probe, ts):
    assert ts["insolvent_guarantors"].max() > 0
    assert min(row["min_equity"] for row in probe.months) <= 0
    assert not model.adoption.measures  # baseline: no measure changed
    assert np.all(model.batch_mode == 0) and sum(probe.batch_booked.values()) == 0


COVERS = {
    "suspend_shock": _covers_suspend_shock,
    "limit_cohort": _covers_limit_cohort,
    "budgets_exhausted": _covers_budgets_exhausted,
    "insolvent": _covers_insolvent,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_covers_its_conditions(name):
    """Each scenario really exercises the conditions it is there for (SCENARIOS[...].covers),
    and the probes that show it are passive (the probed run equals the golden file)."""
    model, probe = run(name, probe=True)
    ts = model.datacollector.get_model_vars_dataframe()
    assert_matches_golden(name, outputs(name, model))
    COVERS[name](model, probe, ts)


def test_every_condition_is_covered():
    """The four scenarios together cover every condition step S0 asks for."""
    wanted = {
        "NF suspend",
        "NF limit",
        "annual-cohort",
        "sector shock",
        "fee-subsidy",
        "compensation-fund",
        "insolvent",
        "bank-led batch",
        "guarantor-led batch",
    }
    text = " | ".join(g.covers for g in SCENARIOS.values())
    assert all(w in text for w in wanted), [w for w in wanted if w not in text]
    assert set(COVERS) == set(SCENARIOS)


def test_golden_files_are_small():
    sizes = {name: golden_path(name).stat().st_size for name in SCENARIOS}
    assert sum(sizes.values()) < 2_000_000, sizes


def test_assert_state_equal_detects_one_ulp_and_names_the_key():
    """A one-ulp change in one element, a zero's sign, a dtype or a missing key fails, naming
    the first key that differs and how many elements differ; NaN equals NaN."""
    a = load("insolvent")
    assert_state_equal(a, dict(a))
    b = {k: v.copy() for k, v in a.items()}
    x = b["ledger.balance"]
    x[3] = np.nextafter(x[3], np.inf)  # one ulp, one element
    with pytest.raises(AssertionError, match=rf"^ledger.balance: 1 of {x.size} elements differ"):
        assert_state_equal(a, b)
    # two keys differ: the first in the order of ``a`` is named, with its own count
    keys = list(a)
    assert keys.index("population.pd") < keys.index("ledger.balance")
    b["population.pd"][[5, 7]] = np.nextafter(b["population.pd"][[5, 7]], 0)
    with pytest.raises(AssertionError, match=r"^population.pd: 2 of 2000 elements differ"):
        assert_state_equal(a, b)
    del b["population.pd"]
    with pytest.raises(AssertionError, match=r"only in a: \['population.pd'\]"):
        assert_state_equal(a, b)

    c = {"x": np.array([0.0, np.nan, 1.0]), "y": np.arange(3)}
    assert_state_equal(c, {"x": np.array([0.0, -np.nan, 1.0]), "y": np.arange(3)})
    with pytest.raises(AssertionError, match=r"^x: 1 of 3 elements differ"):
        assert_state_equal(c, {"x": np.array([-0.0, np.nan, 1.0]), "y": np.arange(3)})
    with pytest.raises(AssertionError, match=r"^y: dtype int64 != int32"):
        assert_state_equal(c, {"x": c["x"], "y": np.arange(3, dtype=np.int32)})
    with pytest.raises(AssertionError, match=r"^y: shape \(3,\) != \(4,\)"):
        assert_state_equal(c, {"x": c["x"], "y": np.arange(4)})
    with pytest.raises(AssertionError, match=r"^x: 1 of 3 elements differ"):
        assert_state_equal(c, {"x": np.array([0.0, 0.5, 1.0]), "y": np.arange(3)})


def test_final_state_reads_every_attribute():
    """Every attribute of the model and of its parts is either read by final_state or
    listed in golden.SKIPPED with a reason: new state cannot slip past the harness."""
    scenario = (
        SCENARIOS["budgets_exhausted"]
        .scenario()
        .with_overrides({"run.n_smes": 200, "run.burn_in": 1, "run.horizon": 1})
    )
    model = sim.GuaranteeMarket(scenario, rng=0)
    model.run()
    mesa_base = set(vars(mesa.Model(rng=0)))
    inst = set(SKIPPED["institution"])
    objects = {
        "model": (model, mesa_base),
        "population": (model.smes, set()),
        "ledger": (model.ledger, set()),
        "adoption": (model.adoption, set()),
        "guarantor": (model.guarantors[0], inst),
        "bank": (model.banks[0], inst),
        "reguarantor": (model.reguarantor, inst),
        "national_fund": (model.national_fund, inst),
        "government": (model.government, inst),
    }
    for what, (obj, ignored) in objects.items():
        known = READ[what] | set(SKIPPED.get(what, {})) | ignored
        unknown = sorted(set(vars(obj)) - known)
        assert not unknown, f"{what}: attributes neither read nor skipped: {unknown}"
    state = final_state(model)
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert not any(v.dtype == object for v in state.values())


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "--regenerate":
        sys.exit(__doc__)
    names = args[1:] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown golden scenario(s) {unknown}; known: {list(SCENARIOS)}")
    regenerate(names)
