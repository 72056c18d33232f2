"""Replications and paired comparisons with common random numbers.

Seeds: replication ``k`` of a run with root seed ``S`` uses the
:class:`numpy.random.SeedSequence` ``SeedSequence(S).spawn(R)[k]``, i.e.
``SeedSequence(S, spawn_key=(k,))``, whatever the executor or the number of
workers. Inside the model that sequence is split again by purpose (population,
macro factors, demand, defaults, entrants), so replication ``k`` of every
compared scenario uses the same random numbers for the same purposes: common
random numbers.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.outcomes import SUMMARY_FIELDS
from sim.scenario import Scenario, load_scenario

from .burn_in import burn_in_groups, burn_in_key, run_grouped, start_run
from .pool import InProcessExecutor, exit_with_parent, make_executor, start_worker_server

__all__ = [
    "replication_seed",
    "run_replication",
    "param_columns",
    "run_replications",
    "run_each",
    "compare",
    "Results",
    "Comparison",
    "paired_differences",
    "summary_by_year",
    "ratio_of_means",
    "run_ensemble",
    "ensemble_bands",
    "make_executor",
    "start_worker_server",
    "InProcessExecutor",
    "exit_with_parent",
]


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed sequence of one replication: ``SeedSequence(seed, spawn_key=(replication,))``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(replication),))


def run_replication(
    scenario: Scenario,
    seed: int,
    replication: int,
    *,
    timeseries: bool = True,
    member: int | None = None,
) -> tuple[dict, pd.DataFrame | None]:
    """Run one replication; return its summary row and monthly series.

    The row holds ``scenario``, ``member`` (for a run of an ensemble member),
    ``replication``, ``seed``, the overridden parameters and the outcomes of
    :data:`sim.SUMMARY_FIELDS`.
    """
    model = start_run(scenario, seed, replication, replication_seed(seed, replication))
    model.run()
    row = {"scenario": scenario.name}
    if member is not None:
        row["member"] = int(member)
    row.update({"replication": replication, "seed": int(seed)})
    row.update(param_columns(scenario.overrides))
    row.update(model.summary())
    ts = None
    if timeseries:
        ts = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        ts.insert(0, "replication", replication)
        if member is not None:
            ts.insert(0, "member", int(member))
        ts.insert(0, "scenario", scenario.name)
        ts["month"] = ts["month"].astype(int)
    return row, ts


def param_columns(overrides) -> dict:
    """The parameter columns of a run's summary row: each overridden value, a list value
    comma-joined (``["a", "b"]`` -> ``"a,b"``) so that the column holds scalars.

    Parameters
    ----------
    overrides : mapping
        Dotted parameter keys and their values.

    Returns
    -------
    dict
    """
    out = {}
    for k, v in overrides.items():
        out[k] = ",".join(map(str, v)) if isinstance(v, list) else v
    return out


def _task(args):
    scenario, seed, rep, timeseries, member = args
    return run_replication(scenario, seed, rep, timeseries=timeseries, member=member)


def _yearly_task(args):
    """One run's outcomes year by year, computed in the worker (only they travel back)."""
    from sim.outcomes import yearly_outcomes

    scenario, seed, rep = args
    _, ts = run_replication(scenario, seed, rep, timeseries=True)
    years = yearly_outcomes(ts)
    years.insert(0, "replication", rep)
    years.insert(0, "scenario", scenario.name)
    return years


def yearly_each(
    runs: Sequence[tuple[Scenario, int]],
    seed: int = 0,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    executor: cf.Executor | None = None,
) -> list[pd.DataFrame]:
    """Run explicit (scenario, replication) runs; return each run's outcomes by year.

    The same rows as :func:`summary_by_year` of the runs' monthly series, computed in the
    workers, so that only a few rows per run travel back (calibration runs thousands).
    """
    tasks = [(sc, seed, k) for sc, k in runs]
    return _map(tasks, workers, progress, executor, fn=_yearly_task)


