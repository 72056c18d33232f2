"""Interfaces: how people drive and read the model, the top layer.

- :mod:`.cli`: the ``gsim`` command line;
- :mod:`.plots`: the standard figures of ``gsim compare`` and of the report notebooks;
- :mod:`.documentation`: the generator of the parameter, outcome and evidence tables in
  ``docs/``.

Interfaces may import the experiments (:mod:`sim.experiments`) and the core; nothing below
imports them (the import-layer contract in ``pyproject.toml``, run by ``lint-imports`` in
``make test``). :mod:`sim.outputs` (writing files atomically, Parquet with column metadata,
manifests, folder locks) is an interface in spirit but stays in the core package: the
experiments write their run files, reports and figures through it, so it sits below them.
The dashboard (``sim/interfaces/app.py``, ``gsim viz``) is an interface too.
"""
