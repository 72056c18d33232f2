"""Ensemble calibration (history matching) and projections with bands."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.experiments.calibration import yearly_estimates
from sim.experiments.ensemble import (
    Emulator,
    calibration_dimensions,
    history_match,
    projection_dimensions,
    sample_region,
    theta_overrides,
)
from sim.experiments.members import member_overrides, read_members
from sim.experiments.targets import Targets
from sim.interfaces.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
PACKAGE = ROOT / "scenarios" / "beijing_2022.toml"
M06 = ROOT / "scenarios" / "m06_lower_counter_guarantee.toml"


# ---------------------------------------------------------------------- emulator
def test_emulator_predicts_a_smooth_function_and_its_loo_errors_are_standard():
    """On a noisy smooth function of 3 inputs (200 Latin-hypercube points), the emulator's
    predictions at 200 new points are within 3 predictive standard deviations (plus the
    noise) for at least 95% of them, and at most 5% of the leave-one-out standardised
    errors lie beyond +/-3."""
    from scipy.stats import qmc

    rng = np.random.default_rng(1)

    def f(x):
        return np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2]

    x = qmc.LatinHypercube(d=3, seed=2).random(200)
    noise = np.full(200, 0.01**2)
    y = f(x) + rng.normal(0, 0.01, 200)
    emu = Emulator(x, y, noise)
    xt = rng.random((200, 3))
    mean, var = emu.predict(xt)
    z = np.abs(mean - f(xt)) / np.sqrt(var + noise[0])
    assert np.mean(z <= 3) >= 0.95
    assert np.mean(np.abs(emu.loo_standardised_errors()) > 3) <= 0.05


# ------------------------------------------------------------------- members
def test_members_are_drawn_uniformly_over_the_region():
    """Random-walk Metropolis over an L-shaped region of the unit square (the union of
    x < 0.4 and y < 0.3), 400 chains started in its upper arm only: after 2,000 steps the
    chains' last states are uniform over the region. Tests (fixed seed): the share in the
    lower-right block (area 0.18 of the region's 0.58) by a two-sided binomial test, and
    the x coordinates of the states in the upper arm against U[0, 0.4] by Kolmogorov-
    Smirnov; both at the 1% level. The sampler's own starting block would fail both."""
    rng = np.random.default_rng(12)

    def inside(u):
        return (u[:, 0] < 0.4) | (u[:, 1] < 0.3)

    starts = np.column_stack([rng.uniform(0.0, 0.4, 400), rng.uniform(0.3, 1.0, 400)])
    states, acceptance = sample_region(starts, inside, 2000, rng)
    assert inside(states).all() and 0.2 < acceptance < 1.0
    corner = (states[:, 0] >= 0.4) & (states[:, 1] < 0.3)
    assert stats.binomtest(int(corner.sum()), len(states), 0.18 / 0.58).pvalue > 0.01
    upper = states[states[:, 1] >= 0.3, 0]
    assert stats.kstest(upper, stats.uniform(0, 0.4).cdf).pvalue > 0.01
    assert stats.binomtest(0, len(starts), 0.18 / 0.58).pvalue < 0.01  # the starts fail


def test_dimensions_split_calibrated_and_projection_strengths():
    theta = {d.key for d in calibration_dimensions()}
    proj = {d.key for d in projection_dimensions()}
    assert not theta & proj
    assert "credit.pd" in theta and "population.revenue_median[2]" in theta
    assert "guarantor.exemption_strength" in proj and "bank.funding_relief" in proj
    assert "bank.share" not in proj  # a policy setting is never drawn


def test_member_overrides_follow_the_scenarios():
    """A calibrated value applies where a scenario keeps the baseline's value; a measure's
    strength applies only where the scenario adopts the measure; a scenario's own policy
    value (measure 6's counter-guarantee) is kept."""
    base = sim.load_scenario(BASELINE)
    pkg = sim.load_scenario(PACKAGE)
    m06 = sim.load_scenario(M06)
    member = {
        "credit.pd": 0.05,
        "guarantor.counter_guarantee": 0.4,
        "guarantor.exemption_strength": 0.1,
        "bank.funding_relief": 0.002,
        "population.revenue_median[2]": 9e7,
        "weight": 1.0,
    }
    b = member_overrides(member, base, base)
    assert b["credit.pd"] == 0.05 and b["guarantor.counter_guarantee"] == 0.4
    assert "guarantor.exemption_strength" not in b and "bank.funding_relief" not in b
    assert b["population.revenue_median"][2] == 9e7
    assert b["population.revenue_median"][:2] == base["population.revenue_median"][:2]
    p = member_overrides(member, pkg, base)
    assert p["guarantor.exemption_strength"] == 0.1 and p["bank.funding_relief"] == 0.002
    assert "guarantor.counter_guarantee" not in p  # the package sets its own (0.1)
    m = member_overrides(member, m06, base)
    assert "guarantor.counter_guarantee" not in m and "guarantor.exemption_strength" not in m


def test_bad_ensemble_files_are_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"credit.pdd": [0.03]}).to_parquet(bad)
    with pytest.raises(Exception, match="not a registry parameter"):
        read_members(bad)
    out = tmp_path / "o"
    code = main(["compare", str(BASELINE), str(PACKAGE), "--ensemble", str(bad), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "credit.pdd" in err[0]
    assert not out.exists()
    pd.DataFrame({"credit.pd": [2.0]}).to_parquet(bad)
    assert main(["run", str(BASELINE), "--ensemble", str(bad)]) == 2
    assert "out of range" in capsys.readouterr().err


# --------------------------------------------------------------- projections
def _ensemble(tmp_path) -> Path:
    path = tmp_path / "ens.parquet"
    pd.DataFrame(
        {
            "credit.pd": [0.04, 0.045, 0.05],
            "guarantor.exemption_strength": [0.1, 0.3, 0.45],
            "bank.funding_relief": [0.001, 0.005, 0.009],
            "weight": 1.0,
        }
    ).to_parquet(path)
    return path


def test_compare_with_an_ensemble_prints_bands_and_is_independent_of_workers(tmp_path, capsys):
    """``gsim compare A B --ensemble F --members 2 --reps 2`` prints medians and 5-95% bands,
    writes ``member`` in summary.parquet (members x scenarios x replications rows) and the
    same numbers with 1 and 2 workers."""
    ens = _ensemble(tmp_path)
    tables = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        args = ["compare", str(BASELINE), str(PACKAGE), "--ensemble", str(ens)]
        args += ["--members", "2", "--reps", "2", "--set", "run.n_smes=1500"]
        args += ["--workers", str(workers), "--out", str(out), "-q"]
        assert main(args) == 0
        text = capsys.readouterr().out
        assert "median [5-95%]" in text and "guaranteed_volume" in text
        s = pd.read_parquet(out / "summary.parquet")
        assert sorted(s["member"].unique()) == [0, 1] and len(s) == 2 * 2 * 2
        assert (out / "bands.parquet").exists()
        assert (out / "difference_bands.png").stat().st_size > 10_000
        tables.append(s.sort_values(["scenario", "member", "replication"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_compare_with_an_ensemble_takes_one_replication(tmp_path, capsys):
    """``--reps 1`` is enough with an ensemble (the bands span the members); without one a
    comparison still needs two replications (exit 2, one line)."""
    ens = _ensemble(tmp_path)
    out = tmp_path / "o"
    args = ["compare", str(BASELINE), str(PACKAGE), "--ensemble", str(ens), "--members", "3"]
    args += ["--reps", "1", "--set", "run.n_smes=1500", "--out", str(out), "-q"]
    assert main(args) == 0
    assert "median [5-95%]" in capsys.readouterr().out
    s = pd.read_parquet(out / "summary.parquet")
    assert len(s) == 3 * 2 and set(s["replication"]) == {0}
    code = main(["compare", str(BASELINE), str(PACKAGE), "--reps", "1", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--reps 1" in err[0]


def test_members_share_random_numbers():
    """Members differ only in parameters: two members with identical values give identical
    runs (common random numbers across members)."""
    frame = pd.DataFrame({"credit.pd": [0.04, 0.04], "weight": 1.0})
    base = sim.load_scenario(BASELINE, overrides={"run.n_smes": 1000, "run.horizon": 12})
    res = sim.experiments.replications.run_ensemble([base], frame, 1, seed=3, timeseries=False)
    a, b = res.summary.iloc[0], res.summary.iloc[1]
    assert a["member"] == 0 and b["member"] == 1
    assert a["guaranteed_volume"] == b["guaranteed_volume"]


# ----------------------------------------------------------- parameter recovery
@pytest.mark.slow
def test_history_matching_recovers_known_parameters():
    """Parameter recovery: targets produced by the model itself at a known parameter set
    θ* (5 calibrated parameters, the others at the baseline's values) are calibrated by
    history matching; the 90% band (5-95% quantiles) of the accepted members contains θ*_j
    for at least 80% of the parameters (4 of 5); the search starts at the priors' medians.
    Small size: 5,000 SMEs, 4 stratified runs
    per point, 2 waves of 40 points, 40 final points."""
    keys = (
        "credit.pd",
        "guarantor.base_fee",
        "population.firms",
        "guarantor.el_appetite",
        "bank.direct_el_tolerance",
    )
    dims = [d for d in calibration_dimensions() if d.key in keys]
    base = sim.load_scenario(BASELINE, overrides={"run.n_smes": 5000})
    truth = {d.key: float(base[d.key]) for d in dims}
    targets = sim.experiments.calibration.TARGETS
    years = yearly_estimates(base, 16, 99, targets, workers=2)
    synthetic = Targets(
        tuple(
            dataclasses.replace(t, value=t.estimate(years[years["year"] == t.year]))
            for t in targets
        ),
        targets.start,
        "synthetic",
    )
    # The search starts at the priors' medians, not at θ* (history_match starts from the
    # scenario's values of θ; the other parameters stay at θ*'s).
    start = base.with_overrides(theta_overrides(base, dims, [d.value(0.5) for d in dims]))
    result = history_match(
        start,
        targets=synthetic,
        dims=dims,
        n_smes=5000,
        replications=4,
        seed=5,
        waves=2,
        points=40,
        accept=40,
        min_members=10,
        candidates=20_000,
        workers=2,
    )
    assert len(result.members) >= 10
    covered = []
    for d in dims:
        lo, hi = np.quantile(result.members[d.key], [0.05, 0.95])
        covered.append(lo <= truth[d.key] <= hi)
    assert sum(covered) >= 4, dict(zip(keys, covered, strict=True))


def test_a_scenario_keeps_its_own_policy_values_under_an_ensemble(tmp_path):
    """Run alone, the package keeps measure 6's counter-guarantee and measure 7's recovery
    lag (values it sets itself): the ensemble's baseline is the scenario file recorded in
    the ensemble, not the first scenario run."""
    from sim.experiments.members import ensemble_baseline, member_overrides

    base = sim.load_scenario(BASELINE)
    package = sim.load_scenario(PACKAGE)
    member = {"guarantor.counter_guarantee": 0.9, "recovery.lag_months": 30.0, "credit.pd": 0.03}
    over = member_overrides(member, package, base)
    assert over == {"credit.pd": 0.03}
    path = tmp_path / "ens.parquet"
    frame = pd.DataFrame({k: [v] for k, v in member.items()})
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    record = {"settings": {"scenario": str(BASELINE)}}
    table = table.replace_schema_metadata({b"gsim.ensemble": json.dumps(record).encode()})
    pq.write_table(table, path)
    assert ensemble_baseline(path) == str(BASELINE)
    assert read_members(path).attrs["baseline"] == str(BASELINE)
    small = {"run.n_smes": 2000, "run.horizon": 6, "run.burn_in": 6}
    alone = sim.experiments.replications.run_ensemble(
        [package.with_overrides(small)], read_members(path), 1, 3
    )
    both = sim.experiments.replications.run_ensemble(
        [base.with_overrides(small), package.with_overrides(small)], read_members(path), 1, 3
    )
    pkg = both.summary[both.summary["scenario"] == package.name].reset_index(drop=True)
    cols = list(sim.SUMMARY_FIELDS)
    pd.testing.assert_frame_equal(alone.summary[cols].reset_index(drop=True), pkg[cols])


def test_batched_yearly_estimates_equal_the_monthly_route():
    """Calibration's runs, batched over points and reduced to years in the workers, give
    exactly the rows of the monthly series reduced in the parent (2 workers vs in-process)."""
    from sim.experiments.calibration import TARGETS, stratified_runs, yearly_estimates_many
    from sim.experiments.replications import make_executor, run_each, summary_by_year

    base = sim.load_scenario(BASELINE, overrides={"run.n_smes": 1500})
    scenarios = [base, base.with_overrides({"credit.pd": 0.03})]
    with make_executor(2) as pool:
        batched = yearly_estimates_many(scenarios, 3, 11, TARGETS, executor=pool)
    for sc, got in zip(scenarios, batched, strict=True):
        laid = sc.with_overrides({"run.burn_in": TARGETS.burn_in, "run.horizon": TARGETS.horizon})
        _, ts = run_each(stratified_runs(laid, 3), 11, timeseries=True)
        want = summary_by_year(ts)
        want["year"] = want["year"] + TARGETS.years[0] - 1
        pd.testing.assert_frame_equal(want, got)
