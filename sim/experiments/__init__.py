"""Experiments: what is run with the model, above the core (``sim.model`` and the modules it
uses) and below the interfaces (:mod:`sim.interfaces`).

- :mod:`.replications`: replications with common random numbers, paired comparisons,
  ensemble runs (``sim.run_replications``, ``sim.compare``); :mod:`.pool` the local process
  pool they and the sweeps run on (light to import, so that a command starts its fork
  server first);
- :mod:`.sweeps`: sweep files, designs, resumable execution (``sim.Sweep``,
  ``sim.SweepResult``);
- :mod:`.sensitivity`: Sobol and Morris indices of a sweep;
- :mod:`.targets`: calibration targets (target files);
- :mod:`.calibration`: the point calibration against the targets;
- :mod:`.ensemble`: the calibrated ensemble (history matching; :mod:`.emulation` its
  emulators and sampler); :mod:`.members`: ensemble files and applying a member to a scenario.

Experiments import the core and :mod:`sim.outputs` (the run files, manifests and figures
they write, atomically), never :mod:`sim.interfaces`: the import-layer contract in
``pyproject.toml`` (``lint-imports``, part of ``make test``) checks it. This package
imports nothing itself, so that a command imports only the experiments it runs.
"""
