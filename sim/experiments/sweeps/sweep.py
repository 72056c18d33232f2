"""Batch sweeps: sweep files, experimental designs, resumable execution on any executor.

The research API reads as prose: make a :class:`Sweep` (from a sweep file, or from
Python values with the same names), change its size with :meth:`Sweep.with_`, run it,
read the :class:`SweepResult`::

    import sim
    sweep = sim.Sweep.from_file("sobol_main_levers").with_(n_smes=2000, samples=8)
    result = sweep.run(workers=2, out="out/sobol")
    result.summary                       # one row per run (summary.parquet)
    result.sensitivity()                 # Sobol indices (what gsim sensitivity writes)

``gsim sweep`` and ``gsim sensitivity`` are thin wrappers of the same calls.

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
executor), grouped into tasks of several runs (larger tasks first, single runs at the
end; see :func:`.executors.plan_groups`). The worker writes each finished run atomically
as ``runs/<run_id>.parquet`` (its monthly series, with its summary row in the file
metadata) and sends back only its status; a Dask worker that does not see the folder
(another machine, no shared disk) sends the run back to be written. ``run_id`` hashes
the run's resolved parameters, seed, replication and the model version; ``--resume``
skips runs whose file exists and succeeded. A run that raises is recorded with its
error and the sweep goes on. A final merge writes ``summary.parquet`` (one row per run),
``timeseries.parquet`` and ``design.parquet``.

Validation: the keys of a sweep file are declared by :class:`SweepSpec` (each field's
:class:`Key`: type, bounds, choices, whether it is required) and checked generically by
:func:`check_keys`; each ``[parameters]`` entry (:class:`ParameterSpec`) is checked
against its parameter in the registry. Every problem is one :class:`ScenarioError` line
naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from sim.parameters import REGISTRY
from sim.scenario import (
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

from ..pool import InProcessExecutor, import_in_background
from .design import Design, _Range, check_design_size
from .executors import (
    SweepExecutor,
    SweepOptionError,
    _progress_bar,
    _progress_callback,
    default_workers,
    execute,
    prepare_run,
)
from .folder import check_sweep_folder, fingerprint, sweep_folder
from .results import SweepResult, merge
from .runs import model_task, plan_runs, point_scenario
from .schema import PARAMETER_KEYS, TOP_KEYS, SweepSpec, check_keys


def _unknown_top_key(where: str):
    def unknown(key: str, value) -> None:
        import difflib

        hint = difflib.get_close_matches(key, TOP_KEYS, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(TOP_KEYS)}"
        raise ScenarioError(f"{where}: {key} = {show(value)}: unknown sweep key{extra}")

    return unknown


# ============================================================================ sweeps
class Sweep:
    """A sweep: a base scenario, the parameters to vary, a design, replications and a seed.

    Made from a sweep file (:meth:`from_file`) or from Python values with the same names
    and spellings as the file's keys; validated at once, every design point included.
    :meth:`with_` changes keys (the size of a run, replications, a parameter's values)
    and validates again; :meth:`run` runs it and returns a :class:`SweepResult`::

        sweep = sim.Sweep.from_file("risk_share_fee_grid").with_(n_smes=2000, replications=2)
        result = sweep.run(workers=4, out="out/grid")
        result.summary                  # one row per run

        sweep = sim.Sweep("beijing_2022", {"bank.share": {"low": 0.0, "high": 0.4}},
                          design="sobol", samples=64, balance="guarantor.share")
        sweep.run().sensitivity()       # Sobol indices, in a temporary folder

    Parameters
    ----------
    base : str, Path or Scenario
        The base scenario: a file, a scenario's name (``"beijing_2022"``), or a
        :class:`~sim.scenario.Scenario`.
    parameters : dict
        ``{key: {"values": [...]}}`` (a grid) or ``{key: {"low": a, "high": b}}`` (a
        range; with ``"levels": n`` for a grid), as the ``[parameters]`` table.
    design : {"grid", "lhs", "sobol", "morris"}, default "grid"
    replications : int, default 1
        Runs per design point; replication ``k`` of every point uses the seed
        ``SeedSequence(seed, spawn_key=(k,))``.
    samples : int, optional
        lhs: points; sobol: base samples N (N (d + 2) points); morris: trajectories.
        Required by the sampled designs.
    seed : int, default 0
        Seed of the design and of the replications.
    set : dict, optional
        Fixed overrides of the base scenario (``{"run.n_smes": 5000}``), as ``[set]``.
    balance : str, optional
        A risk share that takes ``1 -`` the others (``"guarantor.share"``).
    outcomes : list of str, default ["lending_volume"]
        Outcomes of :meth:`SweepResult.sensitivity`.
    levels : int, default 4
        Grid levels of a Morris design.
    description : str, optional
    name : str, default "sweep"
        Names the design points' scenarios (``NAME#3``) and the sweep in messages.

    Attributes
    ----------
    name : str
        The file's stem, or ``name``.
    path : str or None
        The sweep file (None for a sweep made from Python values).
    source : str
        How messages name the sweep: the file, ``name``, "... (with changes)" after
        :meth:`with_`.
    spec : SweepSpec
        The keys as given.
    base : Scenario
        The base scenario with the ``set`` overrides.
    design : Design
    replications, seed : int
    fixed : dict
        The ``set`` overrides.
    balance : str or None
    outcomes : tuple of str
    kinds : dict
        Registry kind (``"float"``, ``"int"``, ...) of each varied parameter.

    Raises
    ------
    ScenarioError
        One line naming the file (or ``name``), the key, the value and what is allowed.
    """

    def __init__(
        self,
        base,
        parameters: Mapping,
        design: str | None = None,
        replications: int | None = None,
        *,
        samples: int | None = None,
        seed: int | None = None,
        set: Mapping | None = None,
        balance: str | None = None,
        outcomes: Iterable[str] | None = None,
        levels: int | None = None,
        description: str | None = None,
        name: str = "sweep",
    ):
        given = {
            "base": base,
            "parameters": parameters,
            "design": design,
            "replications": replications,
            "samples": samples,
            "seed": seed,
            "set": set,
            "balance": balance,
            "outcomes": list(outcomes)
            if isinstance(outcomes, Iterable) and not isinstance(outcomes, str)
            else outcomes,
            "levels": levels,
            "description": description,
        }
        data = {k: v for k, v in given.items() if v is not None}
        self._resolve(data, source=str(name), name=str(name), path=None, folder=None)

    @classmethod
    def from_file(cls, path) -> Sweep:
        """Load and validate a sweep file.

        Parameters
        ----------
        path : str or Path
            The sweep file, or its name (``"risk_share_fee_grid"``:
            ``scenarios/sweeps/NAME.toml`` in the working folder, else the installed one;
            see :func:`sim.scenario.find_scenario`). Its ``base`` is a path relative to the
            sweep file, or a scenario's name.

        Returns
        -------
        Sweep

        Raises
        ------
        ScenarioError
            One line naming the file, key, value and what is allowed.
        """
        path = find_scenario(path, "sweeps", "sweep")
        data = read_toml(path)
        sweep = cls.__new__(cls)
        sweep._resolve(data, source=str(path), name=path.stem, path=str(path), folder=path.parent)
        return sweep

    def with_(
        self,
        *,
        n_smes: int | None = None,
        horizon: int | None = None,
        burn_in: int | None = None,
        set: Mapping | None = None,
        parameters: Mapping | None = None,
        **keys,
    ) -> Sweep:
        """A copy with some keys changed, validated again.

        Parameters
        ----------
        n_smes, horizon, burn_in : int, optional
            Shorthands for ``set={"run.n_smes": ..., "run.horizon": ..., "run.burn_in": ...}``.
        set : dict, optional
            Overrides merged into the ``set`` table (a key given ``None`` is removed).
        parameters : dict, optional
            Entries merged into ``parameters``: a key replaces that parameter's entry (in
            its place), a new key is varied too, a key given ``None`` is no longer varied.
        **keys
            Any other key of the sweep file (``replications=8``, ``seed=1``,
            ``samples=128``, ``design="lhs"``, ``balance=None`` to remove it, ...).

        Returns
        -------
        Sweep
            Its messages name ``"<source> (with changes)"``.

        Raises
        ------
        ScenarioError
            One line naming the key, the value and what is allowed.
        """
        data = self.spec.given()
        for key, value in keys.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        shorthands = {"run.n_smes": n_smes, "run.horizon": horizon, "run.burn_in": burn_in}
        fixed = {k: v for k, v in shorthands.items() if v is not None}
        for table, changes in (("set", {**fixed, **(set or {})}), ("parameters", parameters)):
            if changes:
                merged = dict(data.get(table) or {})
                for key, value in changes.items():
                    if value is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                data[table] = merged
        changed = bool(keys or fixed or set or parameters)
        source = self.source
        if changed and not source.endswith(CHANGED):
            source += CHANGED
        sweep = type(self).__new__(type(self))
        sweep._resolve(data, source=source, name=self.name, path=self.path, folder=self._folder)
        return sweep

    def _resolve(self, data: Mapping, *, source: str, name: str, path, folder) -> None:
        """Check ``data`` against :class:`SweepSpec`, load the base scenario, make the design
        and validate every design point; set the attributes."""
        loaded = {}

        def load_base(values: dict) -> None:  # as soon as base and set are checked
            base = _base_scenario(values["base"], source, folder)
            loaded["base"] = base.with_overrides(values["set"], source=f"{source} [set]")

        spec = check_keys(
            SweepSpec, data, source, _unknown_top_key(source), after={"set": load_base}
        )
        base = loaded["base"]
        names, bounds, values, kinds = [], [], [], {}
        for key, entry in spec.parameters.items():
            bound, grid, kinds[key] = _factor(key, entry, spec, f"{source} [parameters]")
            names.append(key)
            bounds.append(bound)
            values.append(grid)
        samples = spec.samples or 0
        check_design_size(
            source, spec.design, names, values, samples, spec.replications, base, bounds
        )
        design = Design(
            names=tuple(names),
            method=spec.design,
            bounds=tuple(bounds),
            values=tuple(v.spread() if isinstance(v, _Range) else v for v in values),
            samples=samples,
            seed=spec.seed,
            levels=spec.levels,
        )
        self.__dict__.update(
            spec=spec,
            name=name,
            path=path,
            source=source,
            _folder=folder,
            description=spec.description,
            base=base,
            design=design,
            replications=spec.replications,
            seed=spec.seed,
            fixed=dict(spec.set),
            balance=spec.balance,
            outcomes=tuple(spec.outcomes),
            kinds=kinds,
        )
        for i, point in enumerate(design.matrix()):
            point_scenario(self, i, point)  # validates every point

    def __setattr__(self, name, value):
        raise AttributeError(f"a Sweep does not change: use .with_({name}=...) for a new one")

    def __repr__(self) -> str:
        return (
            f"<Sweep {self.source}: {self.design.method} over {', '.join(self.design.names)}; "
            f"{self.points} points x {self.replications} replications = {self.runs} runs; "
            f"base {self.base.name}>"
        )

    @property
    def points(self) -> int:
        """Number of design points."""
        return len(self.design.matrix())

    @property
    def runs(self) -> int:
        """Number of runs: design points x replications."""
        return self.points * self.replications

    def run(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        out=None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool | Callable[[bool], None] | None = None,
    ) -> SweepResult:
        """Run every (design point, replication), merge and return the results.

        Everything is checked before anything is created: the options, the output folder
        (usable, empty or resumable by this very sweep, not locked by another) and the
        scheduler (reachable). Each finished run is written atomically as
        ``OUT/runs/<run_id>.parquet``; a run that raises is recorded with its error and the
        sweep goes on. Then ``summary.parquet``, ``timeseries.parquet``, ``design.parquet``
        and ``manifest.json`` are written to ``out``.

        Parameters
        ----------
        workers : int, optional
            Local worker processes (1: in this process); default every CPU this process
            may use.
        scheduler : str, optional
            A Dask scheduler's address (``tcp://HOST:PORT``) instead of ``workers``. Workers
            that see ``out`` under the same path (this machine, a shared disk) write the run
            files themselves; the others send each run back to be written here.
        out : str or Path, optional
            The sweep folder; default a temporary folder, removed once the results are
            read (the results are returned either way).
        resume : bool
            Keep the runs already finished in ``out`` (a folder made by the same sweep:
            see :func:`fingerprint`) and run the others.
        overwrite : bool
            Use a non-empty ``out``; another sweep's results there are removed first.
        progress : bool or callable, optional
            True: a progress bar on stderr (when it is a terminal); a callable is called
            with ``ok`` (bool) after each finished run.

        Returns
        -------
        SweepResult

        Raises
        ------
        SweepOptionError
            Bad ``workers`` or ``scheduler``, or an unreachable scheduler.
        sim.outputs.OutputError
            An unusable ``out`` (not writable, not empty, another sweep's, locked).
        """
        import tempfile
        from datetime import UTC, datetime

        from sim.outcome_registry import SUMMARY_FIELDS
        from sim.outputs import build_manifest, write_json, write_parquet

        scheduler = prepare_run(workers, scheduler)
        if out is None and resume:
            raise SweepOptionError("resume: needs out, the folder of the sweep to resume")
        record = fingerprint(self)
        temporary = None
        if out is None:
            temporary = tempfile.TemporaryDirectory(prefix="gsim-sweep-")
            out_dir = Path(temporary.name)
        else:
            out_dir = check_sweep_folder(out, record, resume=resume, overwrite=overwrite)
        specs = plan_runs(self)
        started = datetime.now(UTC)
        with contextlib.ExitStack() as stack:
            if temporary is not None:
                stack.callback(temporary.cleanup)
            pool = SweepExecutor(workers or default_workers(), scheduler)  # before the folder
            stack.callback(pool.close)
            if not isinstance(pool.executor, InProcessExecutor):  # ready to merge when done
                import_in_background("pyarrow.parquet", "pandas")
            stack.enter_context(
                sweep_folder(out_dir, record, specs, resume=resume, overwrite=overwrite)
            )
            bar = _progress_bar(progress, len(specs), f"sweep {self.name}")
            if bar is not None:
                stack.enter_context(bar)

            def skipped(n: int) -> None:  # the bar counts the runs to run, for its ETA
                if bar is not None and n:
                    bar.reset(total=len(specs) - n)
                    bar.set_description(f"sweep {self.name} ({n} already finished)")

            counts = execute(
                specs,
                model_task,
                out_dir,
                pool.executor,
                resume=resume,
                window=2 * pool.workers,
                progress=_progress_callback(progress, bar),
                rebuild=pool.rebuild,
                skipped=skipped,
            )
            pool.close()
            summary, timeseries = merge(specs, out_dir, SUMMARY_FIELDS)
            design = summary.drop_duplicates("point")[["point", *self.design.names]]
            design = design.reset_index(drop=True)
            if temporary is None:
                write_parquet(summary, out_dir / "summary.parquet")
                write_parquet(timeseries, out_dir / "timeseries.parquet")
                write_parquet(design, out_dir / "design.parquet")
                manifest = build_manifest(
                    [self.base],
                    self.seed,
                    self.replications,
                    started,
                    sweep={
                        "file": self.path,
                        "source": self.source,
                        "design": self.design.method,
                        "parameters": list(self.design.names),
                        "points": len(specs) // self.replications,
                        "balance": self.balance,
                        "set": self.fixed,
                        "fingerprint": record["fingerprint"],
                    },
                    runs=counts,
                    executor=scheduler or f"{workers or default_workers()} local",
                )
                write_json(manifest, out_dir / "manifest.json")
        return SweepResult(
            sweep=self,
            summary=summary,
            timeseries=timeseries,
            design=design,
            counts=counts,
            out=None if temporary is not None else out_dir,
        )


#: Added to a sweep's source by :meth:`Sweep.with_`.
CHANGED = " (with changes)"


def load_sweep(path) -> Sweep:
    """Load and validate a sweep file: :meth:`Sweep.from_file`."""
    return Sweep.from_file(path)


def _base_scenario(ref, source: str, folder: Path | None) -> Scenario:
    """The base scenario ``ref`` (a Scenario, or a path relative to ``folder``, or a name)."""
    if isinstance(ref, Scenario):
        return ref
    base_ref = os.fspath(ref)
    base_path = (folder or Path()) / base_ref
    if NAME_PATTERN.fullmatch(base_ref) and not os.path.lexists(base_path):
        base_path = lookup_name(base_ref)  # a scenario's name, not a file beside the sweep
        if base_path is None:
            raise ScenarioError(f"{source}: base = {base_ref!r}: {unknown_name()}")
    try:
        base_path = base_path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL character
        raise ScenarioError(f"{source}: base = {show(base_ref)}: cannot resolve: {exc}") from None
    problem = file_problem(base_path)
    if problem:
        raise ScenarioError(
            f"{source}: base = {base_ref!r}: {problem} ({base_path}); expected a scenario file"
        )
    return load_scenario(base_path)


def _factor(key, entry, spec: SweepSpec, where: str):
    """Check one ``[parameters]`` entry against its registry parameter and the design.

    Returns
    -------
    bounds : (float, float)
        The range (NaN for a list of values).
    grid : tuple or _Range
        The grid values (a range not yet spread; empty for sampled designs).
    kind : str
        The parameter's registry kind.
    """
    if not isinstance(key, str) or key not in REGISTRY:
        unknown_key(where, str(key), entry)
    if key == spec.balance:
        raise ScenarioError(
            f"{where}: {key} = {show(entry)}: the balance share cannot also be varied"
        )
    p = REGISTRY[key]
    if not isinstance(entry, Mapping):
        raise ScenarioError(
            f"{where}: {key} = {show(entry)}: expected {{ values = [...] }} or "
            "{ low = ..., high = ... }"
        )
    extra = [k for k in entry if k not in PARAMETER_KEYS]
    if extra:
        first = min(extra, key=str)
        raise ScenarioError(
            f"{where}: {key}.{first} = {show(entry[first])}: unknown; "
            f"expected {', '.join(PARAMETER_KEYS)}"
        )
    if "values" in entry:
        vals = entry["values"]
        if spec.design != "grid":
            raise ScenarioError(
                f"{where}: {key}.values = {show(vals)}: design {spec.design!r} needs low and high"
            )
        if not isinstance(vals, list | tuple) or not vals:
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
        return (math.nan, math.nan), tuple(checked), p.kind
    if p.kind not in ("float", "int"):
        raise ScenarioError(
            f"{where}: {key} = {show(entry)}: a {p.kind} parameter needs values = [...]"
        )
    lo, hi = entry.get("low"), entry.get("high")
    for label, v in (("low", lo), ("high", hi)):
        _, err = safe_check(p, v)
        if v is None or err:
            raise ScenarioError(
                f"{where}: {key}.{label} = {show(v)}: "
                + (err or f"missing; expected {p.allowed()}")
            )
    if not lo < hi:
        raise ScenarioError(f"{where}: {key}.low = {show(lo)}: must be below high ({hi})")
    if spec.design != "grid":
        return (float(lo), float(hi)), (), p.kind
    lv = entry.get("levels")
    if isinstance(lv, bool) or not isinstance(lv, int) or lv < 2:
        raise ScenarioError(f"{where}: {key}.levels = {show(lv)}: a grid range needs levels >= 2")
    return (float(lo), float(hi)), _Range(lo, hi, lv, p.kind), p.kind  # spread once sized
