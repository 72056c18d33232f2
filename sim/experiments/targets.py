"""Calibration targets as data: the observed figures a baseline must reproduce.

A targets file is TOML, one table per target (the table's name is the target's id)::

    description = "Beijing's government guarantee sector, 2020-2021"
    start = 2019           # calendar year in which the calibration runs start

    [leverage]
    value = 2.79
    tolerance = 0.30       # the observation's uncertainty, in the outcome's units
    year = 2021            # the calendar year the figure refers to
    source = "北京信用担保业协会 annual report 2021: financing leverage 2.79x"

    [compensation_rate]
    value = 0.019
    tolerance = 0.004
    year = 2021
    pooled = ["compensation_paid", "guarantee_released"]
    source = "..."

    [guaranteed_volume_2020]
    outcome = "guaranteed_volume_per_year"   # when the id is not the outcome's name
    value = 88.7e9
    ...

Keys of a target: ``value``, ``tolerance`` (> 0), ``year`` and ``source`` (required);
``outcome`` (default: the table's name), ``pooled`` (numerator and denominator outcomes:
the target is then estimated as the ratio of their sums over the runs) and ``unit``
(optional). Every outcome must be one of :data:`sim.SUMMARY_FIELDS`. A researcher
calibrating to another province writes another file and passes ``--targets FILE``.

Every problem is one :class:`TargetsError` line naming the file, the key, the value and
what is allowed (exit code 2 on the command line), as for scenario files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.outcomes import SUMMARY_FIELDS
from sim.scenario import ScenarioError, file_problem, packaged_scenarios, read_toml, show

__all__ = ["Target", "Targets", "TargetsError", "load_targets", "DEFAULT_TARGETS"]

#: The targets of the pre-2022 baseline (installed with gsim, see
#: :func:`sim.scenario.packaged_scenarios`).
DEFAULT_TARGETS = packaged_scenarios() / "targets/beijing_2021.toml"

_REQUIRED = ("value", "tolerance", "year", "source")
_OPTIONAL = ("outcome", "pooled", "unit")


class TargetsError(ScenarioError):
    """A targets file is invalid (one line, exit code 2)."""


@dataclass(frozen=True)
class Target:
    """A calibration target: an outcome in a year, its value, tolerance and source.

    A ratio target may name its numerator and denominator outcomes (``pooled``): it is
    then estimated across replications as the ratio of their sums, a far less noisy
    estimate of the long-run ratio than the mean of per-replication ratios (whose
    denominators are small in good years).
    """

    name: str
    outcome: str
    value: float
    tolerance: float
    year: int
    source: str
    unit: str = ""
    pooled: tuple[str, str] | None = None

    def estimate(self, summary) -> float:
        """The target estimated from runs (rows of a summary table for its year)."""
        if self.pooled:
            num, den = (summary[c].to_numpy(dtype=float) for c in self.pooled)
            ok = np.isfinite(num) & np.isfinite(den)
            total = den[ok].sum()
            return float(num[ok].sum() / total) if total > 0 else float("nan")
        values = summary[self.outcome].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        return float(values.mean()) if values.size else float("nan")


@dataclass(frozen=True)
class Targets:
    """The targets of a file and the run layout they imply.

    Attributes
    ----------
    targets : tuple of Target
    start : int
        Calendar year in which a calibration run starts (its first month is January).
    path : str
    description : str
    """

    targets: tuple[Target, ...]
    start: int
    path: str = ""
    description: str = ""

    def __iter__(self):
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def years(self) -> list[int]:
        return sorted({t.year for t in self.targets})

    @property
    def burn_in(self) -> int:
        """Months before the first target year."""
        return 12 * (self.years[0] - self.start)

    @property
    def horizon(self) -> int:
        """Months from the first to the last target year, inclusive."""
        return 12 * (self.years[-1] - self.years[0] + 1)

    def horizon_year(self, year: int) -> int:
        """Year of the reported horizon (1, 2, ...) of a calendar year."""
        return year - self.years[0] + 1


def load_targets(path=None) -> Targets:
    """Load and validate a targets file (default: :data:`DEFAULT_TARGETS`).

    Raises
    ------
    TargetsError
        On any invalid input, with one line naming file, key, value and what is allowed.
    """
    path = Path(DEFAULT_TARGETS if path is None else path)
    problem = file_problem(path)
    if problem:
        raise TargetsError(f"{path}: {problem}")
    try:
        data = read_toml(path)
    except ScenarioError as exc:
        raise TargetsError(str(exc)) from None
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise TargetsError(f"{path}: description = {show(description)}: expected a string")
    start = data.pop("start", None)
    if isinstance(start, bool) or not isinstance(start, int) or not 1900 <= start <= 2200:
        raise TargetsError(f"{path}: start = {show(start)}: expected a year (an integer)")
    targets = []
    for name, table in data.items():
        if not isinstance(table, dict):
            raise TargetsError(
                f"{path}: {name} = {show(table)}: expected a table [{name}] with value, "
                "tolerance, year and source"
            )
        targets.append(_target(path, name, table, start))
    if not targets:
        raise TargetsError(f"{path}: no targets: expected at least one [table]")
    return Targets(tuple(targets), start, str(path), description)


def _target(path: Path, name: str, table: dict, start: int) -> Target:
    where = f"{path}: [{name}]"
    for key in table:
        if key not in _REQUIRED + _OPTIONAL:
            allowed = ", ".join(_REQUIRED + _OPTIONAL)
            raise TargetsError(
                f"{where} {key} = {show(table[key])}: unknown key; keys are {allowed}"
            )
    for key in _REQUIRED:
        if key not in table:
            raise TargetsError(f"{where}: {key} is missing (required: {', '.join(_REQUIRED)})")
    outcome = table.get("outcome", name)
    if outcome not in SUMMARY_FIELDS:
        raise TargetsError(
            f"{where} outcome = {show(outcome)}: not an outcome; expected one of "
            "sim.SUMMARY_FIELDS (e.g. 'leverage')"
        )
    value = _number(where, "value", table["value"])
    tolerance = _number(where, "tolerance", table["tolerance"])
    if tolerance <= 0:
        raise TargetsError(f"{where} tolerance = {show(table['tolerance'])}: expected > 0")
    year = table["year"]
    if isinstance(year, bool) or not isinstance(year, int) or year < start:
        raise TargetsError(
            f"{where} year = {show(year)}: expected a calendar year (integer) >= start {start}"
        )
    source = table["source"]
    if not isinstance(source, str) or not source.strip():
        raise TargetsError(f"{where} source = {show(source)}: expected a non-empty string")
    pooled = table.get("pooled")
    if pooled is not None:
        if (
            not isinstance(pooled, list)
            or len(pooled) != 2
            or not all(isinstance(p, str) and p in SUMMARY_FIELDS for p in pooled)
        ):
            raise TargetsError(
                f"{where} pooled = {show(pooled)}: expected two outcomes of sim.SUMMARY_FIELDS "
                "(numerator, denominator)"
            )
        pooled = tuple(pooled)
    unit = table.get("unit", "")
    if not isinstance(unit, str):
        raise TargetsError(f"{where} unit = {show(unit)}: expected a string")
    return Target(name, outcome, value, tolerance, year, source, unit, pooled)


def _number(where: str, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TargetsError(f"{where} {key} = {show(value)}: expected a number")
    value = float(value)
    if not math.isfinite(value):
        raise TargetsError(f"{where} {key} = {show(value)}: expected a finite number")
    return value
