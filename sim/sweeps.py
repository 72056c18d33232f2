"""Batch sweeps: sweep files, experimental designs, resumable execution on any executor.

A sweep file (TOML) names a base scenario, the parameters to vary with their
ranges or lists, a design, replications and a seed::

    description = "Bank share x fee subsidy"
    base = "../beijing_2022.toml"        # relative to this file, or a name: "beijing_2022"
    design = "grid"                      # grid | lhs | sobol | morris
    samples = 16                         # lhs: points; sobol: base samples N; morris: trajectories
    replications = 4
    seed = 7
    balance = "guarantor.share"          # optional: this share takes 1 - the other shares
    outcomes = ["guaranteed_volume", "loss_guarantor"]   # for sensitivity analysis

    [set]                                # fixed overrides of the base scenario
    "run.n_smes" = 5000

    [parameters]
    "bank.share" = { values = [0.0, 0.1, 0.2] }
    "government.fee_subsidy_rate" = { low = 0.0, high = 0.01, levels = 3 }

Designs: the full grid of the listed values (``levels`` spreads a range evenly);
Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`); Sobol (Saltelli's
scheme, SALib, first and total order) and Morris trajectories (SALib).

Seeds: replication ``k`` of every design point uses
``SeedSequence(seed, spawn_key=(k,))``, the same as ``gsim run``; the seed is a
function of the replication index alone, never of scheduling order, and the
design points are compared with common random numbers.

Execution: runs are submitted to a :class:`concurrent.futures.Executor`
(in-process, a local process pool, or a Dask ``distributed`` client's
executor). Each finished run is written atomically as
``runs/<run_id>.parquet`` (its monthly series, with its summary row in the file
metadata), where ``run_id`` hashes the run's resolved parameters, seed,
replication and the model version; ``--resume`` skips runs whose file exists
and succeeded. A run that raises is recorded with its error and the sweep goes
on. A final merge writes ``summary.parquet`` (one row per run),
``timeseries.parquet`` and ``design.parquet``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .parameters import REGISTRY, RISK_SHARE_KEYS
from .scenario import (
    NAME_PATTERN,
    Scenario,
    ScenarioError,
    file_problem,
    find_scenario,
    load_scenario,
    lookup_name,
    read_toml,
    safe_check,
    show,
    unknown_key,
    unknown_name,
)

__all__ = [
    "Design",
    "Sweep",
    "RunSpec",
    "load_sweep",
    "plan_runs",
    "execute",
    "merge",
    "model_task",
    "make_sweep_executor",
    "fingerprint",
    "check_sweep_folder",
    "sweep_folder",
    "MAX_RUNS",
]

DESIGNS = ("grid", "lhs", "sobol", "morris")
TOP_KEYS = (
    "description",
    "base",
    "design",
    "samples",
    "replications",
    "seed",
    "balance",
    "outcomes",
    "set",
    "parameters",
    "levels",
)


# ============================================================================ designs
@dataclass(frozen=True)
class Design:
    """An experimental design over named factors.

    Attributes
    ----------
    names : tuple of str
    bounds : tuple of (low, high)
        For sampled designs (lhs, sobol, morris).
    method : {"grid", "lhs", "sobol", "morris"}
    samples : int
        lhs: points; sobol: base samples N (N (d + 2) points); morris: trajectories.
    seed : int
    values : tuple of tuples, optional
        Grid values per factor.
    levels : int
        Morris grid levels.
    """

    names: tuple[str, ...]
    method: str
    bounds: tuple[tuple[float, float], ...] = ()
    values: tuple[tuple, ...] = ()
    samples: int = 0
    seed: int = 0
    levels: int = 4

    def problem(self) -> dict:
        """The SALib problem dictionary."""
        return {"num_vars": len(self.names), "names": list(self.names), "bounds": list(self.bounds)}

    def matrix(self) -> list[tuple]:
        """Design points, one tuple of factor values per point (natural units).

        Computed once per design (loading, planning and analysing a sweep all ask for it).
        """
        return list(self._points)

    @functools.cached_property
    def _points(self) -> tuple[tuple, ...]:
        return tuple(self._sample())

    def _sample(self) -> list[tuple]:
        if self.method == "grid":
            return [tuple(p) for p in itertools.product(*self.values)]
        if self.method == "lhs":
            from scipy.stats import qmc

            u = qmc.LatinHypercube(d=len(self.names), seed=self.seed).random(self.samples)
            lo = np.array([b[0] for b in self.bounds])
            hi = np.array([b[1] for b in self.bounds])
            return [tuple(map(float, row)) for row in qmc.scale(u, lo, hi)]
        if self.method == "sobol":
            from SALib.sample import sobol

            x = sobol.sample(self.problem(), self.samples, calc_second_order=False, seed=self.seed)
            return [tuple(map(float, row)) for row in x]
        if self.method == "morris":
            from SALib.sample import morris

            x = morris.sample(self.problem(), self.samples, num_levels=self.levels, seed=self.seed)
            return [tuple(map(float, row)) for row in x]
        raise ValueError(f"unknown design {self.method!r}")


# ============================================================================ sweep files
@dataclass(frozen=True)
class Sweep:
    """A validated sweep file."""

    path: str
    description: str
    base: Scenario
    design: Design
    replications: int
    seed: int
    fixed: dict = field(default_factory=dict)
    balance: str | None = None
    outcomes: tuple[str, ...] = ()
    kinds: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).stem


class _Range(NamedTuple):
    """A grid range ``{ low, high, levels }``, spread only after the design size is checked."""

    low: float
    high: float
    levels: int
    kind: str

    def spread(self) -> tuple:
        grid = np.linspace(self.low, self.high, self.levels)
        return tuple(int(round(x)) if self.kind == "int" else float(x) for x in grid)


#: Most runs (design points x replications) a sweep may plan.
MAX_RUNS = 1_000_000
#: Largest seed (as ``--seed``).
MAX_SEED = 2**63 - 1
#: Estimated memory of a sweep: per design point (its resolved scenario), per run (its
#: spec and merged summary row), per reported month of a run (its row of the merged
#: series, held twice while merging). Measured on the 2022 scenario, rounded up.
POINT_BYTES = 8 * 1024
RUN_BYTES = 8 * 1024
MONTH_BYTES = 1280


#: Memory limits of a control group (v2, v1), lower than the machine's in a container.
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit() -> int:
    """Largest estimated memory a sweep may need: half of this machine's memory, or of
    this process's control-group limit where lower (16 GiB where neither can be read)."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for name in CGROUP_LIMITS:
        try:
            sizes.append(int(Path(name).read_text().strip()))
        except (OSError, ValueError):  # absent, or "max"
            pass
    return min(sizes, default=32 << 30) // 2


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def design_points(method: str, counts: list[int], samples: int) -> int:
    """Number of design points, computed without sampling anything.

    grid: the product of the level counts; lhs: ``samples``; sobol (first and total
    order): ``samples * (d + 2)``; morris: ``samples * (d + 1)`` (``d`` factors).
    """
    d = len(counts)
    if method == "grid":
        return math.prod(counts)
    return samples * {"lhs": 1, "sobol": d + 2, "morris": d + 1}[method]


