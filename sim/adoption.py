"""Measures take time: the adoption path of each of the twelve measures.

A policy package is not in force on the day it is issued. Platforms are connected,
banks and guarantors sign batch agreements, staff rules are rewritten, budgets are
voted, and each institution adopts the change in its own month. The model
represents this with one *adoption level* per measure, a number in [0, 1] that
moves along a path of a start delay and a linear ramp::

    level_m(t) = clip((t - delay_m) / ramp_m, 0, 1)      (ramp_m > 0)
    level_m(t) = 1 if t > delay_m else 0                  (ramp_m = 0)

with ``t`` the month of the reported horizon (1 = its first month; 0 during the
burn-in). The *reference* of a parameter is its registry default, which describes
the policy before the 2022 package (pre-policy values, ``docs/ODD.md``); a
scenario's departure from the reference for a parameter that belongs to measure
``m`` is adopted along ``m``'s path:

- a number (or each element of a list of numbers) moves linearly from the
  reference to the scenario value: ``reference + level x (value - reference)``;
  an integer is rounded;
- a switch (true/false, a choice, a list of sectors) takes its scenario value
  when the measure's adoption starts (``level > 0``); where the switch stands
  for many institutions adopting (the due-diligence exemption, batch pairs,
  receivables and IP products, write-offs), the mechanism scales its effect by
  the level (the share of institutions that have adopted);
- the risk shares are adopted share by share and the guarantor's share is the
  residual ``1 - (reguarantor + national_fund + bank + comp_fund)``, so the
  vector always sums to one.

Parameters without a measure (calibrated structure, shocks, run settings) act
from the first month. Setting every ``adoption.delay`` and ``adoption.ramp`` to
zero makes every measure act in full from the first month of the horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .parameters import REGISTRY, RISK_SHARE_KEYS

__all__ = ["Adoption", "adoption_level", "burn_in_values", "shared_months"]

N_MEASURES = 12


def adoption_level(month: float, delay: float, ramp: float) -> float:
    """Adoption level in [0, 1] of a measure ``month`` months into the horizon.

    Parameters
    ----------
    month : float
        Month of the reported horizon (1 = first; <= 0 during the burn-in).
    delay : float
        Months of the horizon before adoption starts (>= 0).
    ramp : float
        Months from the start of adoption to full adoption (>= 0).

    Returns
    -------
    float
        ``clip((month - delay) / ramp, 0, 1)``; a step at ``delay`` when ``ramp`` is 0.

    Examples
    --------
    >>> adoption_level(6, delay=3, ramp=6)
    0.5
    >>> adoption_level(3, delay=3, ramp=0), adoption_level(4, delay=3, ramp=0)
    (0.0, 1.0)
    """
    if delay < 0 or ramp < 0:
        raise ValueError("delay and ramp must be non-negative")
    if month <= delay:
        return 0.0
    if ramp == 0:
        return 1.0
    return float(min(1.0, (month - delay) / ramp))


def burn_in_values(values: Mapping[str, Any]) -> tuple:
    """What a run's burn-in depends on: the values of the parameters without a measure.

    Every measure is at level 0 during the burn-in (``month <= 0 <= delay``), so a
    measure's parameters are at their reference there, whatever their value: two scenarios
    with equal ``burn_in_values`` have the same burn-in from the same seed, and the same
    first months of the horizon before any measure starts (:func:`shared_months`,
    :meth:`sim.GuaranteeMarket.continue_as`).

    Parameters
    ----------
    values : mapping
        A scenario's resolved parameter values.

    Returns
    -------
    tuple of (str, object)
        ``(key, value)`` of each registry key without a measure, in registry order, lists
        as tuples (hashable: a key of a cache of burned-in models).
    """
    return tuple(
        (key, tuple(v) if isinstance(v := values[key], list) else v)
        for key, param in REGISTRY.items()
        if param.measure is None
    )


def shared_months(values: Mapping[str, Any]) -> int:
    """Months at the start of a run in which every measure is at adoption level 0, whatever
    the scenario changes: the burn-in and the horizon's months up to the earliest
    ``adoption.delay`` (a measure starts after its delay, :func:`adoption_level`).

    Scenarios with equal :func:`burn_in_values` (which include ``run.*`` and
    ``adoption.delay``) run these months alike from the same seed
    (:meth:`sim.GuaranteeMarket.continue_as`).
    """
    quiet = int(np.floor(min(values["adoption.delay"])))
    return int(values["run.burn_in"]) + max(0, min(int(values["run.horizon"]), quiet))


def _reference(key: str) -> Any:
    return REGISTRY[key].default


def _changed(values: Mapping[str, Any]) -> dict[str, int]:
    """Measure-tagged keys whose value departs from the reference -> their measure."""
    out = {}
    for key, param in REGISTRY.items():
        if param.measure is None or key == "risk_sharing.preset":
            continue
        if values[key] != _reference(key):
            out[key] = param.measure
    return out


class Adoption:
    """Adoption levels of the twelve measures and the parameter values in force.

    Parameters
    ----------
    values : mapping
        The scenario's resolved parameter values (its targets once fully adopted).

    Attributes
    ----------
    changed : dict of str to int
        Keys departing from their reference, with their measure.
    measures : frozenset of int
        Measures with at least one changed key (the others are at level 1: nothing
        to adopt).
    """

    def __init__(self, values: Mapping[str, Any]):
        self.values = values
        self.changed = _changed(values)
        self.measures = frozenset(self.changed.values())
        self._delay = np.asarray(values["adoption.delay"], dtype=float)
        self._ramp = np.asarray(values["adoption.ramp"], dtype=float)
        self._levels = np.ones(N_MEASURES)

    def level(self, measure: int) -> float:
        """Current adoption level of ``measure`` (1-12); 1 when it changes nothing."""
        return float(self._levels[measure - 1])

    def levels(self) -> np.ndarray:
        """Current levels of measures 1-12 (a copy)."""
        return self._levels.copy()

    def update(self, month: int) -> bool:
        """Set the levels for horizon month ``month``; return whether any level changed."""
        new = np.ones(N_MEASURES)
        for m in self.measures:
            new[m - 1] = adoption_level(month, self._delay[m - 1], self._ramp[m - 1])
        changed = not np.array_equal(new, self._levels)
        self._levels = new
        return changed

    def in_force(self) -> dict[str, Any]:
        """Parameter values in force at the current levels (every registry key)."""
        out = dict(self.values)
        for key, m in self.changed.items():
            out[key] = self._blend(key, self._levels[m - 1])
        if any(k in self.changed for k in RISK_SHARE_KEYS):
            others = [out[k] for k in RISK_SHARE_KEYS[1:]]
            total = sum(others)
            if total > 1.0:  # partial adoption of shares that each fit but not together
                others = [s / total for s in others]
                out.update(zip(RISK_SHARE_KEYS[1:], others, strict=True))
            out[RISK_SHARE_KEYS[0]] = max(0.0, 1.0 - sum(others))
        return out

    def _blend(self, key: str, level: float) -> Any:
        target = self.values[key]
        ref = _reference(key)
        kind = REGISTRY[key].kind
        if kind == "float":
            return ref + level * (target - ref)
        if kind == "int":
            return int(round(ref + level * (target - ref)))
        if kind == "floats":
            return [r + level * (t - r) for r, t in zip(ref, target, strict=True)]
        return target if level > 0 else ref
