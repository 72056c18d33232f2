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
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "OutputError",
    "check_output_dir",
    "unwritable_reason",
    "prepare_output_dir",
    "write_parquet",
    "PARQUET_METADATA",
    "write_json",
    "atomic_path",
    "json_default",
    "build_manifest",
    "software_versions",
    "git_revision",
    "FolderLock",
    "lock_holder",
    "folder_contents",
    "LOCK_NAME",
]


class OutputError(ValueError):
    """The output folder cannot be used (exit code 2)."""


def check_output_dir(path, overwrite: bool = False) -> Path:
    """Check that ``path`` can be used as an output folder, without creating it.

    Refused: an empty path; a path that exists and is not a folder; an existing
    folder that cannot be written (permissions, a read-only or kernel file system such
    as /proc or /sys) or that a live sweep holds (see :class:`FolderLock`); an existing,
    non-empty folder unless ``overwrite``; a path whose nearest existing ancestor is not
    a writable folder.
    """
    if str(path).strip() == "":
        raise OutputError("--out '': empty path; give a folder name")
    if "\0" in str(path):
        raise OutputError(f"--out {str(path)!r}: a NUL character; give a folder name")
    out = Path(path)
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"--out {out}: exists and is not a folder")
        problem = folder_problem(out)
        if problem:
            raise OutputError(f"--out {out}: {problem}; expected a folder you can write to")
        check_not_locked(out)
        try:
            contents = folder_contents(out)
        except OSError as exc:
            raise OutputError(f"--out {out}: cannot list it: {exc.strerror or exc}") from None
        if contents and not overwrite:
            raise OutputError(
                f"--out {out}: folder is not empty; use --overwrite to replace its files"
            )
        return out
    problem = unwritable_reason(out)
    if problem:
        raise OutputError(f"--out {out}: {problem}; expected a folder you can write to")
    return out


def folder_contents(folder) -> list[str]:
    """Names in ``folder``, less the lock file a killed sweep may have left."""
    return [n for n in os.listdir(folder) if n != LOCK_NAME]


def unwritable_reason(path) -> str | None:
    """Why ``path`` (which need not exist) cannot be created, or ``None``.

    Looks at its nearest existing ancestor: it must be a writable folder (see
    :func:`folder_problem`).
    """
    ancestor = Path(path).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    return folder_problem(ancestor)


#: File systems that are the kernel's views (of processes, devices, control groups, ...)
#: and hold no user files, even where their permission bits say writable.
KERNEL_FS = frozenset(
    "proc sysfs cgroup cgroup2 devpts debugfs tracefs securityfs pstore bpf configfs "
    "efivarfs fusectl mqueue binfmt_misc nsfs rpc_pipefs hugetlbfs autofs".split()
)


def folder_problem(folder) -> str | None:
    """Why files cannot be written in the existing ``folder``, or ``None``: not a folder,
    on a kernel or read-only file system, or not writable by this user."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} is not a folder"
    mount = _mount_of(folder)
    if mount is not None:
        point, fstype, options = mount
        if fstype in KERNEL_FS:
            return (
                f"{folder} is on the kernel's {fstype} file system ({point}), which holds no files"
            )
        if "ro" in options:
            return f"{folder} is on a read-only file system ({point})"
    if not _can_write(folder):
        return f"{folder} is not writable (permission denied)"
    return None


def _can_write(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _mount_of(path) -> tuple[str, str, set[str]] | None:
    """(mount point, file-system type, options) of the mount holding ``path``; ``None``
    where the mount table cannot be read (not Linux)."""
    try:
        table = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    real = os.path.realpath(path)
    best = None
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):  # the last mount wins
            best = (point, parts[2], set(parts[3].split(",")))
    return best


def prepare_output_dir(path, overwrite: bool = False) -> Path:
    """Check ``path`` (see :func:`check_output_dir`) and create it."""
    out = check_output_dir(path, overwrite)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create: {exc.strerror or exc}") from None
    return out


#: The lock file of a folder a sweep is writing to.
LOCK_NAME = ".gsim.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FolderLock:
    """An exclusive lock on an output folder, so that two sweeps never write one folder.

    The lock is an ``flock`` on ``FOLDER/.gsim.lock``, a file holding the pid of its
    holder. The kernel releases it when the holder exits however it exits (kill -9
    included), so the lock file a dead process left is stale and is taken over; the
    file is removed when the lock is released. Raises :class:`OutputError` naming the
    pid of a live holder.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        import fcntl

        holder = None
        for _ in range(10):
            try:  # never through a symlink: the file is truncated and written
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | _NOFOLLOW, 0o644)
            except OSError as exc:
                raise OutputError(
                    f"--out {self.folder}: cannot use the lock file {LOCK_NAME}: "
                    f"{exc.strerror or exc}; remove it if no gsim sweep runs there"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held; or just peeked at by lock_holder: try again
                holder = _read_pid(fd)
                os.close(fd)
                time.sleep(0.05)
                continue
            try:  # the file may have been released and removed after it was opened
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)
        raise OutputError(_busy(self.folder, holder))

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: see acquire
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _busy(folder: Path, pid: int | None) -> str:
    who = f"another gsim sweep (pid {pid})" if pid else "another gsim sweep"
    return (
        f"--out {folder}: {who} is writing to this folder; wait for it to finish "
        "or give another --out"
    )


def lock_holder(folder) -> int | None:
    """The pid of the live process holding ``folder``'s lock (0 if it has not written its
    pid yet), or ``None`` (no lock file, or a stale one). Creates nothing."""
    import fcntl

    try:
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | _NOFOLLOW
        fd = os.open(Path(folder) / LOCK_NAME, flags)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or 0
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the shared lock taken when no one held it
    return None


