"""Ensemble calibration: history matching with Gaussian-process emulators.

A point calibration says which parameter set fits the 2021 figures best; a researcher
presenting a projection needs every parameter set the figures do not rule out. This
module finds them by **history matching** (Vernon, Goldstein & Bower 2010; Andrianakis et
al. 2015), as ``docs/calibration.md`` describes:

1. *Wave 1*: a Latin hypercube over the prior box of the calibrated parameters θ (each
   dimension on the unit scale of its prior's quantile function), every point run with
   stratified replications (``sim.experiments.calibration.yearly_estimates``).
2. One **emulator** per target: a linear regression on θ plus a Gaussian process on its
   residuals (``sklearn``: Matérn 5/2 with one length scale per input; the Monte-Carlo
   variance of each point's estimate as its known noise). Checked by exact leave-one-out.
3. **Implausibility** of any θ: ``I_k = |z_k - E f_k(θ)| / sqrt(σ²_obs,k + σ²_disc,k +
   Var f_k(θ))`` with the target's tolerance as ``σ_obs`` (:data:`TOLERANCE_SIGMAS`) and a
   model discrepancy of a fixed fraction of the target; ``θ`` is non-implausible when
   ``max_k I_k <= 3`` (Pukelsheim's three-sigma rule).
4. The next wave runs non-implausible points drawn at random from many candidates (only
   the emulators are evaluated); every earlier wave's emulators must also pass them
   (refocusing). The candidates are a uniform draw over the prior box and, since the
   region not ruled out soon fills a small fraction of the box, rounds of Gaussian
   perturbations of the non-implausible points found so far (half their spread in each
   dimension). Where no candidate passes (small samples, poor emulators), the wave
   refocuses on the least implausible ones, and the record says so (0% not ruled out).
   From the second wave on, half of each design lies inside the **tolerance region**
   (candidates whose emulated mean outcomes are within every target's tolerance), where
   the members will be drawn and the emulators must be accurate.
5. **Members**: the prior restricted to the tolerance region (under the last wave's
   emulators, and not ruled out by any wave), sampled by random-walk Metropolis
   (:func:`sample_region`: one chain per member, started at points found inside). The
   members are then simulated and kept unless their *simulated* ``I_max`` (with their own
   Monte-Carlo variance) exceeds 3, a guard against emulator error; their simulated
   targets are the record's fitted-vs-target table. The region is defined by the
   emulated *means* because at calibration size one point's Monte-Carlo noise is up to
   twice some tolerances (the compensation and default rates move with the year's
   systematic factor): a simulated point cannot tell whether it is inside, the emulators,
   which pool all points, can. Where no candidate is inside every tolerance the members
   are drawn from the region not ruled out instead, and the record says so.

The strengths that the 2021 figures cannot inform (they act only with a measure, or not
at all before 2022) are drawn from their priors by a Latin hypercube and added to every
member: the ensemble then carries both kinds of uncertainty into projections
(:func:`member_overrides` says which values apply to which scenario).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.parameters import REGISTRY
from sim.priors import Prior, uniform
from sim.scenario import Scenario, load_scenario

from .calibration import FREE_PARAMETERS, TARGETS, _split, yearly_estimates_many
from .emulation import Emulator, sample_region
from .targets import Targets

__all__ = [
    "Dimension",
    "calibration_dimensions",
    "constraint",
    "projection_dimensions",
    "Emulator",
    "HistoryMatch",
    "history_match",
    "write_ensemble",
    "ensemble_report",
    "sample_region",
]


#: Strengths without a measure, or of a measure but acting before 2022, that the 2021
#: figures inform: history-matched with the calibrated parameters, over their priors.
BASELINE_STRENGTHS = (
    "credit.guarantee_uplift",
    "demand.cost_elasticity",
    "demand.delay_dropout",
    "guarantor.cover_appetite",
    "guarantor.counter_guarantee",
    "guarantor.approval_delay",
    "information.thin_file_noise",
    "recovery.hard_realisation",
    "recovery.lag_months",
)

CUTOFF = 3.0
DISCREPANCY = 0.05
#: A target's tolerance read as this many standard deviations of the observation error.
#: One: ``I_k <= 3`` then admits means up to three tolerances away (widened by the
#: discrepancy and the emulator's or Monte-Carlo variance). Three (``I_k <= 3`` meaning
#: "within the tolerance") accepted no member in 4,600 runs at 20,000 SMEs x 4 runs per
#: point: docs/calibration.md.
TOLERANCE_SIGMAS = 1.0
#: Random-walk Metropolis steps per chain when the members are drawn from the tolerance
#: region (one member per chain: its last state).
MCMC_STEPS = 200
#: Width of the tolerance region, in tolerances: 1, within every tolerance. Where the
#: emulators find no such θ the members come from the region not ruled out. A
#: wider region (1.25-3 tolerances) was tried and is overconfident: at small size it is a
#: small blob where the emulators are wrong, and its members' 90% bands held the true value
#: of 1 of 5 parameters in the recovery test (tests/test_ensemble.py).
WIDTH = 1.0


@dataclass(frozen=True)
class Dimension:
    """One parameter of an ensemble: a registry key (``key[i]``: a list element) and the
    prior it is drawn over."""

    key: str
    prior: Prior

    @property
    def param(self):
        return REGISTRY[_split(self.key)[0]]

    def value(self, u):
        """The parameter's values at unit-scale coordinates ``u`` (integers rounded)."""
        x = self.prior.ppf(u)
        return np.round(x) if self.param.kind == "int" else x


