"""The folder of a sweep: its fingerprint (``sweep.json``), checked before anything is
written, so that ``--resume`` only ever resumes the same sweep, and locked while it runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario import (
    file_problem,
)

from .runs import RunSpec

if TYPE_CHECKING:
    from .sweep import Sweep


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
    from sim import __version__

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
    from sim.outputs import OutputError

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
    from sim.outputs import check_output_dir, folder_contents

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
    from sim.outputs import FolderLock, OutputError, folder_contents, prepare_output_dir, write_json

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
