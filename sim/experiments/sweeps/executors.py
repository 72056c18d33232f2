"""Running a sweep's runs: the run options (``workers``, ``scheduler``), the executor
(in-process, a local process pool, a Dask client) and :func:`execute`, which groups the runs
into tasks whose workers write each finished run as it comes."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..burn_in import shared_burn_ins
from .runs import (
    SHARE_MARKER,
    RunSpec,
    _finished_ok,
    _run_path,
    _write_result,
    run_group,
    share_groups,
)


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


def prepare_run(workers: int | None, scheduler: str | None) -> str | None:
    """:func:`check_run_options`, then start the local pool's fork server at once when the
    run will need one (more than one local worker): it imports the model for the workers
    while the caller goes on (loading the sweep, planning). Returns the scheduler address."""
    scheduler = check_run_options(workers, scheduler)
    if scheduler is None and (workers or default_workers()) > 1:
        from ..pool import start_worker_server

        start_worker_server()
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
            return self.client.get_executor(pure=False)  # no hashing of the runs
        from ..pool import make_executor

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


def plan_groups(
    n: int, window: int, group: int | None = None, blocks: list[int] | None = None
) -> list[int]:
    """Sizes of the tasks that ``n`` runs are grouped into (in order; they sum to ``n``).

    ``group`` fixes the size (the last task takes what is left). By default the sizes are
    guided: each task takes about ``1 / (2 window)`` of the runs still to submit (about four
    tasks per worker in flight, with ``window`` twice the workers), so that the tasks are
    few and large at first and small at the end, and no worker waits long for the last one.

    ``blocks`` (sizes of consecutive runs that share their first months: one replication of
    every design point, :mod:`sim.experiments.burn_in`) keeps such runs together: a task
    takes whole blocks, as many as fit its guided size (at least one), and a block is cut
    only where it is larger than the first task's guided size. The grouping decides where a
    run is computed, never its result.
    """
    if blocks is None:
        blocks = [1] * n
    if sum(blocks) != n:
        raise ValueError(f"blocks sum to {sum(blocks)}, expected {n}")
    cut = -(-n // (2 * max(1, window)))  # a block larger than the first task is cut
    rest = [[b, b > cut] for b in blocks if b > 0]  # [runs left, cut into pieces]
    sizes, left = [], n
    while left > 0:
        if group:
            size = min(group, left)
        else:
            target = -(-left // (2 * max(1, window)))
            if rest[0][1]:  # a large block: guided pieces of it
                size = min(target, rest[0][0])
                rest[0][0] -= size
            else:  # whole blocks, as many as fit the guided size (at least one)
                size = rest[0][0]
                rest[0][0] = 0
                while len(rest) > 1 and not rest[1][1] and size + rest[1][0] <= target:
                    rest.pop(0)
                    size += rest[0][0]
                    rest[0][0] = 0
            if rest[0][0] == 0:
                rest.pop(0)
        sizes.append(size)
        left -= size
    return sizes


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
    group: int | None = None,
    skipped: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Run ``specs`` through ``executor``; the workers write each finished run atomically.

    The runs are grouped into tasks (:func:`plan_groups`); a worker runs a task's runs one
    after the other and writes each run's file itself (:func:`~.runs.run_group`), so only
    a line per run (its error, if any) travels back. A worker that does not see
    ``out_dir`` under the same path (a Dask worker on another machine without a shared
    disk; told by a marker file in ``runs/`` while this runs) sends its runs' results
    back instead, and they are written here.

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
        Tasks in flight at a time (at least the number of workers).
    progress : callable, optional
        Called with ``ok`` (bool) for each finished run.
    rebuild : callable, optional
        Returns a fresh executor after a worker process died (a local process pool
        breaks as a whole). The runs that were in flight are then retried one at a
        time, so that only the run that kills its worker is recorded as failed.
    group : int, optional
        Runs per task; default guided sizes (:func:`plan_groups`), one run a task on an
        in-process executor. Results do not depend on it.
    skipped : callable, optional
        Called once, before any run, with the number of runs ``resume`` skips.

    Returns
    -------
    dict
        Counts: ``total``, ``skipped``, ``ok``, ``failed``.
    """
    import secrets

    out = Path(out_dir).absolute()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for stale in (*(out / "runs").glob(".*.part"), *(out / "runs").glob(SHARE_MARKER + "*")):
        stale.unlink(missing_ok=True)
    marker = SHARE_MARKER + secrets.token_hex(8)  # a worker that sees it writes the files
    (out / "runs" / marker).touch()
    try:
        return _execute(
            specs, task, out, executor, marker, resume, window, progress, rebuild, group, skipped
        )
    finally:
        (out / "runs" / marker).unlink(missing_ok=True)


