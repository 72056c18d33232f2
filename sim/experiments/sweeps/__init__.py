"""Batch sweeps: sweep files, experimental designs, resumable execution on any executor.

One concern a module (see :mod:`sim.experiments.sweeps.sweep` for the sweep file format,
the seeds and the outputs):

- :mod:`.sweep`: :class:`Sweep` (a sweep file or Python values, resolved and checked) and
  :meth:`Sweep.run`;
- :mod:`.design`: the experimental designs and the size check;
- :mod:`.schema`: the keys of a sweep file and their rules;
- :mod:`.runs`: the runs of a sweep (seeds, identifiers) and their files;
- :mod:`.executors`: run options, executors and :func:`execute`;
- :mod:`.folder`: the sweep folder and its fingerprint;
- :mod:`.results`: :func:`merge` and :class:`SweepResult`.

``sim.Sweep`` and ``sim.SweepResult`` are the public entry points.
"""

from __future__ import annotations

from .design import DESIGNS, MAX_RUNS, MAX_SEED, Design, memory_limit
from .executors import (
    SweepExecutor,
    SweepOptionError,
    check_run_options,
    check_scheduler,
    default_workers,
    execute,
    prepare_run,
)
from .folder import check_sweep_folder, fingerprint, sweep_folder
from .results import SweepResult, merge
from .runs import RunSpec, model_task, plan_runs, run_id
from .schema import PARAMETER_KEYS, TOP_KEYS, Key, ParameterSpec, SweepSpec, check_keys, key_field
from .sweep import Sweep, load_sweep

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
    "run_id",
    "execute",
    "merge",
    "model_task",
    "SweepExecutor",
    "check_scheduler",
    "check_run_options",
    "default_workers",
    "prepare_run",
    "fingerprint",
    "check_sweep_folder",
    "sweep_folder",
    "memory_limit",
    "DESIGNS",
    "TOP_KEYS",
    "PARAMETER_KEYS",
    "MAX_RUNS",
    "MAX_SEED",
]
