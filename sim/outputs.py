"""The output contract: Parquet tables and a manifest, written atomically.

``--out DIR`` receives ``summary.parquet`` (one row per scenario and
replication), ``timeseries.parquet`` (one row per scenario, replication and
month), ``manifest.json`` and, for comparisons, PNG figures. Every file is
written to a temporary name in the same folder and renamed into place, so an
interrupted command never leaves a half-written file under a final name.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "OutputError",
    "check_output_dir",
    "unwritable_reason",
    "prepare_output_dir",
    "write_parquet",
    "write_json",
    "atomic_path",
    "json_default",
    "build_manifest",
]


class OutputError(ValueError):
    """The output folder cannot be used (exit code 2)."""


def check_output_dir(path, overwrite: bool = False) -> Path:
    """Check that ``path`` can be used as an output folder, without creating it.

    Refused: an empty path; a path that exists and is not a folder; an existing,
    non-empty folder unless ``overwrite``; a path whose nearest existing ancestor
    is not a writable folder.
    """
    if str(path).strip() == "":
        raise OutputError("--out '': empty path; give a folder name")
    out = Path(path)
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"--out {out}: exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise OutputError(
                f"--out {out}: folder is not empty; use --overwrite to replace its files"
            )
        return out
    problem = unwritable_reason(out)
    if problem:
        raise OutputError(f"--out {out}: {problem}")
    return out


def unwritable_reason(path) -> str | None:
    """Why ``path`` (which need not exist) cannot be created, or ``None``.

    Looks at its nearest existing ancestor: it must be a writable folder.
    """
    ancestor = Path(path).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor} is not writable"
    return None


def prepare_output_dir(path, overwrite: bool = False) -> Path:
    """Check ``path`` (see :func:`check_output_dir`) and create it."""
    out = check_output_dir(path, overwrite)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create: {exc.strerror or exc}") from None
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


class atomic_path:  # noqa: N801 - used as a context manager, like open()
    """Context manager yielding a temporary path that is renamed to ``target`` on success.

    The file gets mode ``0o666`` less the umask, or with ``keep_mode`` the permission
    bits of an existing ``target``. On failure the temporary file is removed.
    """

    def __init__(self, target, *, keep_mode: bool = False):
        self.target = Path(target)
        self.keep_mode = keep_mode

    def __enter__(self) -> Path:
        fd, tmp = tempfile.mkstemp(
            dir=self.target.parent, prefix=f".{self.target.name}.", suffix=".part"
        )
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return False
        try:
            mode = _FILE_MODE  # mkstemp creates 0600; results are for sharing
            if self.keep_mode and self.target.exists():
                mode = self.target.stat().st_mode & 0o777
            os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.target)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        return False


def write_parquet(df, target) -> Path:
    """Write a DataFrame to Parquet atomically."""
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(target)


def write_json(obj, target) -> Path:
    """Write JSON atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=json_default, ensure_ascii=False))
    return Path(target)


def json_default(o):
    """``default`` of :func:`json.dumps`: numpy scalars as Python numbers, anything else as str."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def build_manifest(scenarios, seed: int, replications: int, started: datetime, **extra) -> dict:
    """Manifest of a run: version, command line, seeds, resolved parameters, times."""
    from . import __version__

    return {
        "package": "guarantee-sim",
        "version": __version__,
        "command": sys.argv,
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "seed": seed,
        "replications": replications,
        "seed_rule": "replication k uses numpy.random.SeedSequence(seed, spawn_key=(k,))",
        "scenarios": [s.to_dict() for s in scenarios],
        **extra,
    }