def _map(
    tasks: list,
    workers: int,
    progress: Callable[[int], None] | None,
    executor: cf.Executor | None = None,
    fn: Callable = _task,
) -> list:
    """Run ``fn`` over tasks ``(scenario, seed, replication, ...)``, in-process, on a new
    process pool, or on ``executor`` (kept open by the caller across many calls); the
    results in the order of the tasks.

    Tasks that share a burn-in (:func:`~.burn_in.burn_in_key`: the same replication of
    scenarios that differ only in measures) run together, one after the other, so that
    they compute it once (:mod:`sim.experiments.burn_in`); results do not depend on it.
    """
    results: list = [None] * len(tasks)
    groups = burn_in_groups([burn_in_key(*t[:3]) for t in tasks])
    if executor is None and workers <= 1:  # the first failure stops the loop
        for group in groups:
            for i, result in zip(group, run_grouped(fn, [tasks[i] for i in group]), strict=True):
                results[i] = result
            if progress:
                progress(len(group))
        return results
    if executor is None:
        with make_executor(workers) as pool:
            return _map(tasks, workers, progress, pool, fn)
    futures = {executor.submit(run_grouped, fn, [tasks[i] for i in g]): g for g in groups}
    for fut in cf.as_completed(futures):
        group = futures[fut]
        for i, result in zip(group, fut.result(), strict=True):
            results[i] = result
        if progress:
            progress(len(group))
    return results


def summary_by_year(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Each run's outcomes year by year, from the monthly series of :class:`Results`.

    Returns
    -------
    pandas.DataFrame
        One row per (scenario, replication, year): ``scenario``, ``replication``,
        ``year`` and the outcomes of :data:`sim.SUMMARY_FIELDS` for that year
        (:func:`sim.outcomes.yearly_outcomes`).
    """
    from sim.outcomes import yearly_outcomes

    parts = []
    for (name, rep), frame in timeseries.groupby(["scenario", "replication"], sort=False):
        y = yearly_outcomes(frame)
        y.insert(0, "replication", rep)
        y.insert(0, "scenario", name)
        parts.append(y)
    return pd.concat(parts, ignore_index=True)


@dataclass
class Results:
    """Outputs of :func:`run_replications` or :func:`compare`.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per (scenario, replication).
    timeseries : pandas.DataFrame
        One row per (scenario, replication, month).
    scenarios : list of Scenario
    seed : int
    """

    summary: pd.DataFrame
    timeseries: pd.DataFrame
    scenarios: list
    seed: int


def run_replications(
    scenarios: Scenario | Sequence[Scenario],
    replications: int = 1,
    seed: int = 0,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    timeseries: bool = True,
) -> Results:
    """Run replications of one or more scenarios with common random numbers.

    Parameters
    ----------
    scenarios : Scenario or sequence of Scenario
    replications : int
        Replications per scenario.
    seed : int
        Root seed; replication ``k`` uses :func:`replication_seed` ``(seed, k)``.
    workers : int
        Local worker processes (1 = in-process). Results do not depend on it.
    progress : callable, optional
        Called with 1 after each finished replication.
    """
    if isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must be distinct, got {names}")
    runs = [(s, k) for s in scenarios for k in range(replications)]
    summary, ts = run_each(runs, seed, workers=workers, progress=progress, timeseries=timeseries)
    return Results(summary, ts, list(scenarios), int(seed))


def run_each(
    runs: Sequence[tuple[Scenario, int]],
    seed: int = 0,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    timeseries: bool = True,
    executor: cf.Executor | None = None,
):
    """Run explicit (scenario, replication[, member]) runs; return (summary, timeseries).

    Replication ``k`` uses :func:`replication_seed` ``(seed, k)`` whatever the scenario,
    so pairs with the same ``k`` share their random numbers. ``executor``, when given,
    runs the tasks instead of a pool made for this call (``workers`` is then ignored).
    """
    tasks = [(r[0], seed, r[1], timeseries, r[2] if len(r) > 2 else None) for r in runs]
    out = _map(tasks, workers, progress, executor)
    summary = pd.DataFrame([row for row, _ in out])
    ts = pd.concat([t for _, t in out], ignore_index=True) if timeseries else pd.DataFrame()
    return summary, ts


def paired_differences(
    summary: pd.DataFrame,
    baseline: str,
    outcomes: Sequence[str] = SUMMARY_FIELDS,
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean of each outcome per scenario and the paired difference to ``baseline``.

    Differences are taken replication by replication (common random numbers)
    and summarised by their mean and a Student-t confidence interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome``, ``scenario``, ``mean``, ``diff``, ``ci_low``,
        ``ci_high``, ``n`` (the baseline's rows have diff 0).
    """
    from scipy import stats

    rows = []
    key = ["member", "replication"] if "member" in summary else "replication"
    base = summary[summary["scenario"] == baseline].set_index(key)
    for name, grp in summary.groupby("scenario", sort=False):
        g = grp.set_index(key)
        common = base.index.intersection(g.index)
        for o in outcomes:
            d = (g.loc[common, o] - base.loc[common, o]).to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            n = d.size
            mean_d = float(d.mean()) if n else float("nan")
            if n > 1:
                half = stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n)
            else:
                half = float("nan")
            rows.append(
                {
                    "outcome": o,
                    "scenario": name,
                    "mean": _nanmean(g[o].to_numpy(dtype=float)),
                    "diff": mean_d,
                    "ci_low": mean_d - half,
                    "ci_high": mean_d + half,
                    "n": n,
                }
            )
        if {"lending_volume", "guaranteed_volume"} <= set(outcomes) and name != baseline:
            d_total = g.loc[common, "lending_volume"] - base.loc[common, "lending_volume"]
            d_guar = g.loc[common, "guaranteed_volume"] - base.loc[common, "guaranteed_volume"]
            ratio, low, high = ratio_of_means(
                d_total.to_numpy(float), d_guar.to_numpy(float), level
            )
            rows.append(
                {
                    "outcome": TOTAL_PER_GUARANTEED,
                    "scenario": name,
                    "mean": float("nan"),
                    "diff": ratio,
                    "ci_low": low,
                    "ci_high": high,
                    "n": len(common),
                }
            )
    return pd.DataFrame(rows)


