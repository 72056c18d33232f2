"""The local process pool that runs replications and sweeps: light to import.

:func:`start_worker_server` starts the fork server that imports the model once for the pool
workers; this module imports nothing heavy itself (no numpy, pandas or model), so that a
command can start the fork server at once and import what it needs itself while the server
does the same on another core.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
import threading
import time

__all__ = [
    "make_executor",
    "start_worker_server",
    "InProcessExecutor",
    "exit_with_parent",
    "import_in_background",
]


class InProcessExecutor(cf.Executor):
    """An executor that runs each task in the calling process when submitted."""

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - recorded on the future
            fut.set_exception(exc)
        return fut


#: Modules the fork server of :func:`make_executor` imports before it forks the workers.
WORKER_PRELOAD = (
    "sim.model",
    "sim.experiments.replications",
    "sim.experiments.sweeps.runs",
    "sim.outputs",
    "pandas",
    "pyarrow.parquet",
    "pyarrow.pandas_compat",
)


def start_worker_server():
    """Start the fork server of the local process pools now, if it is not running.

    The fork server imports :data:`WORKER_PRELOAD` once (in its own process, while this
    one goes on); each pool worker is a fork of it, already warm, instead of importing
    numpy, pandas, pyarrow and the model on its first task. Call it as early as a pool is
    known to be needed; :func:`make_executor` calls it too (then it returns at once).

    Returns
    -------
    multiprocessing.context.ForkServerContext
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return ctx


def make_executor(workers: int) -> cf.Executor:
    """A local process pool for ``workers > 1``, an :class:`InProcessExecutor` otherwise.

    The pool's workers exit when the process that made the pool dies, even by kill -9
    (see :func:`exit_with_parent`); the runs a worker makes share burn-ins
    (:func:`sim.experiments.burn_in.share_burn_ins_here`). They are forks of a fork server
    that has imported :data:`WORKER_PRELOAD` (the model, pandas, pyarrow) once.
    """
    if workers <= 1:
        return InProcessExecutor()
    ctx = start_worker_server()
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )


def _init_worker(parent: int) -> None:
    """Pool-worker initializer: exit with the parent (:func:`exit_with_parent`), and share
    burn-ins between all the runs this worker makes (:mod:`sim.experiments.burn_in`)."""
    exit_with_parent(parent)
    from .burn_in import share_burn_ins_here

    share_burn_ins_here()


def import_in_background(*modules: str) -> threading.Thread:
    """Import ``modules`` in a daemon thread of this process, and return the thread.

    For a parent that waits on its pool's workers and later needs heavy modules itself
    (pandas and pyarrow to merge a sweep's run files): their import then overlaps the wait
    instead of following it. An import the caller makes meanwhile waits for the thread's
    (Python's import locks); an import error is left for the caller's own import to raise.
    """

    def load() -> None:
        import importlib

        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the caller's own import reports it
                return

    thread = threading.Thread(target=load, name="gsim-import", daemon=True)
    thread.start()
    return thread


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Pool-worker initializer: exit when process ``parent`` dies, however it dies.

    On Linux the kernel sends SIGTERM when the worker's own parent (the forkserver)
    exits (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread checks every
    ``interval`` seconds that ``parent`` is alive (and not a zombie) and ends the
    worker with ``os._exit`` if not. A worker would otherwise run on, orphaned.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while _alive(parent):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="gsim-exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")