def check_design_size(src, method, names, values, samples, reps, base, bounds) -> None:
    """Refuse a design above :data:`MAX_RUNS` runs or :func:`memory_limit` estimated
    memory, before any point is made; the message gives the figures."""
    counts = [v.levels if isinstance(v, _Range) else len(v) for v in values]
    points = design_points(method, counts, samples)
    runs = points * reps
    months = base["run.horizon"]
    if "run.horizon" in names:
        i = names.index("run.horizon")
        v = values[i]
        months = max(months, v.high if isinstance(v, _Range) else max(v, default=0))
        if method != "grid":
            months = max(months, bounds[i][1])
    need = points * POINT_BYTES + runs * (RUN_BYTES + int(months) * MONTH_BYTES)
    limit = memory_limit()
    if runs <= MAX_RUNS and need <= limit:
        return
    if method == "grid":
        how = " x ".join(f"{n} {c:,} levels" for n, c in zip(names, counts, strict=True))
    else:
        how = f"samples = {samples:,} over {len(names)} parameters"
    raise ScenarioError(
        f"{src}: design = {method!r}: {points:,} design points ({how}) x replications = "
        f"{reps:,}: {runs:,} runs, estimated {_bytes(need)} of memory; allowed: at most "
        f"{MAX_RUNS:,} runs and {_bytes(limit)} (half this machine's memory)"
    )


