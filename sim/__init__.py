"""gsim: an agent-based simulator of the government-bank-guarantor credit market.

The public API::

    import sim
    scenario = sim.load_scenario("scenarios/beijing_2022.toml", overrides={"bank.share": 0.2})
    model = sim.GuaranteeMarket(scenario, rng=42)   # a mesa.Model
    model.run()                                     # burn-in + horizon
    model.summary()                                 # dict of scalar outcomes
    model.datacollector.get_model_vars_dataframe()  # monthly series
    sim.parameters()                                # the parameter registry
    sim.OUTCOMES["leverage"].unit                   # the outcome registry: "ratio"
    sweep = sim.Sweep.from_file("sobol_main_levers").with_(n_smes=2000, samples=8)
    result = sweep.run(workers=2)                   # a sim.SweepResult
    result.summary, result.sensitivity()            # one row per run; Sobol indices

Heavy modules (Mesa, pandas) are imported on first use, so that ``gsim --help``
stays fast.
"""

from __future__ import annotations

from importlib import import_module

# imported eagerly (it is light): the submodule sim.parameters must not shadow the function
from .parameters import Parameter, parameters

__version__ = "0.1.0"

_LAZY = {
    "GuaranteeMarket": "sim.model",
    "load_scenario": "sim.scenario",
    "Scenario": "sim.scenario",
    "ScenarioError": "sim.scenario",
    "run_replications": "sim.experiments.replications",
    "compare": "sim.experiments.replications",
    "SUMMARY_FIELDS": "sim.outcomes",
    "MONTHLY_SERIES": "sim.outcomes",
    "OUTCOMES": "sim.outcome_registry",
    "Outcome": "sim.outcome_registry",
    "Sweep": "sim.experiments.sweeps",
    "SweepResult": "sim.experiments.sweeps",
}

__all__ = ["__version__", "parameters", "Parameter", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