#: The paired statistic of substitution: additional total lending per yuan of additional
#: guaranteed lending, ``mean(d lending_volume) / mean(d guaranteed_volume)`` (below 1 when
#: guaranteed loans replace loans the bank would have made anyway).
TOTAL_PER_GUARANTEED = "total_per_guaranteed"


def ratio_of_means(num: np.ndarray, den: np.ndarray, level: float = 0.95):
    """``mean(num) / mean(den)`` of paired draws with a delta-method confidence interval.

    The interval is ``R +/- t s / (sqrt(n) |mean(den)|)`` with ``s`` the standard deviation
    of ``num - R den`` (Student t with n - 1 degrees of freedom). Returns NaNs when the
    mean of ``den`` is zero or fewer than two finite pairs remain.
    """
    from scipy import stats

    ok = np.isfinite(num) & np.isfinite(den)
    num, den = num[ok], den[ok]
    n = num.size
    if n < 2 or den.mean() == 0:
        return float("nan"), float("nan"), float("nan")
    r = num.mean() / den.mean()
    s = np.std(num - r * den, ddof=1)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * s / (np.sqrt(n) * abs(den.mean()))
    return float(r), float(r - half), float(r + half)


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


@dataclass
class Comparison(Results):
    """Results of :func:`compare` plus the paired-difference table."""

    differences: pd.DataFrame = None
    bands: pd.DataFrame | None = None


def compare(
    scenarios: Sequence[Scenario | str],
    replications: int = 20,
    rng: int = 0,
    *,
    workers: int = 1,
    overrides: dict | None = None,
    progress: Callable[[int], None] | None = None,
    ensemble=None,
    members: int | None = None,
) -> Comparison:
    """Compare scenarios with common random numbers.

    Parameters
    ----------
    scenarios : sequence of Scenario or paths
        The first is the baseline of the paired differences.
    replications : int
        Replications per scenario (per member with an ensemble).
    rng : int
        Root seed.
    overrides : dict, optional
        Applied to every scenario, over its own overrides (e.g. ``{"run.n_smes": 5000}``).
    ensemble : path or DataFrame, optional
        An ensemble of parameter sets (``gsim calibrate --ensemble``): every member runs
        every scenario (:func:`run_ensemble`); the summary gains a ``member`` column and
        ``bands`` the ensemble's medians and 5-95% bands.
    members : int, optional
        Use the first ``members`` members.

    Returns
    -------
    Comparison
        ``summary``, ``timeseries`` and ``differences`` (see :func:`paired_differences`;
        with an ensemble, differences are paired by member and replication), and with an
        ensemble ``bands`` (:func:`ensemble_bands`).
    """
    resolved = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    if overrides:
        resolved = [s.with_overrides(overrides) for s in resolved]
    if ensemble is None:
        res = run_replications(resolved, replications, rng, workers=workers, progress=progress)
        bands = None
    else:
        res = run_ensemble(
            resolved,
            ensemble,
            replications,
            rng,
            members=members,
            workers=workers,
            progress=progress,
        )
        bands = ensemble_bands(res.summary, resolved[0].name)
    diffs = paired_differences(res.summary, resolved[0].name)
    return Comparison(res.summary, res.timeseries, res.scenarios, res.seed, diffs, bands)