def load_sweep(path) -> Sweep:
    """Load and validate a sweep file; every design point is validated too.

    Parameters
    ----------
    path : str or Path
        The sweep file, or its name (``"risk_share_fee_grid"``: ``scenarios/sweeps/NAME.toml``
        in the working folder, else the installed one; see :func:`sim.scenario.find_scenario`).
        Its ``base`` is a path relative to the sweep file, or a scenario's name.

    Returns
    -------
    Sweep

    Raises
    ------
    ScenarioError
        One line naming the file, key, value and what is allowed.
    """
    from .outcomes import SUMMARY_FIELDS

    path = find_scenario(path, "sweeps", "sweep")
    src = str(path)
    data = read_toml(path)
    for key, val in data.items():
        if key not in TOP_KEYS:
            import difflib

            hint = difflib.get_close_matches(key, TOP_KEYS, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(TOP_KEYS)}"
            raise ScenarioError(f"{src}: {key} = {show(val)}: unknown sweep key{extra}")

    def need(key, types, what):
        if key not in data:
            raise ScenarioError(f"{src}: {key}: missing; expected {what}")
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, types):
            raise ScenarioError(f"{src}: {key} = {show(v)}: expected {what}")
        return v

    base_ref = need(
        "base", str, "the base scenario file (a path relative to the sweep file, or a name)"
    )
    design = data.get("design", "grid")
    if design not in DESIGNS:
        raise ScenarioError(
            f"{src}: design = {show(design)}: expected one of {', '.join(map(repr, DESIGNS))}"
        )
    reps = data.get("replications", 1)
    if isinstance(reps, bool) or not isinstance(reps, int) or not 1 <= reps <= 100_000:
        raise ScenarioError(
            f"{src}: replications = {show(reps)}: expected an integer in [1, 100000]"
        )
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ScenarioError(f"{src}: seed = {show(seed)}: expected an integer in [0, 2**63 - 1]")
    samples = data.get("samples", 0)
    if (design != "grid" or "samples" in data) and (
        isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 10**6
    ):
        raise ScenarioError(
            f"{src}: samples = {show(samples)}: expected an integer in [1, 1000000] "
            f"for design {design!r}"
        )
    levels = data.get("levels", 4)
    if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 100:
        raise ScenarioError(f"{src}: levels = {show(levels)}: expected an integer in [2, 100]")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(f"{src}: description = {show(description)}: expected a string")
    outcomes = data.get("outcomes", ["lending_volume"])
    if not isinstance(outcomes, list) or not outcomes:
        raise ScenarioError(f"{src}: outcomes = {show(outcomes)}: expected a list of outcomes")
    for o in outcomes:
        if o not in SUMMARY_FIELDS:
            raise ScenarioError(
                f"{src}: outcomes = {show(o)}: unknown outcome; see sim.SUMMARY_FIELDS"
            )

    fixed = data.get("set", {})
    if not isinstance(fixed, dict):
        raise ScenarioError(f"{src}: set = {show(fixed)}: expected a table of KEY = VALUE")
    base_path = path.parent / base_ref
    if NAME_PATTERN.fullmatch(base_ref) and not os.path.lexists(base_path):
        base_path = lookup_name(base_ref)  # a scenario's name, not a file beside the sweep
        if base_path is None:
            raise ScenarioError(f"{src}: base = {base_ref!r}: {unknown_name()}")
    try:
        base_path = base_path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL character
        raise ScenarioError(f"{src}: base = {show(base_ref)}: cannot resolve: {exc}") from None
    problem = file_problem(base_path)
    if problem:
        raise ScenarioError(
            f"{src}: base = {base_ref!r}: {problem} ({base_path}); expected a scenario file"
        )
    base = load_scenario(base_path).with_overrides(fixed, source=f"{src} [set]")
    balance = data.get("balance")
    if balance is not None and balance not in RISK_SHARE_KEYS:
        raise ScenarioError(
            f"{src}: balance = {show(balance)}: expected one of {', '.join(RISK_SHARE_KEYS)}"
        )

    params = data.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ScenarioError(
            f"{src}: parameters = {show(params)}: expected a table of parameters to vary"
        )
    names, bounds, values, kinds = [], [], [], {}
    for key, spec in params.items():
        where = f"{src} [parameters]"
        if key not in REGISTRY:
            unknown_key(where, key, spec)
        if key == balance:
            raise ScenarioError(
                f"{where}: {key} = {show(spec)}: the balance share cannot also be varied"
            )
        p = REGISTRY[key]
        kinds[key] = p.kind
        if not isinstance(spec, dict):
            raise ScenarioError(
                f"{where}: {key} = {show(spec)}: expected {{ values = [...] }} or "
                "{ low = ..., high = ... }"
            )
        extra = set(spec) - {"values", "low", "high", "levels"}
        if extra:
            raise ScenarioError(
                f"{where}: {key}.{sorted(extra)[0]} = {show(spec[sorted(extra)[0]])}: unknown; "
                "expected values, low, high, levels"
            )
        if "values" in spec:
            vals = spec["values"]
            if design != "grid":
                raise ScenarioError(
                    f"{where}: {key}.values = {show(vals)}: design {design!r} needs low and high"
                )
            if not isinstance(vals, list) or not vals:
                raise ScenarioError(
                    f"{where}: {key}.values = {show(vals)}: expected a non-empty list of "
                    f"values, each {p.allowed()}"
                )
            checked = []
            for v in vals:
                nv, err = safe_check(p, v)
                if err:
                    raise ScenarioError(f"{where}: {key} = {show(v)}: {err}")
                checked.append(nv)
            values.append(tuple(checked))
            bounds.append((math.nan, math.nan))
        else:
            if p.kind not in ("float", "int"):
                raise ScenarioError(
                    f"{where}: {key} = {show(spec)}: a {p.kind} parameter needs values = [...]"
                )
            lo, hi = spec.get("low"), spec.get("high")
            for label, v in (("low", lo), ("high", hi)):
                nv, err = safe_check(p, v)
                if v is None or err:
                    raise ScenarioError(
                        f"{where}: {key}.{label} = {show(v)}: "
                        + (err or f"missing; expected {p.allowed()}")
                    )
            if not lo < hi:
                raise ScenarioError(f"{where}: {key}.low = {show(lo)}: must be below high ({hi})")
            bounds.append((float(lo), float(hi)))
            if design == "grid":
                lv = spec.get("levels")
                if isinstance(lv, bool) or not isinstance(lv, int) or lv < 2:
                    raise ScenarioError(
                        f"{where}: {key}.levels = {show(lv)}: a grid range needs levels >= 2"
                    )
                values.append(_Range(lo, hi, lv, p.kind))  # spread once the size is checked
            else:
                values.append(())
        names.append(key)
    check_design_size(src, design, names, values, int(samples), int(reps), base, bounds)
    values = [v.spread() if isinstance(v, _Range) else v for v in values]
    d = Design(
        names=tuple(names),
        method=design,
        bounds=tuple(bounds),
        values=tuple(values),
        samples=int(samples),
        seed=int(seed),
        levels=int(levels),
    )
    sweep = Sweep(
        path=src,
        description=description,
        base=base,
        design=d,
        replications=int(reps),
        seed=int(seed),
        fixed=dict(fixed),
        balance=balance,
        outcomes=tuple(outcomes),
        kinds=kinds,
    )
    for i, point in enumerate(d.matrix()):
        point_scenario(sweep, i, point)  # validates every point
    return sweep