def calibration_dimensions() -> list[Dimension]:
    """θ: the calibrated parameters (over their search ranges) and the strengths the
    baseline's figures inform (over their priors)."""
    dims = []
    for fp in FREE_PARAMETERS:
        key, idx = _split(fp.key)
        prior = REGISTRY[key].prior if idx is None else None
        dims.append(Dimension(fp.key, prior or uniform(fp.low, fp.high)))
    dims += [Dimension(k, REGISTRY[k].prior) for k in BASELINE_STRENGTHS]
    return dims


def projection_dimensions() -> list[Dimension]:
    """The strengths the 2021 figures cannot inform: drawn from their priors."""
    taken = {d.key for d in calibration_dimensions()}
    return [
        Dimension(k, p.prior)
        for k, p in REGISTRY.items()
        if p.prior is not None
        and p.prior.dist != "switch"
        and not p.calibrated
        and not p.setting
        and p.kind in ("float", "int")
        and k not in taken
    ]


# ------------------------------------------------------------------ history matching
@dataclass
class Wave:
    """Record of one wave."""

    runs: int
    points: int
    nonimplausible: float  # fraction of the prior box (of the candidates) not ruled out
    loo_outside: float  # fraction of leave-one-out standardised errors beyond +/-3
    seconds: float
    within_tolerance: float = float("nan")  # fraction of the box inside every tolerance
    width: float = float("nan")  # the tolerance region's width (in tolerances) after it


@dataclass
class HistoryMatch:
    """Result of :func:`history_match`.

    Attributes
    ----------
    members : pandas.DataFrame
        One row per accepted parameter set: a column per varying registry key (``key[i]``
        for a list element) and ``weight``.
    estimates : pandas.DataFrame
        The accepted members' simulated targets (a column per target name).
    waves : list of Wave
    accepted_fraction : float
        Accepted / run in the final stage.
    seconds : float
    """

    members: pd.DataFrame
    estimates: pd.DataFrame
    waves: list[Wave] = field(default_factory=list)
    accepted_fraction: float = float("nan")
    runs: int = 0
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)


def _fit_emulator(args) -> Emulator:
    """An :class:`Emulator` of ``(x, y, noise, seed)`` (a task for the workers)."""
    x, y, noise, seed = args
    return Emulator(x, y, noise, seed=seed)


def _simulate(base, dims, u, targets, reps, seed, executor, progress=None):
    """Targets' means and Monte-Carlo variances at unit points ``u`` (rows), every run of
    every point submitted at once (``progress`` is called with 1 after each run)."""
    scenarios = []
    for row in u:
        x = [d.value(ui) for d, ui in zip(dims, row, strict=True)]
        scenarios.append(base.with_overrides(theta_overrides(base, dims, x)))
    per_point = yearly_estimates_many(
        scenarios, reps, seed, targets, executor=executor, progress=progress
    )
    means, variances = [], []
    for years in per_point:
        m, v = [], []
        for t in targets:
            y = years[years["year"] == t.year]
            m.append(t.estimate(y))
            per_run = (
                (y[t.pooled[0]] / y[t.pooled[1]]).to_numpy(float)
                if t.pooled
                else y[t.outcome].to_numpy(float)
            )
            per_run = per_run[np.isfinite(per_run)]
            v.append(per_run.var(ddof=1) / max(per_run.size, 1) if per_run.size > 1 else 0.0)
        means.append(m)
        variances.append(v)
    return np.array(means), np.array(variances)


