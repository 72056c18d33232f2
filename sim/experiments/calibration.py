"""Calibration of the pre-2022 baseline to Beijing's guarantee sector.

The targets are the 2021 row of the Beijing guarantee association's figures and
the national context of ``calibration.md``. The objective is the sum of squared,
tolerance-scaled deviations of the *mean over replications* from the targets,
with common random numbers (the same seeds at every evaluation), so the
objective is a deterministic function of the free parameters. It is minimised
by SciPy's least-squares solver (or Nelder-Mead) over the free parameters, each
mapped from its bounds to the real line by a logit transform.

``gsim calibrate`` runs it and writes the record to ``docs/calibration.md``;
with ``--write`` the calibrated values replace the marked block of
``scenarios/baseline_2021.toml``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.outcome_registry import format_outcome
from sim.parameters import REGISTRY
from sim.scenario import Scenario, load_scenario

from .targets import Target, Targets, load_targets

__all__ = [
    "Target",
    "FreeParameter",
    "TARGETS",
    "FREE_PARAMETERS",
    "CalibrationResult",
    "evaluate",
    "stratified_runs",
    "calibrate",
    "write_baseline_block",
    "calibration_report",
]

#: The targets of the pre-2022 baseline (``scenarios/targets/beijing_2021.toml``).
TARGETS: Targets = load_targets()


@dataclass(frozen=True)
class FreeParameter:
    """A calibrated parameter: registry key (``key[i]`` for a list element) and bounds."""

    key: str
    low: float
    high: float

    def get(self, values) -> float:
        key, idx = _split(self.key)
        v = values[key]
        return float(v[idx] if idx is not None else v)

    def set(self, values: dict, x: float) -> None:
        key, idx = _split(self.key)
        if idx is None:
            values[key] = float(x)
        else:
            values[key] = list(values[key])
            values[key][idx] = float(x)


def _split(key: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"(.+)\[(\d+)\]", key)
    return (m.group(1), int(m.group(2))) if m else (key, None)


#: Free parameters and their bounds: the registry's calibrated parameters (their prior is
#: the search range) and the median revenue of medium firms (one element of a list).
FREE_PARAMETERS: tuple[FreeParameter, ...] = (
    *(FreeParameter(k, p.prior.low, p.prior.high) for k, p in REGISTRY.items() if p.calibrated),
    FreeParameter("population.revenue_median[2]", 3e7, 3e8),
)


@dataclass
class CalibrationResult:
    """Record of a calibration run."""

    parameters: dict[str, float]
    start: dict[str, float]
    achieved: dict[str, float]
    objective: float
    evaluations: int
    seconds: float
    seed: int
    replications: int
    n_smes: int
    horizon: int
    converged: bool
    message: str
    method: str = "least-squares"
    burn_in: int = 0


def _overrides(base: Scenario, free, x) -> dict:
    values = {}
    for fp, xi in zip(free, x, strict=True):
        key, _ = _split(fp.key)
        if key not in values:
            values[key] = base[key] if not isinstance(base[key], list) else list(base[key])
        fp.set(values, xi)
    return values


def evaluate(
    scenario: Scenario,
    replications: int = 4,
    seed: int = 2021,
    targets: Targets = TARGETS,
    workers: int = 1,
    executor=None,
) -> dict[str, float]:
    """Estimate of each target over ``replications`` runs, keyed by the target's name.

    The runs follow the targets' layout (:class:`~sim.experiments.targets.Targets`: they start in
    January of the start year and report the target years), and each target is estimated
    on its own year. The systematic factor is stratified: run ``k`` holds the yearly factor
    at the quantile ``(k + 1/2) / replications`` (``credit.systematic_quantile``), so the
    average over runs integrates over good and bad years like a quadrature rule instead of
    depending on which years a seed happens to draw; run ``k`` uses replication seed ``k``
    for everything else (common random numbers across evaluations). ``executor``: an open
    executor to run on (one pool for a whole calibration instead of one per evaluation).
    """
    years = yearly_estimates(scenario, replications, seed, targets, workers, executor)
    return {t.name: t.estimate(years[years["year"] == t.year]) for t in targets}


def yearly_estimates(scenario, replications, seed, targets: Targets, workers=1, executor=None):
    """The stratified runs' outcomes by calendar year (one row per run and year)."""
    return yearly_estimates_many([scenario], replications, seed, targets, workers, executor)[0]


def yearly_estimates_many(
    scenarios, replications, seed, targets: Targets, workers=1, executor=None, progress=None
) -> list:
    """:func:`yearly_estimates` of several scenarios (e.g. the points of a design), with
    all their runs submitted at once so that the workers are never idle between points.

    ``progress`` is called with 1 after each finished run."""
    import pandas as pd

    from .replications import yearly_each

    runs = []
    for sc in scenarios:
        laid_out = sc.with_overrides(
            {"run.burn_in": targets.burn_in, "run.horizon": targets.horizon}
        )
        runs += stratified_runs(laid_out, replications)
    frames = yearly_each(runs, seed, workers=workers, executor=executor, progress=progress)
    out = []
    for i in range(len(scenarios)):
        years = pd.concat(frames[i * replications : (i + 1) * replications], ignore_index=True)
        years["year"] = years["year"] + targets.years[0] - 1
        out.append(years)
    return out