def point_values(sweep: Sweep, point: tuple) -> dict[str, Any]:
    """Overrides of one design point (ints rounded, the balance share filled in)."""
    out = {}
    for key, v in zip(sweep.design.names, point, strict=True):
        out[key] = int(round(v)) if sweep.kinds.get(key) == "int" else v
    if sweep.balance:
        others = [k for k in RISK_SHARE_KEYS if k != sweep.balance]
        total = sum(out.get(k, sweep.base[k]) for k in others)
        out[sweep.balance] = round(1.0 - total, 12)
    return out


def point_scenario(sweep: Sweep, index: int, point: tuple) -> Scenario:
    """The resolved scenario of a design point (validated)."""
    vals = point_values(sweep, point)
    sc = sweep.base.with_overrides(vals, source=f"{sweep.path} point {index}")
    from dataclasses import replace

    return replace(sc, name=f"{sweep.name}#{index}")


# ============================================================================ runs
@dataclass(frozen=True)
class RunSpec:
    """One run of a design point: what a task needs, and its identifier."""

    point: int
    replication: int
    seed: int
    run_id: str
    values: dict
    scenario: Scenario | None = None


def run_id(payload: dict, seed: int, replication: int) -> str:
    """Hash of (parameters, seed, replication, model version)."""
    from . import __version__

    blob = json.dumps(
        {"params": payload, "seed": seed, "replication": replication, "version": __version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def plan_runs(sweep: Sweep) -> list[RunSpec]:
    """Every (design point, replication) run of a sweep, in design order."""
    specs = []
    for i, point in enumerate(sweep.design.matrix()):
        sc = point_scenario(sweep, i, point)
        vals = point_values(sweep, point)
        for k in range(sweep.replications):
            rid = run_id(dict(sc.values), sweep.seed, k)
            specs.append(RunSpec(i, k, sweep.seed, rid, vals, sc))
    return specs


def model_task(spec: RunSpec):
    """Run the model for one spec; return its summary row and monthly series."""
    from .experiments import run_replication

    return run_replication(spec.scenario, spec.seed, spec.replication)


class SweepExecutor:
    """The executor a sweep runs on, rebuildable after a worker process dies.

    Attributes
    ----------
    executor : concurrent.futures.Executor
        In-process (one worker), a local process pool, or a Dask client's executor.
    workers : int
        Number of workers (for the submission window).
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None):
        self.client = None
        if scheduler:
            from distributed import Client

            self.client = Client(scheduler, timeout="20s")
            self.workers = len(self.client.scheduler_info().get("workers", {})) or 1
        else:
            self.workers = max(1, workers)
        self.executor = self._new()

    def _new(self) -> cf.Executor:
        if self.client is not None:
            return self.client.get_executor()
        from .experiments import make_executor

        return make_executor(self.workers)

    def rebuild(self) -> cf.Executor:
        """Replace a broken executor (a worker process died) with a fresh one."""
        if self.client is None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._new()
        return self.executor

    def close(self) -> None:
        """Shut the executor down (and close the Dask client); a second call does nothing."""
        if self.executor is None:
            return
        if self.client is not None:
            self.executor.shutdown(wait=True)  # Dask's executor has no cancel_futures
            self.client.close()
        else:
            self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = None


def make_sweep_executor(workers: int = 1, scheduler: str | None = None) -> SweepExecutor:
    """In-process (``workers`` 1), a local process pool, or a Dask cluster's executor."""
    return SweepExecutor(workers, scheduler)


# ============================================================================ the folder
#: The record of the sweep that made a folder (its fingerprint); read by ``--resume``.
FINGERPRINT_FILE = "sweep.json"
#: Merged outputs of a sweep (and of ``gsim sensitivity``) in its folder.
SWEEP_OUTPUTS = (
    "summary.parquet",
    "timeseries.parquet",
    "design.parquet",
    "manifest.json",
    "sensitivity.parquet",
    "sensitivity.csv",
    "sensitivity.png",
)


def fingerprint(sweep: Sweep) -> dict:
    """The record of what a sweep folder holds: the resolved sweep (base scenario values,
    design, replications, seed, balance, model version) and its SHA-256 fingerprint.

    Two sweep files with the same fingerprint plan the same runs (whatever their
    description, outcomes or file name); ``--resume`` continues only such a folder.
    """
    from . import __version__

    d = sweep.design
    resolved = {
        "base": dict(sweep.base.values),
        "design": {
            "method": d.method,
            "parameters": list(d.names),
            "bounds": [list(b) for b in d.bounds],
            "values": [list(v) for v in d.values],
            "samples": d.samples,
            "levels": d.levels,
        },
        "replications": sweep.replications,
        "seed": sweep.seed,
        "balance": sweep.balance,
        "version": __version__,
    }
    blob = json.dumps(resolved, sort_keys=True, default=str)
    return {
        "fingerprint": hashlib.sha256(blob.encode()).hexdigest(),
        "sweep_file": str(sweep.path),
        "resolved": resolved,
    }


def _check_same_sweep(out: Path, record: dict) -> None:
    """:class:`OutputError` unless the sweep folder ``out`` was made by ``record``'s sweep."""
    from .outputs import OutputError

    fp_file = out / FINGERPRINT_FILE
    ours = f"{record['sweep_file']} (fingerprint {record['fingerprint'][:12]})"
    advice = "give another --out, or --overwrite without --resume to replace its results"
    problem = file_problem(fp_file)
    if problem == "file not found":
        raise OutputError(
            f"--out {out}: holds files but no {FINGERPRINT_FILE}, so no sweep made it; "
            f"--resume continues only a folder made by the same sweep as {ours}; {advice}"
        )
    try:
        if problem:
            raise ValueError(problem)
        theirs = json.loads(fp_file.read_text(encoding="utf-8"))
        their_fp, their_file = str(theirs["fingerprint"]), str(theirs.get("sweep_file", "?"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputError(
            f"--out {out}: {FINGERPRINT_FILE} is unreadable ({exc}); {advice}"
        ) from None
    if their_fp != record["fingerprint"]:
        raise OutputError(
            f"--out {out}: made by another sweep, {their_file} (fingerprint {their_fp[:12]}), "
            f"not by {ours}; --resume continues only the same sweep (base, parameters, design, "
            f"replications, seed and model version); {advice}"
        )


def check_sweep_folder(out, record: dict, *, resume: bool, overwrite: bool) -> Path:
    """Check ``--out`` for a sweep without creating or changing anything.

    A new or empty folder is fine; a non-empty one needs ``--overwrite``, or ``--resume``
    with the same fingerprint (see :func:`fingerprint`); a folder another live sweep is
    writing to is refused. Raises :class:`sim.outputs.OutputError`.
    """
    from .outputs import check_output_dir, folder_contents

    path = check_output_dir(out, overwrite=overwrite or resume)
    if resume and path.is_dir() and folder_contents(path):
        _check_same_sweep(path, record)
    return path


@contextlib.contextmanager
def sweep_folder(out, record: dict, specs: list[RunSpec], *, resume: bool, overwrite: bool):
    """Create (if needed) and lock the sweep folder ``out`` for ``record``'s sweep.

    Under the lock the checks of :func:`check_sweep_folder` are made again (another
    sweep may have used the folder meanwhile); ``--overwrite`` of another sweep's folder
    removes its merged outputs and run files, so that results are never mixed; then
    ``sweep.json`` records the fingerprint. The lock is released on exit.
    """
    from .outputs import FolderLock, OutputError, folder_contents, prepare_output_dir, write_json

    path = prepare_output_dir(out, overwrite=True)
    with FolderLock(path):
        if folder_contents(path):
            if resume:
                _check_same_sweep(path, record)
            elif not overwrite:
                raise OutputError(
                    f"--out {path}: folder is not empty; use --overwrite to replace its files"
                )
            else:
                try:
                    _check_same_sweep(path, record)
                except OutputError:
                    _remove_results(path, {s.run_id for s in specs})
        write_json(record, path / FINGERPRINT_FILE)
        yield path


def _remove_results(out: Path, keep: set[str]) -> None:
    """Remove another sweep's merged outputs and the run files not in ``keep``."""
    for name in SWEEP_OUTPUTS:
        (out / name).unlink(missing_ok=True)
    runs = out / "runs"
    if runs.is_dir():
        for p in runs.iterdir():
            stale = p.name.endswith(".part") or (p.suffix == ".parquet" and p.stem not in keep)
            if stale and p.is_file():
                p.unlink()


def _run_path(out: Path, rid: str) -> Path:
    return out / "runs" / f"{rid}.parquet"


def _finished_ok(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - unreadable means not finished
        return False
    row = json.loads(meta.get(b"gsim_summary", b"{}"))
    return row.get("status") == "ok"


def _write_run(out: Path, spec: RunSpec, row: dict, ts) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .outputs import atomic_path, json_default

    if ts is None:
        ts = pd.DataFrame()
    table = pa.Table.from_pandas(ts, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"gsim_summary"] = json.dumps(row, default=json_default).encode()
    table = table.replace_schema_metadata(meta)
    target = _run_path(out, spec.run_id)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def _base_row(spec: RunSpec) -> dict:
    """The columns every run's summary row starts with: identifiers and design values
    (list values comma-joined, as :func:`sim.experiments.run_replication` writes them)."""
    from .experiments import param_columns

    return {
        "point": spec.point,
        "replication": spec.replication,
        "seed": spec.seed,
        "run_id": spec.run_id,
        **param_columns(spec.values),
    }


def execute(
    specs: list[RunSpec],
    task: Callable[[RunSpec], tuple[dict, Any]],
    out_dir,
    executor: cf.Executor,
    *,
    resume: bool = False,
    window: int = 2,
    progress: Callable[[bool], None] | None = None,
    rebuild: Callable[[], cf.Executor] | None = None,
) -> dict[str, int]:
    """Run ``specs`` through ``executor``, writing each finished run atomically.

    Parameters
    ----------
    specs : list of RunSpec
    task : callable
        ``task(spec) -> (summary_row: dict, timeseries: DataFrame or None)``;
        must be importable by the workers.
    out_dir : path
        Receives ``runs/<run_id>.parquet``.
    executor : concurrent.futures.Executor
    resume : bool
        Skip runs whose file exists and succeeded; leftover temporary files of an
        interrupted sweep are removed.
    window : int
        Runs in flight at a time (at least the number of workers).
    progress : callable, optional
        Called with ``ok`` (bool) after each finished run.
    rebuild : callable, optional
        Returns a fresh executor after a worker process died (a local process pool
        breaks as a whole). The runs that were in flight are then retried one at a
        time, so that only the run that kills its worker is recorded as failed.

    Returns
    -------
    dict
        Counts: ``total``, ``skipped``, ``ok``, ``failed``.
    """
    from concurrent.futures.process import BrokenProcessPool

    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for stale in (out / "runs").glob(".*.part"):
        stale.unlink(missing_ok=True)
    todo = []
    skipped = 0
    for spec in specs:
        if resume and _finished_ok(_run_path(out, spec.run_id)):
            skipped += 1
        else:
            todo.append(spec)
    counts = {"total": len(specs), "skipped": skipped, "ok": 0, "failed": 0}
    current = {"executor": executor}

    def record(spec: RunSpec, result=None, error: str | None = None) -> None:
        base = _base_row(spec)
        if error is None:
            row, ts = result
            row = {**base, **{k: v for k, v in row.items() if k not in base}}
            row["status"], row["error"] = "ok", ""
        else:
            row, ts = {**base, "status": "failed", "error": error}, None
        _write_run(out, spec, row, ts)
        counts["ok" if error is None else "failed"] += 1
        if progress:
            progress(error is None)

    def drain(queue, size: int) -> list[RunSpec] | None:
        """Run the queue; return the runs in flight if the pool broke, else None."""
        pending: dict[cf.Future, RunSpec] = {}
        while True:
            while len(pending) < max(1, size):
                spec = next(queue, None)
                if spec is None:
                    break
                try:
                    pending[current["executor"].submit(task, spec)] = spec
                except BrokenProcessPool:
                    return [*pending.values(), spec]
            if not pending:
                return None
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    return list(pending.values())
                except Exception as exc:  # noqa: BLE001 - a failing run is recorded, not fatal
                    record(pending.pop(fut), error=f"{type(exc).__name__}: {exc}")
                    continue
                record(pending.pop(fut), result)

    queue = iter(todo)
    while (suspects := drain(queue, window)) is not None:
        if rebuild is None:
            raise BrokenProcessPool("a worker process died; no executor to rebuild")
        current["executor"] = rebuild()
        for spec in suspects:  # one at a time: find the run that kills its worker
            if drain(iter([spec]), 1) is not None:
                record(spec, error="BrokenProcessPool: the worker process died during this run")
                current["executor"] = rebuild()
    return counts


def merge(specs: list[RunSpec], out_dir, outcome_fields: Iterable[str] = ()):
    """Merge the run files of ``specs`` into one summary and one timeseries table.

    Rows are ordered by (point, replication) whatever the order runs finished.
    Runs without a file are reported as ``status = "missing"``.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    out = Path(out_dir)
    rows, series = [], []
    for spec in sorted(specs, key=lambda s: (s.point, s.replication)):
        path = _run_path(out, spec.run_id)
        if not path.exists():
            rows.append({**_base_row(spec), "status": "missing", "error": ""})
            continue
        table = pq.read_table(path)
        row = json.loads(table.schema.metadata[b"gsim_summary"])
        rows.append(row)
        if table.num_rows:
            ts = table.to_pandas()
            ts = ts.drop(columns=[c for c in ("point", "replication") if c in ts])
            ts.insert(0, "replication", spec.replication)
            ts.insert(0, "point", spec.point)
            series.append(ts)
    summary = pd.DataFrame(rows)
    for col in outcome_fields:
        if col not in summary:
            summary[col] = np.nan
    timeseries = pd.concat(series, ignore_index=True) if series else pd.DataFrame()
    return summary, timeseries