def check_not_locked(folder) -> None:
    """:class:`OutputError` if a live process holds ``folder``'s lock."""
    pid = lock_holder(folder)
    if pid is not None:
        raise OutputError(_busy(Path(folder), pid or None))


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


#: Schema-metadata keys of :func:`write_parquet`: each a JSON object ``{column: value}``.
PARQUET_METADATA = ("gsim.units", "gsim.labels", "gsim.labels_zh", "gsim.kinds")


def write_parquet(df, target) -> Path:
    """Write a DataFrame to Parquet atomically, with its columns' units and labels.

    The index is not written. Count outcomes are stored as integer columns, rounded to
    whole firms, loans or applications (:func:`sim.outcome_registry.whole_counts`). Columns
    that are outcomes
    (:data:`sim.outcome_registry.OUTCOMES`) or parameter keys
    (:data:`sim.parameters.REGISTRY`, the overridden or swept parameters) are described in
    the file's schema metadata, each key a JSON object ``{column: value}``:

    - ``gsim.units``: the unit ("yuan", "fraction", "fraction p.a.", "firms", ...);
    - ``gsim.labels``: the English label (a parameter's description);
    - ``gsim.labels_zh``: the Chinese label (outcomes only);
    - ``gsim.kinds``: flow, stock, ratio or index (outcomes only);

    and each such column's field carries ``unit`` and ``label`` in its own metadata.
    Read them with ``pyarrow.parquet.read_schema(path).metadata``.

    Parameters
    ----------
    df : pandas.DataFrame
    target : path
        The file; written to a temporary name in its folder and renamed into place.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .outcome_registry import whole_counts

    table = pa.Table.from_pandas(whole_counts(df), preserve_index=False)
    meta = _column_metadata([str(c) for c in df.columns])
    schema_meta = dict(table.schema.metadata or {})
    for key in PARQUET_METADATA:
        values = meta[key.removeprefix("gsim.")]
        if values:
            schema_meta[key.encode()] = json.dumps(values, ensure_ascii=False).encode()
    units, labels = meta["units"], meta["labels"]
    fields = [
        f.with_metadata({"unit": units[f.name], "label": labels[f.name]}) if f.name in units else f
        for f in table.schema
    ]
    table = table.cast(pa.schema(fields, metadata=schema_meta))
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return Path(target)


def _column_metadata(columns: list[str]) -> dict[str, dict[str, str]]:
    """Units, labels (English, Chinese) and kinds of the outcome and parameter columns."""
    from .outcome_registry import column_metadata
    from .parameters import REGISTRY

    meta = column_metadata(columns)
    units, labels = {}, {}
    for c in columns:  # in column order, outcomes and parameters mixed
        if c in meta["units"]:
            units[c], labels[c] = meta["units"][c], meta["labels"][c]
        elif c in REGISTRY:
            units[c], labels[c] = REGISTRY[c].unit, REGISTRY[c].description
    return {**meta, "units": units, "labels": labels}


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


def software_versions() -> dict[str, str]:
    """Versions of what a run's results depend on: Python, numpy, Mesa and gsim."""
    import platform

    import numpy as np

    from . import __version__

    mesa = sys.modules.get("mesa")  # a process that ran no model has not imported Mesa (0.4 s)
    if mesa is not None:
        mesa_version = getattr(mesa, "__version__", "unknown")
    else:
        from importlib.metadata import PackageNotFoundError, version

        try:
            mesa_version = version("mesa")
        except PackageNotFoundError:
            mesa_version = "unknown"
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa_version,
        "gsim": __version__,
    }


def git_revision(folder=None) -> dict | None:
    """The git commit of the source checkout gsim runs from, or ``None``.

    Asks git in the package's folder (``folder``, default: the folder of this module),
    and only if git tracks this very module there: an installed copy, even one inside some
    other checkout (a virtual environment in a repository), has no revision. Never fails:
    no git, a timeout or any git error gives ``None``.

    Returns
    -------
    dict or None
        ``{"commit": <40 hex digits>, "dirty": <tracked files differ from the commit>}``.
    """
    import subprocess

    here = Path(__file__).resolve()
    folder = Path(folder) if folder is not None else here.parent

    def git(*args) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=10,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    if git("ls-files", "--error-unmatch", "--", here.name) is None:
        return None
    commit = git("rev-parse", "--verify", "HEAD")
    if commit is None or not re.fullmatch(r"[0-9a-f]{40,64}", commit):
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def build_manifest(scenarios, seed: int, replications: int, started: datetime, **extra) -> dict:
    """Manifest of a run: versions, git revision, command line, seeds, resolved parameters,
    times.

    ``versions`` holds the versions of Python, numpy, Mesa and gsim; ``git`` the commit of
    the source checkout (and whether tracked files differ from it), only when gsim runs
    from a git checkout (see :func:`git_revision`).
    """
    from . import __version__

    revision = git_revision()
    return {
        "package": "guarantee-sim",
        "version": __version__,
        "versions": software_versions(),
        **({"git": revision} if revision is not None else {}),
        "command": sys.argv,
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "seed": seed,
        "replications": replications,
        "seed_rule": "replication k uses numpy.random.SeedSequence(seed, spawn_key=(k,))",
        "scenarios": [s.to_dict() for s in scenarios],
        **extra,
    }


def save_figure(fig, path) -> Path:
    """Save a Matplotlib figure as PNG atomically (used by the plots and by the sensitivity
    analysis, which writes its figure with its tables)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