def stratified_runs(scenario: Scenario, n: int) -> list[tuple[Scenario, int]]:
    """``n`` (scenario, replication) runs with the systematic factor at the quantiles
    ``(k + 1/2) / n`` of N(0, 1), run ``k`` with replication seed ``k``."""
    from dataclasses import replace

    return [
        (
            replace(
                scenario.with_overrides({"credit.systematic_quantile": (k + 0.5) / n}),
                name=f"{scenario.name}#q{k}",
            ),
            k,
        )
        for k in range(n)
    ]


def _search(residuals, y0, method, step, max_evaluations) -> tuple[bool, str]:
    """Run the optimiser from ``y0``; return (converged, message). The best point seen is
    kept by ``residuals``; a spent budget ends the search (:class:`_BudgetSpent`)."""
    from scipy.optimize import least_squares, minimize

    try:
        if method == "least-squares":
            opt = least_squares(
                residuals, y0, method="trf", diff_step=step, x_scale=1.0, max_nfev=max_evaluations
            )
        else:
            simplex = np.vstack([y0, y0 + step * np.eye(len(y0))])
            opt = minimize(
                lambda y: float(np.sum(residuals(y) ** 2)),
                y0,
                method="Nelder-Mead",
                options={
                    "maxfev": max_evaluations,
                    "xatol": 1e-3,
                    "fatol": 1e-3,
                    "adaptive": True,
                    "initial_simplex": simplex,
                },
            )
    except _BudgetSpent:
        return False, "budget of evaluations spent"
    return bool(opt.success), str(opt.message)


class _BudgetSpent(Exception):
    """The calibration's budget of evaluations is spent."""


def _residuals(achieved: dict, targets) -> np.ndarray:
    """Tolerance-scaled deviations of the estimates from the targets (1e3 where undefined)."""
    return np.array(
        [
            (achieved[t.name] - t.value) / t.tolerance if math.isfinite(achieved[t.name]) else 1e3
            for t in targets
        ]
    )


def _loss(achieved: dict, targets) -> float:
    res = _residuals(achieved, targets)
    return float(res @ res)


def _to_unit(fp: FreeParameter, v: float) -> float:
    u = np.clip((v - fp.low) / (fp.high - fp.low), 1e-6, 1 - 1e-6)
    return float(np.log(u / (1 - u)))


def _from_unit(fp: FreeParameter, y: float) -> float:
    return fp.low + (fp.high - fp.low) / (1.0 + math.exp(-y))


def calibrate(
    scenario_path="scenarios/baseline_2021.toml",
    *,
    n_smes: int = 10_000,
    replications: int = 4,
    seed: int = 2021,
    max_evaluations: int = 300,
    free=FREE_PARAMETERS,
    targets=TARGETS,
    progress: Callable[[int, float], None] | None = None,
    workers: int = 1,
    step: float = 0.5,
    method: str = "least-squares",
) -> CalibrationResult:
    """Fit the free parameters to the targets.

    Parameters
    ----------
    scenario_path : path
        Scenario whose values start the search (the baseline).
    n_smes, replications, seed : int
        Size, replications per evaluation and root seed (fixed: common random
        numbers across evaluations).
    targets : Targets
        The targets (:func:`sim.experiments.targets.load_targets`); they also set the runs' layout
        (start year, burn-in to the first target year, horizon to the last).
    max_evaluations : int
        Budget of objective evaluations (the search stops at the budget and returns
        the best point it evaluated).
    progress : callable, optional
        Called after each evaluation with (evaluation number, objective).
    workers : int
        Local processes for the replications of an evaluation (results do not
        depend on it).
    step : float
        ``"least-squares"``: the finite-difference step on the logit scale of each
        parameter; ``"nelder-mead"``: the initial simplex's step. Large enough to see
        past the Monte-Carlo texture of the objective (0.5 is about 12% of a range at
        its centre); smaller to polish.
    method : {"least-squares", "nelder-mead"}
        ``"least-squares"``: :func:`scipy.optimize.least_squares` (trust-region
        reflective) on the tolerance-scaled residuals, Jacobian by forward differences
        of size ``step``; ``"nelder-mead"``: :func:`scipy.optimize.minimize` (adaptive
        Nelder-Mead) on their sum of squares.
    """
    if method not in ("least-squares", "nelder-mead"):
        raise ValueError(f"method must be 'least-squares' or 'nelder-mead', not {method!r}")
    base = load_scenario(scenario_path, overrides={"run.n_smes": n_smes})
    start = {fp.key: fp.get(base.values) for fp in free}
    y0 = np.array([_to_unit(fp, start[fp.key]) for fp in free])
    count = 0
    best = (np.inf, y0)
    t0 = time.perf_counter()

    def residuals(y):
        nonlocal count, best
        if count >= max_evaluations:
            raise _BudgetSpent
        x = [_from_unit(fp, yi) for fp, yi in zip(free, y, strict=True)]
        sc = base.with_overrides(_overrides(base, free, x))
        res = _residuals(evaluate(sc, replications, seed, targets, workers, executor), targets)
        value = float(res @ res)
        count += 1
        if value < best[0]:
            best = (value, np.array(y, dtype=float))
        if progress:
            progress(count, value)
        return res

    from .pool import make_executor

    with make_executor(workers) as executor:  # one pool for the whole calibration
        converged, message = _search(residuals, y0, method, step, max_evaluations)
        x = [_from_unit(fp, yi) for fp, yi in zip(free, best[1], strict=True)]
        params = {fp.key: float(xi) for fp, xi in zip(free, x, strict=True)}
        achieved = evaluate(
            base.with_overrides(_overrides(base, free, x)),
            replications,
            seed,
            targets,
            workers,
            executor,
        )
    return CalibrationResult(
        parameters=params,
        start=start,
        achieved=achieved,
        objective=float(_loss(achieved, targets)),
        method=method,
        evaluations=count,
        seconds=time.perf_counter() - t0,
        seed=seed,
        replications=replications,
        n_smes=n_smes,
        horizon=targets.horizon,
        burn_in=targets.burn_in,
        converged=converged,
        message=message,
    )


