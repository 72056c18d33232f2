"""Runs that share their first months compute them once.

Every measure is at adoption level 0 during the burn-in and the horizon's months before the
earliest adoption delay, so scenarios that differ only in parameters of a measure (the
design points of a lever sweep, the scenarios of a comparison) run these months alike from
the same seed (:func:`sim.adoption.shared_months`, :meth:`sim.GuaranteeMarket.continue_as`).
Within a :func:`shared_burn_ins` block, :func:`start_run` keeps the model of the latest runs
at the end of those months and starts a run that shares them from a copy of it: the same
numbers, bit for bit, for a fraction of the months (a default run shares 42 of its 72).

The runners group their runs by :func:`burn_in_key` so that the runs of one replication
of every design point or scenario meet in one block (:func:`run_grouped`; a sweep's tasks
take whole groups, ``sim.experiments.sweeps.runs.share_groups``, and each worker of a local
pool shares across its tasks, :func:`share_burn_ins_here`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from contextlib import contextmanager

import numpy as np

from sim.adoption import burn_in_values, shared_months
from sim.scenario import Scenario

__all__ = [
    "shared_burn_ins",
    "share_burn_ins_here",
    "start_run",
    "burn_in_key",
    "burn_in_groups",
    "run_grouped",
    "expecting",
]

#: Models kept in a :func:`shared_burn_ins` block (of the latest keys used). The runners
#: bring the runs that share one key together, so one suffices: a kept model costs the
#: memory of a run (about 0.4 GB at 1,000,000 SMEs).
KEEP = 1

_local = threading.local()  # one cache per thread (a Dask worker runs tasks in threads)


@contextmanager
def shared_burn_ins():
    """A block in which :func:`start_run` shares burn-ins between runs.

    Keeps the models of the :data:`KEEP` latest :func:`burn_in_key` s (memory: about one
    run each); they are dropped when the block ends. A block inside another uses the outer
    one's models.
    """
    if getattr(_local, "models", None) is not None:
        yield
        return
    _local.models = OrderedDict()
    try:
        yield
    finally:
        _local.models = None


def share_burn_ins_here() -> None:
    """Share burn-ins between all the later runs of this thread, as if in one endless
    :func:`shared_burn_ins` block: what each worker of a local process pool does, so that
    the runs of one replication share across the pool's tasks (a Dask worker, which lives
    on after the sweep, shares within each task only)."""
    if getattr(_local, "models", None) is None:
        _local.models = OrderedDict()


def burn_in_key(scenario: Scenario, seed: int, replication: int) -> Hashable:
    """Runs with equal keys share their first months: the values of the parameters without
    a measure (:func:`sim.adoption.burn_in_values`), the root seed and the replication."""
    return (burn_in_values(scenario.values), int(seed), int(replication))


def start_run(scenario: Scenario, seed: int, replication: int, rng: np.random.SeedSequence):
    """A :class:`~sim.GuaranteeMarket` for one run, to be run on with ``model.run()``.

    Outside a :func:`shared_burn_ins` block, or without shared months, a new model. Inside,
    a model at the end of its :func:`~sim.adoption.shared_months`: a copy of the model of an
    earlier run with the same :func:`burn_in_key`, or of one run to there now and kept for
    the next runs.
    Either way the run's results are those of ``GuaranteeMarket(scenario, rng=rng)``.
    """
    from sim.model import GuaranteeMarket

    models = getattr(_local, "models", None)
    months = shared_months(scenario.values)
    if models is None or months == 0:
        return GuaranteeMarket(scenario, rng=rng)
    key = burn_in_key(scenario, seed, replication)
    model = models.get(key)
    if model is None and not getattr(_local, "expect_more", True):
        return GuaranteeMarket(scenario, rng=rng)  # nothing to share: no copy to pay for
    if model is None:
        model = GuaranteeMarket(scenario, rng=rng)
        for _ in range(months):
            model.step()
        models[key] = model
        while len(models) > KEEP:
            models.popitem(last=False)
    else:
        models.move_to_end(key)
    return model.continue_as(scenario)


def burn_in_groups(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices of equal keys, grouped, the groups in order of their first index."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


@contextmanager
def expecting(more: bool):
    """A block in which :func:`start_run` knows whether a later run will share the next
    run's first months: if not, and no kept model serves it, the run gets a new model
    (not kept, and without the copy that sharing costs: about 8 ms at 20,000 SMEs)."""
    saved, _local.expect_more = getattr(_local, "expect_more", True), more
    try:
        yield
    finally:
        _local.expect_more = saved


@contextmanager
def _own_block(share: bool):
    """A block with models of its own (none if not ``share``), whatever blocks surround it."""
    saved, _local.models = getattr(_local, "models", None), OrderedDict() if share else None
    try:
        yield
    finally:
        _local.models = saved


def run_grouped(fn: Callable, tasks: Sequence) -> list:
    """``[fn(t) for t in tasks]``: the runs of one :func:`burn_in_groups` group (a pool's
    task), which share their first months with each other and with no other task: a block
    of their own, dropped at the end (nothing kept in a pool's worker after it); a run alone
    in its group gets a model of its own, without the copy that sharing costs."""
    with _own_block(len(tasks) > 1):
        return [fn(t) for t in tasks]
