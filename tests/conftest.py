"""Shared fixtures: small, fast scenarios built from the registry defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import default_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"

#: Run size used by the fast model tests (overridable per call).
SMALL_RUN = {"run.n_smes": 3000, "run.burn_in": 2, "run.horizon": 12}


def small_scenario(overrides=None, **run):
    """Registry defaults with a small population and short horizon, plus ``overrides``.

    ``run`` may give ``n_smes``, ``burn_in`` or ``horizon`` (the ``run.*`` keys).
    """
    values = dict(SMALL_RUN)
    values.update({f"run.{k}": v for k, v in run.items()})
    values.update(overrides or {})
    return default_scenario().with_overrides(values)


@pytest.fixture(scope="session")
def scenario_factory():
    """Factory ``(overrides=None, *, n_smes=..., burn_in=..., horizon=...) -> Scenario``."""
    return small_scenario


@pytest.fixture(scope="session")
def vasicek_scenario_path() -> Path:
    """Path of ``scenarios/vasicek_validation.toml``."""
    path = SCENARIOS / "vasicek_validation.toml"
    assert path.is_file(), path
    return path