def plan_tasks(
    shares: list[list[RunSpec]], window: int, group: int | None = None
) -> list[list[RunSpec]]:
    """The runs grouped into tasks, given as their :func:`~.runs.share_groups` (one
    replication of every design point that shares its first months,
    :mod:`sim.experiments.burn_in`), so that such runs meet in a task: :func:`plan_groups`
    with those blocks."""
    todo = [spec for share in shares for spec in share]
    groups, start = [], 0
    for size in plan_groups(len(todo), window, group, [len(share) for share in shares]):
        groups.append(todo[start : start + size])
        start += size
    return groups


def _execute(specs, task, out, executor, marker, resume, window, progress, rebuild, group, skipped):
    """:func:`execute` in the prepared folder ``out`` (with the marker file ``marker``)."""
    from concurrent.futures.process import BrokenProcessPool

    from ..pool import InProcessExecutor

    todo = []
    for spec in specs:
        if not (resume and _finished_ok(_run_path(out, spec.run_id))):
            todo.append(spec)
    counts = {"total": len(specs), "skipped": len(specs) - len(todo), "ok": 0, "failed": 0}
    if skipped is not None:
        skipped(counts["skipped"])
    current = {"executor": executor}
    if isinstance(executor, InProcessExecutor):  # a task runs when submitted: one at a time
        group, window = group or 1, 1
    shares = share_groups(todo)
    groups = plan_tasks(shares, window, group)
    alone = frozenset(share[0].run_id for share in shares if len(share) == 1)

    def record(spec: RunSpec, error: str | None) -> None:
        counts["ok" if error is None else "failed"] += 1
        if progress:
            progress(error is None)

    def lost(specs_: list[RunSpec], error: str) -> None:
        """A task raised as a whole: its runs without a finished file are failed."""
        for spec in specs_:
            path = _run_path(out, spec.run_id)
            if _finished_ok(path):
                record(spec, None)
            else:
                _write_result(out, spec, error=error)
                record(spec, error)

    def drain(queue, size: int) -> list[RunSpec] | None:
        """Run the queue of groups; the runs in flight if the pool broke, else None."""
        pending: dict[cf.Future, list[RunSpec]] = {}
        while True:
            while len(pending) < max(1, size):
                batch = next(queue, None)
                if batch is None:
                    break
                try:
                    ids = alone.intersection(spec.run_id for spec in batch)
                    fut = current["executor"].submit(run_group, task, str(out), batch, marker, ids)
                except BrokenProcessPool:
                    return [s for b in (*pending.values(), batch) for s in b]
                pending[fut] = batch
            if not pending:
                return None
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                try:
                    done_runs = fut.result()
                except BrokenProcessPool:
                    return [s for b in pending.values() for s in b]
                except Exception as exc:  # noqa: BLE001 - a failing task is recorded, not fatal
                    lost(pending.pop(fut), f"{type(exc).__name__}: {exc}")
                    continue
                for spec, (error, written, result) in zip(pending.pop(fut), done_runs, strict=True):
                    if not written:  # a worker that does not see the folder sends runs back
                        _write_result(out, spec, result, error)
                    record(spec, error)

    queue = iter(groups)
    with contextlib.ExitStack() as stack:
        if isinstance(executor, InProcessExecutor):  # tasks of one run: share across them
            stack.enter_context(shared_burn_ins())
        while (suspects := drain(queue, window)) is not None:
            if rebuild is None:
                raise BrokenProcessPool("a worker process died; no executor to rebuild")
            current["executor"] = rebuild()
            for spec in suspects:  # one at a time: find the run that kills its worker
                if drain(iter([[spec]]), 1) is not None:
                    error = "BrokenProcessPool: the worker process died during this run"
                    _write_result(out, spec, error=error)
                    record(spec, error)
                    current["executor"] = rebuild()
    return counts