def _base_value(base: Scenario, key: str) -> float:
    """The scenario's value of a dimension (``key[i]``: a list element)."""
    name, idx = _split(key)
    return float(base[name] if idx is None else base[name][idx])


def theta_overrides(base: Scenario, dims: list[Dimension], x) -> dict:
    """Overrides setting each dimension to its value in ``x`` (list elements in place)."""
    out: dict = {}
    for dim, value in zip(dims, x, strict=True):
        name, idx = _split(dim.key)
        kind = REGISTRY[name].kind
        value = int(round(float(value))) if kind == "int" else float(value)
        if idx is None:
            out[name] = value
        else:
            out.setdefault(name, list(base[name]))[idx] = value
    return out


def implausibility(targets: Targets, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``I_k`` for each row of predicted (or simulated) means and variances, with
    ``σ_obs,k = tolerance_k /`` :data:`TOLERANCE_SIGMAS`."""
    z = np.array([t.value for t in targets])
    obs = (np.array([t.tolerance for t in targets]) / TOLERANCE_SIGMAS) ** 2
    disc = (DISCREPANCY * z) ** 2
    with np.errstate(invalid="ignore"):
        out = np.abs(z - mean) / np.sqrt(obs + disc + var)
    return np.where(np.isfinite(out), out, np.inf)


def history_match(
    scenario_path="scenarios/baseline_2021.toml",
    *,
    targets: Targets = TARGETS,
    dims: list[Dimension] | None = None,
    n_smes: int = 20_000,
    replications: int = 8,
    seed: int = 2021,
    waves: int = 3,
    points: int | None = None,
    accept: int = 150,
    min_members: int = 100,
    max_batches: int = 8,
    candidates: int = 30_000,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> HistoryMatch:
    """Calibrate an ensemble by history matching (see the module's docstring).

    Parameters
    ----------
    scenario_path : path or Scenario
        The baseline; parameters not in ``dims`` keep its values, and its values of the
        ``dims`` start the search (a tenth of wave 1 lies around them).
    targets : Targets
    dims : list of Dimension, optional
        θ (default :func:`calibration_dimensions`).
    n_smes, replications, seed : int
        Size and stratified replications of each simulator run (common random numbers:
        the same seeds at every point).
    waves : int
        Waves of emulation and refocusing.
    points : int, optional
        Simulator points per wave (default ``10 x dim(θ)``).
    accept : int
        Members drawn per batch of the final stage (Metropolis chains in the tolerance
        region, each then simulated; those whose simulated implausibility is at most 3
        are kept).
    min_members : int
        The final stage draws further batches of ``accept`` until this many are kept, at
        most ``max_batches`` batches in all.
    candidates : int
        Points at which the emulators are evaluated per draw (the uniform draw of a wave
        and each round of perturbations).
    progress : callable, optional
        Called as ``progress(stage, done, total)`` after each simulator point.
    """
    from scipy.stats import qmc

    from .pool import make_executor

    dims = calibration_dimensions() if dims is None else dims
    d = len(dims)
    points = points or 10 * d
    if isinstance(scenario_path, Scenario):
        base = scenario_path.with_overrides({"run.n_smes": n_smes})
    else:
        base = load_scenario(scenario_path, overrides={"run.n_smes": n_smes})
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    t_start = time.perf_counter()
    emulators: list[list[Emulator]] = []
    record: list[Wave] = []
    runs = 0

    def max_implausibility(u: np.ndarray) -> np.ndarray:
        """I_max of each candidate under every wave's emulators (the largest of them).

        The latest wave's emulators first; a candidate already ruled out is not evaluated
        by the earlier waves' (its I_max is then a lower bound above the cut-off)."""
        worst = np.zeros(len(u))
        alive = np.arange(len(u))
        for wave_emus in reversed(emulators):
            if not alive.size:
                break
            pred = [e.predict(u[alive]) for e in wave_emus]
            mean = np.column_stack([m for m, _ in pred])
            var = np.column_stack([v for _, v in pred])
            imax = implausibility(targets, mean, var).max(axis=1)
            worst[alive] = np.maximum(worst[alive], imax)
            alive = alive[imax <= CUTOFF]
        return worst

    def not_ruled_out(n_wanted: int, seeds: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """Candidates not ruled out by any wave: a uniform draw over the prior box, then
        rounds of Gaussian perturbations of the points found so far (and of ``seeds``,
        the last design's points not ruled out), until ``n_wanted`` are found or five
        rounds have run. Returns the pool, the uniform draw's non-implausible fraction (the
        share of the prior box not ruled out) and the uniform draw's I_max."""
        cand = rng.random((candidates, d))
        imax = max_implausibility(cand)
        fraction = float(np.mean(imax <= CUTOFF))
        pool = cand[imax <= CUTOFF]
        for _ in range(5):
            if len(pool) >= n_wanted:
                break
            parents = np.vstack([pool, seeds]) if len(seeds) else pool
            if len(parents) == 0:
                break
            sd = 0.5 * (parents.std(axis=0) if len(parents) > 1 else np.full(d, 0.1))
            sd = np.maximum(sd, 0.01)
            pick = parents[rng.integers(len(parents), size=candidates)]
            new = np.clip(pick + rng.normal(size=pick.shape) * sd, 0.0, 1.0)
            ok = max_implausibility(new) <= CUTOFF
            pool = np.vstack([pool, new[ok]])
        return pool, fraction, imax

    def tolerance_score(u: np.ndarray) -> np.ndarray:
        """How far each candidate's emulated mean is from the targets, in tolerances: the
        largest over targets of ``max(|E f_k - z_k|, sd f_k) / tolerance_k`` under the
        latest wave's emulators (the emulator must also be sure to within that width);
        infinite for a candidate some wave rules out."""
        score = np.full(len(u), np.inf)
        ok = max_implausibility(u) <= CUTOFF
        if ok.any():
            pred = [e.predict(u[ok]) for e in emulators[-1]]
            gap = np.column_stack(
                [np.maximum(np.abs(m - zk), np.sqrt(v)) for (m, v), zk in zip(pred, z, strict=True)]
            )
            score[ok] = (gap / tol).max(axis=1)
        return score

    def tolerance_region(n_wanted: int, seeds: np.ndarray) -> tuple[np.ndarray, float]:
        """Points of the tolerance region and its width: candidates (uniform, then rounds
        of Gaussian perturbations of the closest found so far and of ``seeds``) scored by
        :func:`tolerance_score`, kept when the score is at most :data:`WIDTH`; the width is
        ``inf`` (and no point is returned) when none is."""
        cand = rng.random((candidates, d))
        found, score = cand, tolerance_score(cand)
        for _ in range(5):
            if np.sum(score <= WIDTH) >= n_wanted:
                break
            best = found[np.argsort(score)[:200]][np.isfinite(np.sort(score)[:200])]
            parents = np.vstack([best, seeds]) if len(seeds) else best
            if len(parents) == 0:
                break
            sd = np.maximum(0.5 * (parents.std(axis=0) if len(parents) > 1 else 0.1), 0.01)
            pick = parents[rng.integers(len(parents), size=candidates)]
            new = np.clip(pick + rng.normal(size=pick.shape) * sd, 0.0, 1.0)
            found, score = np.vstack([found, new]), np.concatenate([score, tolerance_score(new)])
        inside = score <= WIDTH
        return (found[inside], WIDTH) if inside.any() else (np.empty((0, d)), np.inf)

    def run_points(stage, u, executor):
        nonlocal runs
        done = 0

        def one_run(_):
            nonlocal done
            done += 1
            if progress and done % replications == 0:  # a point's worth of runs
                progress(stage, done // replications, len(u))

        means, variances = _simulate(
            base, dims, u, targets, replications, seed, executor, progress=one_run
        )
        runs += replications * len(u)
        return means, variances

    z = np.array([t.value for t in targets])
    tol = np.array([t.tolerance for t in targets])
    # The scenario's own values (the point calibration's best fit) and a cloud around them
    # are a tenth of the first design, so the emulators see the region the optimiser found.
    start = np.clip([d_.prior.cdf(_base_value(base, d_.key)) for d_ in dims], 0.0, 1.0)
    cloud = np.clip(start + 0.05 * rng.normal(size=(points // 10, d)), 0.0, 1.0)
    cloud[0] = start
    with make_executor(workers) as executor:
        design = qmc.LatinHypercube(d=d, seed=rng).random(points - len(cloud))
        design = np.vstack([cloud, design])
        for w in range(waves):
            t0 = time.perf_counter()
            means, variances = run_points(f"wave {w + 1}", design, executor)
            finite = np.all(np.isfinite(means), axis=1)
            x, y, v = design[finite], means[finite], variances[finite]
            fits = [(x, y[:, k], v[:, k], seed + k) for k in range(len(targets))]
            wave_emus = list(executor.map(_fit_emulator, fits))  # in the workers, in parallel
            loo = np.concatenate([e.loo_standardised_errors() for e in wave_emus])
            emulators.append(wave_emus)
            seeds = design[max_implausibility(design) <= CUTOFF]
            pool, fraction, imax = not_ruled_out(points, seeds)
            if not len(pool):  # refocus on the least uniform candidates instead
                cand = rng.random((candidates, d))
                imax = max_implausibility(cand)
                pool = cand[imax <= np.sort(imax)[min(points, len(imax)) - 1]]
            # Half of the next design inside the tolerance region (where the emulators
            # must be accurate for the members), the rest over the region not ruled out.
            near, width = tolerance_region(points // 2, np.vstack([design, start]))
            record.append(
                Wave(
                    runs=len(design) * replications,
                    points=len(design),
                    nonimplausible=fraction,
                    loo_outside=float(np.mean(np.abs(loo) > 3)),
                    seconds=time.perf_counter() - t0,
                    within_tolerance=float(
                        np.mean(tolerance_score(rng.random((candidates, d))) <= 1.0)
                    ),
                    width=width,
                )
            )
            near = near[rng.permutation(len(near))[: points // 2]]
            design = np.vstack([near, pool[rng.permutation(len(pool))[: points - len(near)]]])
        # Members: the prior restricted to the tolerance region, sampled by random-walk
        # Metropolis from points found inside it; each member is then simulated and kept
        # unless its simulated I_max exceeds the cut-off (an emulator error).
        starts, width = tolerance_region(accept, np.vstack([design, start]))

        def inside(u):
            return tolerance_score(u) <= width

        if not len(starts):  # no point inside any width: the region not ruled out
            inside = lambda u: max_implausibility(u) <= CUTOFF  # noqa: E731
            starts = seeds if len(seeds) else pool
        chosen = np.empty((0, d))
        means = np.empty((0, len(targets)))
        variances = means.copy()
        moves = []
        batch = 0
        good = np.zeros(0, bool)
        while good.sum() < min_members and batch < max_batches and len(starts):
            batch += 1
            pick = starts[rng.integers(len(starts), size=accept)]
            states, rate = sample_region(pick, inside, MCMC_STEPS, rng)
            moves.append(rate)
            m, v = run_points("accept" if batch == 1 else f"accept {batch}", states, executor)
            chosen = np.vstack([chosen, states])
            means, variances = np.vstack([means, m]), np.vstack([variances, v])
            good = implausibility(targets, means, variances).max(axis=1) <= CUTOFF
        design = chosen
    members = pd.DataFrame({d.key: d.value(design[good, j]) for j, d in enumerate(dims)})
    strengths = projection_dimensions()
    if good.any() and strengths:
        u = qmc.LatinHypercube(d=len(strengths), seed=rng).random(int(good.sum()))
        for j, dim in enumerate(strengths):
            members[dim.key] = dim.value(u[:, j])
    members["weight"] = 1.0
    estimates = pd.DataFrame(means[good], columns=[t.name for t in targets])
    return HistoryMatch(
        members=members.reset_index(drop=True),
        estimates=estimates,
        waves=record,
        accepted_fraction=float(good.mean()),
        runs=runs,
        seconds=time.perf_counter() - t_start,
        settings={
            "n_smes": n_smes,
            "replications": replications,
            "seed": seed,
            "waves": waves,
            "points": points,
            "accept": accept,
            "final_points": len(design),
            "region": "not ruled out" if np.isinf(width) else "tolerance",
            "width": float(width),
            "mcmc_steps": MCMC_STEPS,
            "mcmc_acceptance": float(np.mean(moves)) if moves else float("nan"),
            "min_members": min_members,
            "candidates": candidates,
            "cutoff": CUTOFF,
            "discrepancy": DISCREPANCY,
            "dims": [d.key for d in dims],
            "scenario": str(base.path if isinstance(scenario_path, Scenario) else scenario_path),
            "targets": targets.path,
        },
    )


def write_ensemble(result: HistoryMatch, path) -> None:
    """Write the members to Parquet (atomically), the record in the schema metadata."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.outputs import atomic_path

    table = pa.Table.from_pandas(result.members, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"gsim.ensemble"] = json.dumps(ensemble_record(result)).encode()
    table = table.replace_schema_metadata(meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def ensemble_record(result: HistoryMatch) -> dict:
    """The calibration's record as plain data."""
    return {
        "settings": result.settings,
        "waves": [w.__dict__ for w in result.waves],
        "accepted": len(result.members),
        "accepted_fraction": result.accepted_fraction,
        "runs": result.runs,
        "minutes": result.seconds / 60,
    }


def ensemble_report(result: HistoryMatch, command: str, targets: Targets = TARGETS) -> str:
    """Markdown record: settings, waves, and the fitted-vs-target table at the ensemble's
    median with its 5-95% band."""
    from sim.outcome_registry import format_outcome as _fmt

    st = result.settings
    lines = [
        "## Ensemble",
        "",
        f"Command: `{command}`",
        "",
        f"- history matching over {len(st['dims'])} parameters (θ), {st['n_smes']:,} SMEs, "
        f"{st['replications']} stratified runs per point, root seed {st['seed']}; cut-off "
        f"I_max <= {st['cutoff']:g}, model discrepancy {100 * st['discrepancy']:g}% of each "
        f"target; {st['candidates']:,} emulator candidates per wave",
        f"- members drawn from the {st.get('region', 'not ruled out')} region"
        + (
            f" of width {st['width']:g} tolerance(s)"
            if math.isfinite(st.get("width", math.inf))
            else ""
        )
        + f" by random-walk Metropolis ({st.get('mcmc_steps', 0)} steps per chain, "
        f"{100 * st.get('mcmc_acceptance', float('nan')):.0f}% of moves accepted), then "
        "simulated",
        f"- {result.runs:,} simulator runs in {result.seconds / 60:.1f} minutes on this "
        f"2-core machine; {len(result.members)} members accepted "
        f"({100 * result.accepted_fraction:.0f}% of the simulated members: the others' "
        "simulated I_max exceeded 3)",
        "",
        "| wave | points | runs | prior box not ruled out | prior box within every tolerance "
        "| emulator LOO errors beyond ±3 | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, w in enumerate(result.waves, 1):
        lines.append(
            f"| {i} | {w.points} | {w.runs} | {100 * w.nonimplausible:.2f}% | "
            f"{100 * w.within_tolerance:.3f}% | {100 * w.loo_outside:.1f}% | "
            f"{w.seconds / 60:.1f} |"
        )
    lines += [
        "",
        "| target | year | value | tolerance | ensemble median | 5–95% | within |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        col = result.estimates[t.name].to_numpy(float)
        col = col[np.isfinite(col)]
        if col.size == 0:
            continue
        med, lo, hi = np.median(col), np.quantile(col, 0.05), np.quantile(col, 0.95)
        ok = "yes" if abs(med - t.value) <= t.tolerance else "**no**"
        lines.append(
            f"| `{t.name}` | {t.year} | {_fmt(t.outcome, t.value)} | "
            f"±{_fmt(t.outcome, t.tolerance)} | {_fmt(t.outcome, med)} | "
            f"{_fmt(t.outcome, lo)} – {_fmt(t.outcome, hi)} | {ok} |"
        )
    lines += [
        "",
        "| parameter | prior | ensemble 5% | median | 95% | 90% band / prior's |",
        "|---|---|---|---|---|---|",
    ]
    if not result.members.empty:
        for d, share in constraint(result.members).items():
            col = result.members[d.key].to_numpy(float)
            lo, med, hi = np.quantile(col, [0.05, 0.5, 0.95])
            lines.append(
                f"| `{d.key}` | {d.prior} | {lo:.4g} | {med:.4g} | {hi:.4g} | {100 * share:.0f}% |"
            )
    return "\n".join(lines) + "\n"


def constraint(members: pd.DataFrame) -> dict[Dimension, float]:
    """How much the data narrow each calibrated parameter: the prior probability between
    the members' 5% and 95% quantiles, over 0.9 (about 1 for a parameter the data leave at
    its prior, near 0 for one they pin down)."""
    out = {}
    for d in calibration_dimensions():
        if d.key in members:
            lo, hi = np.quantile(members[d.key].to_numpy(float), [0.05, 0.95])
            out[d] = float(min((d.prior.cdf(hi) - d.prior.cdf(lo)) / 0.9, 1.0))
    return out
