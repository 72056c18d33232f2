"""The ``gsim`` command line (console script ``gsim = sim.interfaces.cli:main``; also
``python -m sim.interfaces.cli``).

One module per group of commands: :mod:`.runs` (``run``, ``compare``), :mod:`.scenarios`
(``validate``, ``params``, ``scenarios``, ``viz``), :mod:`.sweeps` (``sweep``,
``sensitivity``), :mod:`.calibration` (``calibrate``); :mod:`.common` holds the command
group, the shared options, the exit codes and :func:`main`. Importing this package
registers every command. Heavy imports happen inside the commands so that ``gsim --help``
is fast.
"""

from __future__ import annotations

from . import calibration, runs, scenarios, sweeps  # noqa: F401 - registers the commands
from .common import (
    BY_YEAR,
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    HEADLINE,
    BadInput,
    RunsFailed,
    cli,
    format_value,
    main,
    one_line,
)
from .runs import print_bands, print_comparison

__all__ = [
    "BY_YEAR",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "HEADLINE",
    "BadInput",
    "RunsFailed",
    "cli",
    "format_value",
    "main",
    "one_line",
    "print_bands",
    "print_comparison",
]
