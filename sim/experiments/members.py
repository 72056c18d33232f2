"""Ensemble files and their members: reading them, and applying a member to a scenario.

An ensemble (``gsim calibrate --ensemble``, :func:`sim.experiments.ensemble.history_match`)
is a Parquet file with one row per member: a column per registry key that varies (``key[i]``
for a list element) and ``weight``. Projections (``gsim run/compare --ensemble``,
:func:`sim.compare` with ``ensemble=``) read the first members (:func:`read_members`) and
run every scenario with each member's values (:func:`member_overrides`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.adoption import Adoption
from sim.parameters import REGISTRY
from sim.scenario import Scenario, packaged_scenarios

from .calibration import _split
from .ensemble import projection_dimensions

__all__ = [
    "DEFAULT_ENSEMBLE",
    "EnsembleError",
    "ensemble_baseline",
    "load_ensemble",
    "member_overrides",
    "read_members",
]

#: The ensemble of the pre-2022 baseline (installed with gsim, see
#: :func:`sim.scenario.packaged_scenarios`).
DEFAULT_ENSEMBLE = packaged_scenarios() / "ensembles/baseline_2021.parquet"


class EnsembleError(ValueError):
    """An ensemble file is unusable (one line, exit code 2)."""


def read_members(path=None, members: int | None = None) -> pd.DataFrame:
    """The first ``members`` members of an ensemble file (all by default), checked.

    Every column must be a registry key (``key[i]`` for a list element) or ``weight``, with
    finite values inside the parameter's allowed range.

    Raises
    ------
    EnsembleError
        One line naming the file, the column and what is allowed.
    """
    from sim.parameters import check_value
    from sim.scenario import file_problem

    path = Path(DEFAULT_ENSEMBLE if path is None else path)
    problem = file_problem(path)
    if problem:
        raise EnsembleError(f"{path}: {problem}")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise EnsembleError(f"{path}: not a Parquet ensemble file ({type(exc).__name__})") from None
    if frame.empty:
        raise EnsembleError(f"{path}: no members")
    for col in frame.columns:
        if col == "weight":
            continue
        name, idx = _split(col)
        p = REGISTRY.get(name)
        if p is None or (idx is not None and p.kind != "floats"):
            raise EnsembleError(f"{path}: column {col!r}: not a registry parameter")
        for v in frame[col].to_numpy():
            if idx is not None:
                ok = np.isfinite(v) and (p.low is None or v >= p.low)
                ok = ok and (p.high is None or v <= p.high)
                err = None if ok else "out of range"
            else:
                value = int(v) if p.kind == "int" else float(v)
                _, err = check_value(p, value)
            if err:
                raise EnsembleError(f"{path}: column {col!r} = {v!r}: {err}")
    out = frame if members is None else frame.head(members).copy()
    out.attrs["baseline"] = ensemble_baseline(path)
    return out


def ensemble_baseline(path) -> str | None:
    """The baseline scenario file an ensemble was calibrated from, or None.

    Read from the file's record (``settings.scenario``); a relative path is looked up from
    the working directory, then from each folder above the ensemble file (the record of
    ``scenarios/ensembles/baseline_2021.parquet`` names ``scenarios/baseline_2021.toml``).
    """

    import pyarrow.parquet as pq

    path = Path(path)
    try:
        meta = pq.read_schema(path).metadata or {}
        recorded = json.loads(meta[b"gsim.ensemble"])["settings"]["scenario"]
    except Exception:  # noqa: BLE001 - an ensemble without a record has no baseline
        return None
    recorded = Path(recorded)
    for folder in (Path.cwd(), *path.resolve().parents):
        candidate = recorded if recorded.is_absolute() else folder / recorded
        if candidate.is_file():
            return str(candidate)
    return None


def load_ensemble(path=None, members: int | None = None) -> pd.DataFrame:
    """The first ``members`` rows of an ensemble file (all by default)."""
    return read_members(path, members)


def member_overrides(member: dict, scenario: Scenario, base: Scenario) -> dict:
    """The overrides that apply one ensemble member to ``scenario``.

    A member carries calibrated parameters and strengths. A value applies:

    - for a strength of a measure that the 2021 figures cannot inform: when ``scenario``
      adopts that measure (its own value, the centre of the prior, is replaced by the
      member's draw);
    - for anything else: when ``scenario`` keeps the value of ``base`` (the ensemble's
      baseline), i.e. it does not set its own (a scenario that sets a policy value, such
      as measure 6's lower counter-guarantee, keeps it).
    """
    adopted = Adoption(scenario.values).measures
    projection = {d.key for d in projection_dimensions()}
    members_by_key: dict[str, list] = {}
    out: dict = {}
    for key, value in member.items():
        if key == "weight" or (isinstance(value, float) and math.isnan(value)):
            continue
        name, idx = _split(key)
        p = REGISTRY[name]
        if key in projection and p.measure is not None:
            if p.measure not in adopted:
                continue
        elif scenario[name] != base[name]:
            continue
        if idx is None:
            out[name] = int(value) if p.kind == "int" else float(value)
        else:
            members_by_key.setdefault(name, list(scenario[name]))[idx] = float(value)
    out.update(members_by_key)
    return out