def run_ensemble(
    scenarios: Sequence[Scenario],
    ensemble,
    replications: int = 1,
    seed: int = 0,
    *,
    members: int | None = None,
    base: Scenario | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    timeseries: bool = True,
) -> Results:
    """Run every scenario for every ensemble member, ``replications`` times each.

    Member ``m``'s parameter set is applied to each scenario by
    :func:`sim.experiments.members.member_overrides` (calibrated values where the scenario
    keeps the baseline's, measure strengths where it adopts the measure). Replication ``k`` uses
    :func:`replication_seed` ``(seed, k)`` for every member and scenario: common random
    numbers across scenarios and across members, so a difference between members is
    parameter, not noise.

    Parameters
    ----------
    base : Scenario, optional
        The ensemble's baseline: a calibrated value applies to a scenario that keeps the
        baseline's value. Default: the scenario file the ensemble was calibrated from (its
        record, :func:`sim.experiments.members.ensemble_baseline`), else the first scenario.
    """
    from dataclasses import replace

    from .members import load_ensemble, member_overrides

    frame = ensemble if isinstance(ensemble, pd.DataFrame) else load_ensemble(ensemble)
    if members is not None:
        attrs = dict(frame.attrs)
        frame = frame.head(members).copy()
        frame.attrs = attrs
    if base is None:
        recorded = frame.attrs.get("baseline")
        base = load_scenario(recorded) if recorded else scenarios[0]
    runs = []
    for m, row in enumerate(frame.to_dict("records")):
        for sc in scenarios:
            over = member_overrides(row, sc, base)
            member_sc = replace(sc.with_overrides(over), name=sc.name) if over else sc
            runs += [(member_sc, k, m) for k in range(replications)]
    summary, ts = run_each(runs, seed, workers=workers, progress=progress, timeseries=timeseries)
    return Results(summary, ts, list(scenarios), int(seed))


def ensemble_bands(
    summary: pd.DataFrame, baseline: str, outcomes: Sequence[str] = SUMMARY_FIELDS
) -> pd.DataFrame:
    """Medians and 5-95% bands over an ensemble's members and replications.

    Parameter and stochastic uncertainty together: the quantiles are taken over every
    (member, replication) run, and the paired differences to ``baseline`` over every
    (member, replication) pair. ``member_median`` is the median over members of each
    member's mean over its replications (the parameter spread alone, in its centre).

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome``, ``scenario``, ``median``, ``q05``, ``q95``, ``member_median``,
        ``diff_median``, ``diff_q05``, ``diff_q95`` (NaN differences for the baseline).
    """
    key = ["member", "replication"]
    base = summary[summary["scenario"] == baseline].set_index(key)
    rows = []
    for name, grp in summary.groupby("scenario", sort=False):
        g = grp.set_index(key)
        common = base.index.intersection(g.index)
        for o in outcomes:
            v = g[o].to_numpy(float)
            v = v[np.isfinite(v)]
            per_member = grp.groupby("member")[o].mean().to_numpy(float)
            d = (g.loc[common, o] - base.loc[common, o]).to_numpy(float)
            d = d[np.isfinite(d)]
            q = np.quantile(v, [0.5, 0.05, 0.95]) if v.size else [np.nan] * 3
            dq = np.quantile(d, [0.5, 0.05, 0.95]) if d.size and name != baseline else [np.nan] * 3
            rows.append(
                {
                    "outcome": o,
                    "scenario": name,
                    "median": q[0],
                    "q05": q[1],
                    "q95": q[2],
                    "member_median": float(np.nanmedian(per_member)) if per_member.size else np.nan,
                    "diff_median": dq[0],
                    "diff_q05": dq[1],
                    "diff_q95": dq[2],
                }
            )
    return pd.DataFrame(rows)
