"""The results of a sweep: the run files merged into one summary and one series table
(:func:`merge`), and :class:`SweepResult` with its sensitivity indices."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .runs import RunSpec, _base_row, _run_path

if TYPE_CHECKING:
    from .sweep import Sweep


def merge(specs: list[RunSpec], out_dir, outcome_fields: Iterable[str] = ()):
    """Merge the run files of ``specs`` into one summary and one timeseries table.

    Rows are ordered by (point, replication) whatever the order runs finished.
    Runs without a file are reported as ``status = "missing"``. The monthly series are
    joined as Arrow tables and converted to pandas once (as one frame per run would be,
    when the runs' columns differ).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    rows, tables = [], []
    for spec in sorted(specs, key=lambda s: (s.point, s.replication)):
        path = _run_path(out, spec.run_id)
        try:
            table = pq.ParquetFile(path).read()
        except FileNotFoundError:
            rows.append({**_base_row(spec), "status": "missing", "error": ""})
            continue
        row = json.loads(table.schema.metadata[b"gsim_summary"])
        rows.append(row)
        if table.num_rows:
            table = table.drop_columns(
                [c for c in ("point", "replication") if c in table.schema.names]
            )
            n = table.num_rows
            table = table.add_column(0, "replication", pa.array([spec.replication] * n, pa.int64()))
            table = table.add_column(0, "point", pa.array([spec.point] * n, pa.int64()))
            tables.append(table)
    summary = pd.DataFrame(rows)
    for col in outcome_fields:
        if col not in summary:
            summary[col] = np.nan
    return summary, _series_frame(tables)


def _series_frame(tables: list):
    """One pandas frame of the runs' series tables, in order, with a fresh index."""
    import pandas as pd
    import pyarrow as pa

    if not tables:
        return pd.DataFrame()
    first = tables[0].schema
    if all(t.schema.equals(first, check_metadata=False) for t in tables[1:]):
        return pa.concat_tables(tables).to_pandas()  # the first run's pandas metadata
    return pd.concat([t.to_pandas() for t in tables], ignore_index=True)


# ============================================================================ results
@dataclass(frozen=True, repr=False)
class SweepResult:
    """The merged results of :meth:`Sweep.run`.

    Attributes
    ----------
    sweep : Sweep
        The sweep that ran.
    summary : pandas.DataFrame
        One row per run in (point, replication) order: ``point``, ``replication``,
        ``seed``, ``run_id``, the design values (and the balancing share), ``scenario``,
        the ``set`` overrides, the outcomes of :data:`sim.SUMMARY_FIELDS`, ``status``
        (``ok``, ``failed`` or ``missing``) and ``error``; as ``summary.parquet``.
    timeseries : pandas.DataFrame
        The monthly series of every successful run, with ``point`` and ``replication``;
        as ``timeseries.parquet``.
    design : pandas.DataFrame
        One row per design point: ``point`` and the values of the varied parameters; as
        ``design.parquet``.
    counts : dict
        Runs: ``total``, ``skipped`` (already finished, with ``resume``), ``ok``, ``failed``.
    out : Path or None
        The sweep folder (None for a temporary one, already removed).
    """

    sweep: Sweep
    summary: Any
    timeseries: Any
    design: Any
    counts: dict
    out: Path | None = None

    def __repr__(self) -> str:
        c = self.counts
        where = f"; in {self.out}" if self.out is not None else ""
        return (
            f"<SweepResult {self.sweep.source}: {c['total']} runs, {c['ok']} ran, "
            f"{c['skipped']} already finished, {c['failed']} failed{where}>"
        )

    @property
    def failed(self):
        """The summary rows of the runs that did not succeed (``status`` other than ok)."""
        return self.summary[self.summary["status"] != "ok"]

    def sensitivity(self, outcomes: str | Iterable[str] | None = None):
        """Sobol or Morris sensitivity indices, on the mean over replications of each point.

        Parameters
        ----------
        outcomes : str or list of str, optional
            Outcomes to analyse; default the sweep's ``outcomes``.

        Returns
        -------
        pandas.DataFrame
            One row per (outcome, parameter): ``outcome``, ``parameter``, ``method``, then
            ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (Sobol) or ``mu_star``,
            ``mu_star_conf``, ``sigma`` (Morris); ``*_conf`` are half-widths of 95%
            bootstrap intervals (see :func:`sim.experiments.sensitivity.analyze`). What ``gsim
            sensitivity`` writes to ``sensitivity.parquet``.

        Raises
        ------
        ValueError
            The design is not sobol or morris, an outcome is not a column of the summary,
            or a design point has no successful run with a finite value.
        """
        import numpy as np
        import pandas as pd

        from ..sensitivity import analyze, point_means

        sw = self.sweep
        if sw.design.method not in ("sobol", "morris"):
            raise ValueError(
                f"{sw.source}: design = {sw.design.method!r}: sensitivity analysis needs a "
                "'sobol' or 'morris' design"
            )
        if outcomes is None:
            outcomes = sw.outcomes
        elif isinstance(outcomes, str):
            outcomes = (outcomes,)
        x = np.array(sw.design.matrix(), dtype=float)
        tables = []
        for o in outcomes:
            if o not in self.summary:
                raise ValueError(f"outcome {o!r}: not in the summary; see sim.SUMMARY_FIELDS")
            y = point_means(self.summary, o, x.shape[0])
            tables.append(analyze(sw.design, x, y, o, seed=sw.seed))
        return pd.concat(tables, ignore_index=True)
