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
executor). Each finished run is written atomically as
``runs/<run_id>.parquet`` (its monthly series, with its summary row in the file
metadata), where ``run_id`` hashes the run's resolved parameters, seed,
replication and the model version; ``--resume`` skips runs whose file exists
and succeeded. A run that raises is recorded with its error and the sweep goes
on. A final merge writes ``summary.parquet`` (one row per run),
``timeseries.parquet`` and ``design.parquet``.

Validation: the keys of a sweep file are declared by :class:`SweepSpec` (each field's
:class:`Key`: type, bounds, choices, whether it is required) and checked generically by
:func:`check_keys`; each ``[parameters]`` entry (:class:`ParameterSpec`) is checked
against its parameter in the registry. Every problem is one :class:`ScenarioError` line
naming the file, the key, the value and what is allowed.
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
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
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
    "SweepResult",
    "SweepSpec",
    "ParameterSpec",
    "Key",
    "key_field",
    "check_keys",
    "SweepOptionError",
    "RunSpec",
    "load_sweep",
    "plan_runs",
    "execute",
    "merge",
    "model_task",
    "SweepExecutor",
    "check_scheduler",
    "check_run_options",
    "default_workers",
    "fingerprint",
    "check_sweep_folder",
    "sweep_folder",
    "MAX_RUNS",
]

DESIGNS = ("grid", "lhs", "sobol", "morris")


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


def _bytes(n: int) -> str:
    """A size in bytes, KiB, ..., PiB; whole PiB above 1024 PiB (exact, however large)."""
    if n >= 1024**6:  # a float would overflow for the sizes of absurd designs
        return f"{int(n) // 1024**5:,} PiB"
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


# ============================================================================ the schema
@dataclass(frozen=True)
class Key:
    """How one key of a sweep file is checked: declared as the metadata of a field of
    :class:`SweepSpec`, checked by :func:`check_keys`.

    Attributes
    ----------
    rule : str
        What is allowed, as the one-line message says it after the key and its value
        (``"expected an integer in [1, 100000]"``). ``{name}`` fields are filled in with the
        values of the keys checked before it (``{design!r}``).
    types : tuple of type
        Types the value may have; ``bool`` is an integer only where it is listed.
    required : bool or callable
        Whether the key must be given; a callable decides from the keys checked before it
        (a dict of their values).
    low, high : int, optional
        Inclusive bounds of a number.
    choices : tuple or callable, optional
        The allowed values; a callable returns them (for lists imported on first use).
    nonempty : bool
        A list or table must not be empty.
    items : callable, optional
        Returns the allowed items of a list; another item is refused with ``item_rule``.
    item_rule : str
        What is wrong with an item not in ``items()``.
    """

    rule: str
    types: tuple[type, ...] = (object,)
    required: bool | Callable[[dict], bool] = False
    low: int | None = None
    high: int | None = None
    choices: tuple | Callable[[], tuple] = ()
    nonempty: bool = False
    items: Callable[[], Iterable] | None = None
    item_rule: str = ""

    def allows(self, value) -> bool:
        """Whether ``value`` has an allowed type, lies in the bounds and is a choice."""
        if not isinstance(value, self.types) or (
            isinstance(value, bool) and bool not in self.types
        ):
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        choices = self.choices() if callable(self.choices) else self.choices
        if choices and value not in choices:
            return False
        return not (self.nonempty and len(value) == 0)

    def check(self, where: str, name: str, value, before: dict) -> None:
        """Raise the one-line :class:`ScenarioError` unless ``value`` is allowed.

        Parameters
        ----------
        where : str
            The file (or sweep) the key belongs to, first in the message.
        name : str
            The key as the message names it.
        value : Any
        before : dict
            Values of the keys checked before (for ``{name}`` fields of the rule).
        """
        if not self.allows(value):
            raise ScenarioError(f"{where}: {name} = {show(value)}: {self.rule.format_map(before)}")
        if self.items is not None:
            allowed = self.items()
            for item in value:
                if item not in allowed:
                    raise ScenarioError(f"{where}: {name} = {show(item)}: {self.item_rule}")

    def missing(self, where: str, name: str, before: dict) -> None:
        """Raise the one-line :class:`ScenarioError` if the key is required but absent."""
        required = self.required(before) if callable(self.required) else self.required
        if required:
            raise ScenarioError(f"{where}: {name}: missing; {self.rule.format_map(before)}")


