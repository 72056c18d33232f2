"""The runs of a sweep: one per (design point, replication), each with its resolved
scenario, seed and identifier, and its file ``runs/<run_id>.parquet``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.adoption import burn_in_values
from sim.parameters import RISK_SHARE_KEYS
from sim.scenario import (
    Scenario,
)

from ..burn_in import burn_in_groups, expecting, shared_burn_ins

if TYPE_CHECKING:
    from .sweep import Sweep


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
    from sim import __version__

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
    from ..replications import run_replication

    return run_replication(spec.scenario, spec.seed, spec.replication)


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

    from sim.outputs import atomic_path, json_default

    if ts is None:
        ts = pd.DataFrame()
    table = pa.Table.from_pandas(ts, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"gsim_summary"] = json.dumps(row, default=json_default).encode()
    table = table.replace_schema_metadata(meta)
    target = _run_path(out, spec.run_id)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def _write_result(out: Path, spec: RunSpec, result=None, error: str | None = None) -> None:
    """Write one run's file: its summary row (identifiers and design values first, then the
    task's row, ``status`` and ``error``) and its monthly series (none for a failed run)."""
    base = _base_row(spec)
    if error is None:
        row, ts = result
        row = {**base, **{k: v for k, v in row.items() if k not in base}}
        row["status"], row["error"] = "ok", ""
    else:
        row, ts = {**base, "status": "failed", "error": error}, None
    _write_run(out, spec, row, ts)


#: Prefix of the marker file by which a worker knows that it sees the sweep folder.
SHARE_MARKER = ".gsim-share-"


def run_group(
    task,
    out_dir: str,
    specs: list[RunSpec],
    marker: str | None = None,
    alone: frozenset[str] = frozenset(),
) -> list[tuple[str | None, bool, Any]]:
    """Run a group of runs where this is called (a worker), writing each run's file there.

    What a worker of :func:`sim.experiments.sweeps.execute` runs: the runs one after the
    other, each with its own seed (the grouping changes no result), each file written
    atomically as soon as its run ends. A run that raises is written as failed, with its
    error, and the group goes on; so is a run whose file could not be written (then a
    second failure to write propagates).

    A worker that does not see the sweep folder (a Dask worker on another machine without
    a shared disk: no file ``runs/<marker>`` under ``out_dir`` here) writes nothing and
    sends each run's results back for the parent to write.

    Parameters
    ----------
    task : callable
        ``task(spec) -> (summary_row, timeseries or None)``.
    out_dir : str
        The sweep folder (``runs/`` in it exists), as the parent names it.
    specs : list of RunSpec
    marker : str, optional
        Name of the marker file the parent put in ``runs/``; None: the folder is shared.
    alone : frozenset of str
        Run ids of the runs that share their first months with no other run of the sweep
        (a :func:`share_groups` group of one; :func:`~sim.experiments.burn_in.expecting`:
        no model kept, no copy paid).

    Returns
    -------
    list of (error, written, result)
        Per run, in order: ``error`` is None for a run that succeeded, else its error line;
        ``written`` whether this worker wrote the run's file, and then ``result`` is None
        (nothing heavier travels back), else the task's ``(summary_row, timeseries)`` (None
        for a failed run) for the parent to write.
    """
    with shared_burn_ins():  # the runs of one replication compute their first months once
        return _run_group(task, Path(out_dir), specs, marker, alone)


def _run_group(task, out: Path, specs: list[RunSpec], marker: str | None, alone: frozenset):
    shared = marker is None or (out / "runs" / marker).is_file()
    done: list[tuple[str | None, bool, Any]] = []
    for spec in specs:
        try:
            with expecting(spec.run_id not in alone):
                result, error = task(spec), None
        except Exception as exc:  # noqa: BLE001 - a failing run is recorded, not fatal
            result, error = None, f"{type(exc).__name__}: {exc}"
        if not shared:
            done.append((error, False, result))
            continue
        if error is None:
            try:
                _write_result(out, spec, result)
            except Exception as exc:  # noqa: BLE001 - e.g. a row that does not serialise
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            _write_result(out, spec, error=error)
        done.append((error, True, None))
    return done


def share_groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """The runs grouped by the first months they share (the same
    :func:`~sim.experiments.burn_in.burn_in_key`: one replication of design points that
    differ only in measures), in order of first appearance; a spec without a scenario (a
    task other than the model) is a group of its own."""
    keys: dict[int, Any] = {}  # the scenario's key part, once per design point

    def key(spec: RunSpec):
        if spec.scenario is None:
            return spec.run_id
        if id(spec.scenario) not in keys:
            keys[id(spec.scenario)] = burn_in_values(spec.scenario.values)
        return keys[id(spec.scenario)], spec.seed, spec.replication

    groups = burn_in_groups([key(spec) for spec in specs])
    return [[specs[i] for i in group] for group in groups]


def _base_row(spec: RunSpec) -> dict:
    """The columns every run's summary row starts with: identifiers and design values
    (list values comma-joined, as :func:`sim.experiments.replications.run_replication`
    writes them)."""
    from ..replications import param_columns

    return {
        "point": spec.point,
        "replication": spec.replication,
        "seed": spec.seed,
        "run_id": spec.run_id,
        **param_columns(spec.values),
    }