BLOCK_START = "# --- calibrated: written by `gsim calibrate --write` (docs/calibration.md) ---"
BLOCK_END = "# --- end calibrated ---"


def _toml_value(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(float(v))


def write_baseline_block(path, result: CalibrationResult) -> None:
    """Replace the calibrated block of a scenario file with ``result``'s values."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    base = load_scenario(path)
    free = [FreeParameter(key, 0, 1) for key in result.parameters]
    values = _overrides(base, free, result.parameters.values())
    lines = [BLOCK_START]
    for k, v in values.items():
        if isinstance(v, list):
            v = [float(f"{x:.6g}") for x in v]
        else:
            v = float(f"{v:.6g}")
        lines.append(f"{k} = {_toml_value(v)}")
    lines.append(BLOCK_END)
    block = "\n".join(lines)
    if BLOCK_START in text and BLOCK_END in text:
        pre = text[: text.index(BLOCK_START)]
        post = text[text.index(BLOCK_END) + len(BLOCK_END) :]
        text = pre + block + post
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    from sim.outputs import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def calibration_report(result: CalibrationResult, command: str, targets=TARGETS) -> str:
    """Markdown record of a calibration (targets, achieved values, parameters, settings)."""
    rows = [
        "| target | year | value | tolerance | achieved | within | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        v = result.achieved[t.name]
        ok = "yes" if abs(v - t.value) <= t.tolerance else "**no**"
        rows.append(
            f"| `{t.name}` | {t.year} | {_fmt(t.outcome, t.value)} | "
            f"±{_fmt(t.outcome, t.tolerance)} "
            f"| {_fmt(t.outcome, v)} | {ok} | {t.source} |"
        )
    prow = ["| parameter | start | calibrated | bounds |", "|---|---|---|---|"]
    bounds = {fp.key: (fp.low, fp.high) for fp in FREE_PARAMETERS}
    for k, v in result.parameters.items():
        lo, hi = bounds.get(k, (float("nan"), float("nan")))
        prow.append(f"| `{k}` | {result.start[k]:.6g} | {v:.6g} | [{lo:.4g}, {hi:.4g}] |")
    return "\n".join(
        [
            "## Result",
            "",
            f"Command: `{command}`",
            "",
            f"- size: {result.n_smes:,} SMEs, horizon {result.horizon} months after a "
            f"{result.burn_in}-month burn-in, {result.replications} replications per evaluation, "
            f"root seed {result.seed} (common random numbers across evaluations)",
            f"- optimiser: {_OPTIMISERS[result.method]}, "
            f"{result.evaluations} evaluations, {result.seconds:.0f} s; "
            f"converged: {result.converged} ({result.message})",
            f"- objective (sum of squared tolerance-scaled deviations): {result.objective:.3f}",
            "",
            "### Targets",
            "",
            *rows,
            "",
            "### Parameters",
            "",
            *prow,
            "",
        ]
    )


_OPTIMISERS = {
    "least-squares": "scipy.optimize.least_squares (trust-region reflective, forward-difference "
    "Jacobian on the logit scale)",
    "nelder-mead": "scipy.optimize.minimize, Nelder-Mead (adaptive)",
}


def _fmt(outcome: str, v: float) -> str:
    """A target's value in the calibration record, as the outcome registry shows it."""
    return format_outcome(outcome, v)