def key_field(default=None, *, factory=None, **rules) -> Any:
    """A dataclass field for a schema checked by :func:`check_keys`.

    Parameters
    ----------
    default : Any
        The value of an absent key.
    factory : callable, optional
        Makes the value of an absent key (a mutable default such as ``dict``).
    **rules
        The arguments of its :class:`Key` (``rule``, ``types``, ``low``, ...).

    Returns
    -------
    dataclasses.Field
    """
    meta = {"key": Key(**rules)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def check_keys(
    schema: type,
    data: Mapping,
    where: str,
    unknown: Callable[[str, Any], None],
    after: Mapping[str, Callable[[dict], None]] | None = None,
):
    """Check a table against the keys that the fields of a dataclass declare.

    Every key of ``data`` must be a field of ``schema`` (else ``unknown(key, value)``
    raises); then each field is checked in its declared order by its :class:`Key`: given,
    its value must be allowed; absent, it must not be required.

    Parameters
    ----------
    schema : type
        A dataclass whose fields carry a :class:`Key` as ``metadata["key"]``.
    data : mapping
        The table (a parsed TOML file, or keyword arguments).
    where : str
        The file (or sweep) named first in messages.
    unknown : callable
        ``unknown(key, value)`` raises the message for a key ``schema`` does not declare.
    after : dict, optional
        ``{field: check}``: ``check(values)`` runs once ``field`` is checked, with the
        values checked so far (a check that needs several keys, such as loading the base
        scenario with its overrides, before the keys after them are checked).

    Returns
    -------
    schema
        An instance holding the given values (the declared defaults for the others).

    Raises
    ------
    ScenarioError
        One line naming ``where``, the key, its value and what is allowed.
    """
    declared = fields(schema)
    names = {f.name for f in declared}
    for name, value in data.items():
        if name not in names:
            unknown(name, value)
    before: dict[str, Any] = {}
    for f in declared:
        key: Key = f.metadata["key"]
        if f.name in data:
            key.check(where, f.name, data[f.name], before)
            before[f.name] = data[f.name]
        else:
            key.missing(where, f.name, before)
            before[f.name] = f.default_factory() if f.default is MISSING else f.default
        if after and f.name in after:
            after[f.name](before)
    return schema(**{name: before[name] for name in data})


def _summary_fields() -> tuple[str, ...]:
    from .outcomes import SUMMARY_FIELDS  # pandas: imported when a file names outcomes

    return SUMMARY_FIELDS


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep file declares: one field per top-level key, each with its type and its
    allowed values (a :class:`Key`), checked in this order by :func:`check_keys`.

    The values are those written (``base`` as written, relative to the sweep file); a
    :class:`Sweep` resolves them (loads the base scenario, makes the design). Keyword
    arguments of :class:`Sweep` and of :meth:`Sweep.with_` have the same names.

    Attributes
    ----------
    base : str, Path or Scenario
        Required: the base scenario (a path relative to the sweep file, or a name).
    design : {"grid", "lhs", "sobol", "morris"}
    replications : int
        In [1, 100000].
    seed : int
        In [0, 2**63 - 1].
    samples : int or None
        In [1, 1000000]; required by the sampled designs.
    levels : int
        Morris levels, in [2, 100].
    description : str
    outcomes : list of str
        Outcomes of :data:`sim.SUMMARY_FIELDS`, at least one.
    set : mapping
        Fixed overrides of the base scenario, checked against the registry.
    balance : str or None
        One of the risk shares.
    parameters : mapping
        Required, not empty: each entry a :class:`ParameterSpec`.
    """

    base: str | os.PathLike | Scenario | None = key_field(
        rule="expected the base scenario file (a path relative to the sweep file, or a name)",
        types=(str, os.PathLike, Scenario),
        required=True,
    )
    design: str = key_field(
        "grid",
        rule="expected one of " + ", ".join(map(repr, DESIGNS)),
        types=(str,),
        choices=DESIGNS,
    )
    replications: int = key_field(
        1, rule="expected an integer in [1, 100000]", types=(int,), low=1, high=100_000
    )
    seed: int = key_field(
        0, rule="expected an integer in [0, 2**63 - 1]", types=(int,), low=0, high=MAX_SEED
    )
    samples: int | None = key_field(
        rule="expected an integer in [1, 1000000] for design {design!r}",
        types=(int,),
        low=1,
        high=10**6,
        required=lambda before: before["design"] != "grid",
    )
    levels: int = key_field(
        4, rule="expected an integer in [2, 100]", types=(int,), low=2, high=100
    )
    description: str = key_field("", rule="expected a string", types=(str,))
    outcomes: list | tuple = key_field(
        ("lending_volume",),
        rule="expected a list of outcomes",
        types=(list, tuple),
        nonempty=True,
        items=_summary_fields,
        item_rule="unknown outcome; see sim.SUMMARY_FIELDS",
    )
    set: Mapping = key_field(factory=dict, rule="expected a table of KEY = VALUE", types=(Mapping,))
    balance: str | None = key_field(
        rule="expected one of " + ", ".join(RISK_SHARE_KEYS),
        types=(str,),
        choices=RISK_SHARE_KEYS,
    )
    parameters: Mapping | None = key_field(
        rule="expected a table of parameters to vary",
        types=(Mapping,),
        required=True,
        nonempty=True,
    )

    def given(self) -> dict[str, Any]:
        """The keys with a value (``None`` stands for an absent ``samples`` or ``balance``)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


#: The top-level keys of a sweep file, in the order they are checked.
TOP_KEYS = tuple(f.name for f in fields(SweepSpec))


@dataclass(frozen=True)
class ParameterSpec:
    """One entry of a sweep file's ``[parameters]`` table (its keys, all optional).

    Attributes
    ----------
    values : list, optional
        The values of a grid factor (a grid design only); each is checked against the
        parameter's registry entry.
    low, high : number, optional
        A range (without ``values``); both within the parameter's allowed range, low below
        high. Sampled designs draw in it; a grid spreads ``levels`` values over it.
    levels : int, optional
        Values of a grid range (at least 2).
    """

    values: list | None = None
    low: float | None = None
    high: float | None = None
    levels: int | None = None


#: The keys of a ``[parameters]`` entry.
PARAMETER_KEYS = tuple(f.name for f in fields(ParameterSpec))


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
            A Dask scheduler's address (``tcp://HOST:PORT``) instead of ``workers``.
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

        from .outcomes import SUMMARY_FIELDS
        from .outputs import build_manifest, write_json, write_parquet

        scheduler = check_run_options(workers, scheduler)
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
            stack.enter_context(
                sweep_folder(out_dir, record, specs, resume=resume, overwrite=overwrite)
            )
            bar = _progress_bar(progress, len(specs), f"sweep {self.name}")
            if bar is not None:
                stack.enter_context(bar)
            counts = execute(
                specs,
                model_task,
                out_dir,
                pool.executor,
                resume=resume,
                window=2 * pool.workers,
                progress=_progress_callback(progress, bar),
                rebuild=pool.rebuild,
            )
            if bar is not None and counts["skipped"]:
                bar.update(counts["skipped"])
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
    sc = sweep.base.with_overrides(vals, source=f"{sweep.source} point {index}")
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


# ============================================================================ options
class SweepOptionError(ValueError):
    """An option of :meth:`Sweep.run` is invalid (``workers``, ``scheduler``, ``resume``
    without ``out``), or the scheduler cannot be reached: one line, exit code 2 in the
    command line."""


#: Schemes of a Dask scheduler address that ``scheduler`` (``--scheduler``) accepts.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")


def default_workers() -> int:
    """Local workers of a sweep by default: the CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_scheduler(address: str) -> str:
    """Parse a Dask scheduler address: ``SCHEME://HOST:PORT``, or ``HOST:PORT`` for tcp.

    Returns
    -------
    str
        The address with its scheme, without a trailing ``/``.

    Raises
    ------
    SweepOptionError
        One line naming the address and the allowed form.
    """
    from urllib.parse import urlsplit

    allowed = (
        "expected a Dask scheduler address SCHEME://HOST:PORT with SCHEME one of "
        + ", ".join(SCHEDULER_SCHEMES)
        + ", e.g. tcp://127.0.0.1:8786"
    )
    text = address.strip()
    if "://" not in text:
        text = "tcp://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or not text.isprintable()
        or parts.scheme not in SCHEDULER_SCHEMES
        or not parts.hostname
        or not re.fullmatch(r"[A-Za-z0-9._:%-]+", parts.hostname)
        or port is None
        or not 1 <= port <= 65535
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise SweepOptionError(f"--scheduler {address!r}: {allowed}")
    return text.rstrip("/")


def check_run_options(workers: int | None, scheduler: str | None) -> str | None:
    """Check the executor options of :meth:`Sweep.run` before anything is made.

    Returns
    -------
    str or None
        The parsed scheduler address (:func:`check_scheduler`).

    Raises
    ------
    SweepOptionError
        A bad address, ``workers`` not a positive integer, or both given.
    """
    if scheduler is not None:
        scheduler = check_scheduler(scheduler)
        if workers:
            raise SweepOptionError("--workers and --scheduler exclude each other")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise SweepOptionError(
            f"--workers {workers!r}: expected a positive integer (None: every CPU)"
        )
    return scheduler


def _progress_bar(progress, total: int, desc: str):
    """A tqdm bar on stderr for ``progress=True`` (shown only on a terminal), else None."""
    if progress is not True:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", disable=None, file=sys.stderr)


def _progress_callback(progress, bar) -> Callable[[bool], None] | None:
    """What :func:`execute` calls after each run: the bar's update, or the user's callable."""
    if bar is None:
        return progress if callable(progress) else None
    failures = 0

    def update(ok: bool) -> None:
        nonlocal failures
        failures += not ok
        bar.update(1)
        bar.set_postfix(failed=failures)

    return update


class SweepExecutor:
    """The executor a sweep runs on, rebuildable after a worker process dies.

    Parameters
    ----------
    workers : int
        Local workers: 1 runs in this process, more a local process pool.
    scheduler : str, optional
        A Dask scheduler's address (``tcp://HOST:PORT``, see :func:`check_scheduler`);
        it must answer (checked fast, before the Dask client's own 20 s timeout).

    Attributes
    ----------
    executor : concurrent.futures.Executor
        In-process (one worker), a local process pool, or a Dask client's executor.
    workers : int
        Number of workers (for the submission window).

    Raises
    ------
    SweepOptionError
        The ``dask`` extra is missing, or the scheduler cannot be reached.
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None):
        self.client = None
        if scheduler:
            self.client = _dask_client(check_scheduler(scheduler))
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


def _dask_client(scheduler: str):
    """A Dask client of ``scheduler``; :class:`SweepOptionError` if it does not answer."""
    import importlib.util
    import socket
    from urllib.parse import urlsplit

    if importlib.util.find_spec("distributed") is None:
        raise SweepOptionError(
            f"--scheduler {scheduler}: needs the dask extra (pip install -e '.[dask]')"
        )
    parts = urlsplit(scheduler)
    try:  # fail fast (a refused connection) before the client's own 20 s timeout
        socket.create_connection((parts.hostname, parts.port), timeout=10).close()
    except OSError as exc:
        raise SweepOptionError(
            f"--scheduler {scheduler}: cannot connect: {exc.strerror or exc}; expected "
            "the address of a running Dask scheduler (dask scheduler)"
        ) from None
    from distributed import Client

    try:
        return Client(scheduler, timeout="20s")
    except (OSError, ValueError) as exc:
        raise SweepOptionError(
            f"--scheduler {scheduler}: cannot connect: {exc}; expected the address of a "
            "running Dask scheduler (dask scheduler)"
        ) from None


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
        "sweep_file": sweep.source,
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


# ============================================================================ results
@dataclass(frozen=True, repr=False)
class SweepResult:
    """The merged results of :meth:`Sweep.run`.

    Attributes
    ----------
    sweep : Sweep
        The sweep that ran.
    summary : pandas.DataFrame
        One row per run in (point, replication) order: ``point``, ``replication``,
        ``seed``, ``run_id``, the design values (and the balancing share), ``scenario``,
        the ``set`` overrides, the outcomes of :data:`sim.SUMMARY_FIELDS`, ``status``
        (``ok``, ``failed`` or ``missing``) and ``error``; as ``summary.parquet``.
    timeseries : pandas.DataFrame
        The monthly series of every successful run, with ``point`` and ``replication``;
        as ``timeseries.parquet``.
    design : pandas.DataFrame
        One row per design point: ``point`` and the values of the varied parameters; as
        ``design.parquet``.
    counts : dict
        Runs: ``total``, ``skipped`` (already finished, with ``resume``), ``ok``, ``failed``.
    out : Path or None
        The sweep folder (None for a temporary one, already removed).
    """

    sweep: Sweep
    summary: Any
    timeseries: Any
    design: Any
    counts: dict
    out: Path | None = None

    def __repr__(self) -> str:
        c = self.counts
        where = f"; in {self.out}" if self.out is not None else ""
        return (
            f"<SweepResult {self.sweep.source}: {c['total']} runs, {c['ok']} ran, "
            f"{c['skipped']} already finished, {c['failed']} failed{where}>"
        )

    @property
    def failed(self):
        """The summary rows of the runs that did not succeed (``status`` other than ok)."""
        return self.summary[self.summary["status"] != "ok"]

    def sensitivity(self, outcomes: str | Iterable[str] | None = None):
        """Sobol or Morris sensitivity indices, on the mean over replications of each point.

        Parameters
        ----------
        outcomes : str or list of str, optional
            Outcomes to analyse; default the sweep's ``outcomes``.

        Returns
        -------
        pandas.DataFrame
            One row per (outcome, parameter): ``outcome``, ``parameter``, ``method``, then
            ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (Sobol) or ``mu_star``,
            ``mu_star_conf``, ``sigma`` (Morris); ``*_conf`` are half-widths of 95%
            bootstrap intervals (see :func:`sim.sensitivity.analyze`). What ``gsim
            sensitivity`` writes to ``sensitivity.parquet``.

        Raises
        ------
        ValueError
            The design is not sobol or morris, an outcome is not a column of the summary,
            or a design point has no successful run with a finite value.
        """
        import numpy as np
        import pandas as pd

        from .sensitivity import analyze, point_means

        sw = self.sweep
        if sw.design.method not in ("sobol", "morris"):
            raise ValueError(
                f"{sw.source}: design = {sw.design.method!r}: sensitivity analysis needs a "
                "'sobol' or 'morris' design"
            )
        if outcomes is None:
            outcomes = sw.outcomes
        elif isinstance(outcomes, str):
            outcomes = (outcomes,)
        x = np.array(sw.design.matrix(), dtype=float)
        tables = []
        for o in outcomes:
            if o not in self.summary:
                raise ValueError(f"outcome {o!r}: not in the summary; see sim.SUMMARY_FIELDS")
            y = point_means(self.summary, o, x.shape[0])
            tables.append(analyze(sw.design, x, y, o, seed=sw.seed))
        return pd.concat(tables, ignore_index=True)
