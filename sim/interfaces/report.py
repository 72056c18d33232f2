"""Helpers for the report notebooks (``notebooks/*.ipynb``, rendered by ``make report``).

The notebooks hold parameters, a few calls and prose; what they draw and tabulate comes
from the package: this module (output folder, figure style and saving, party colours,
Student-t intervals, tables with units, the footer that records what ran),
:mod:`sim.interfaces.report_package` (notebook 01) and
:mod:`sim.interfaces.report_sweeps` (notebooks 02, 03).

A notebook starts with::

    from sim.interfaces.report import Report
    rep = Report("01_beijing_2022_package", OUT_DIR, workers=WORKERS, seed=SEED, ...)

and ends with ``rep.footer()``, which writes ``OUT_DIR/report.json`` (scenario files,
seeds, sizes, gsim version, git revision, date) and shows it as the report's footer.
Figures are built without pyplot, so this module neither chooses nor changes the
matplotlib backend.
"""

from __future__ import annotations

import html
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sim.outcome_registry import DISPLAYS, OUTCOMES, axis_label
from sim.scenario import packaged_scenarios

from .plots import PARTIES, PARTY_LABELS

__all__ = [
    "YI",
    "STYLE",
    "PARTIES",
    "PARTY_LABELS",
    "PARTY_COLORS",
    "RECORD_NAME",
    "FOOTER_CLASS",
    "worker_count",
    "resolve_path",
    "t_interval",
    "interval_columns",
    "outcome_columns",
    "new_figure",
    "footer_html",
    "Report",
]

#: 亿元 (100 million yuan) in yuan: money in the reports is divided by this.
YI = DISPLAYS["yi_yuan"].divide
#: matplotlib settings of the report figures (150 dpi PNG files, light grid).
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
}
#: Colour of each party that bears credit losses (keys of :data:`sim.interfaces.plots.PARTIES`).
PARTY_COLORS = {
    "bank": "#4C72B0",
    "guarantor": "#DD8452",
    "reguarantor": "#55A868",
    "national_fund": "#C44E52",
    "comp_fund": "#8172B3",
}
#: File in a report's output folder holding the footer record (JSON).
RECORD_NAME = "report.json"
#: CSS class of the footer's ``<footer>`` element in the rendered HTML.
FOOTER_CLASS = "gsim-report-footer"


def worker_count(workers: int = 0) -> int:
    """Worker processes to use: ``workers`` if positive, else the CPUs this process may use."""
    if workers > 0:
        return int(workers)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_path(path) -> Path:
    """A file named relative to the repository root, found from anywhere.

    ``path`` as given if it exists (absolute, or relative to the working folder); else a
    path under ``scenarios/`` is looked up in gsim's own scenario folder
    (:func:`sim.scenario.packaged_scenarios`), so a notebook finds
    ``scenarios/ensembles/baseline_2021.parquet`` whether it runs from the repository
    root, from ``notebooks/`` or from an installed copy.

    Raises
    ------
    FileNotFoundError
        If neither exists.
    """
    p = Path(path)
    if p.exists():
        return p
    parts = p.parts
    if not p.is_absolute() and parts and parts[0] == "scenarios":
        packaged = packaged_scenarios().joinpath(*parts[1:])
        if packaged.exists():
            return packaged
    raise FileNotFoundError(f"{path}: not found here nor among gsim's scenario files")


def t_interval(x, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean of ``x``.

    Non-finite values are dropped. With fewer than two values the half-width is NaN (and
    the mean NaN when none is left).

    Parameters
    ----------
    x : array_like
        Draws (one per replication), in any unit.
    level : float
        Confidence level, in (0, 1).

    Returns
    -------
    (float, float)
        ``(mean, half_width)`` in the unit of ``x``: the interval is
        ``mean -/+ t_{n-1, (1 + level)/2} s / sqrt(n)``.
    """
    from scipy import stats

    x = np.asarray(x, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (float(x.mean()) if x.size else float("nan")), float("nan")
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def interval_columns(df: pd.DataFrame, by, column: str, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t half-width of ``column`` per group of ``by`` (one pass, no loop).

    The same numbers as :func:`t_interval` applied to each group.

    Returns
    -------
    pandas.DataFrame
        Indexed by the groups (in order of appearance), columns ``mean``, ``half``
        (half-width of the ``level`` interval, NaN below two finite values) and ``n``;
        units those of ``column``.
    """
    from scipy import stats

    values = df[column].astype(float).where(np.isfinite(df[column].astype(float)))
    g = values.groupby([df[b] for b in ([by] if isinstance(by, str) else by)], sort=False)
    out = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()})
    n = out["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(n > 1, stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), np.nan)
        out["half"] = t * out["sd"].to_numpy(float) / np.sqrt(n)
    return out[["mean", "half", "n"]]


def outcome_columns(table: pd.DataFrame, keys=None, diff: bool = False) -> pd.DataFrame:
    """Outcome columns in the units reports show, headed with their label and unit.

    Each column ``key`` of the outcome registry is scaled by its display factor (亿元,
    %, x, ...) and renamed ``"Label (unit)"`` (:func:`sim.outcome_registry.axis_label`).

    Parameters
    ----------
    table : pandas.DataFrame
        Values in the stored units (yuan, fractions, ...), columns outcome keys.
    keys : list of str, optional
        Columns to keep, in order (default: every outcome column of ``table``).
    diff : bool
        Label differences (percentage points rather than %).
    """
    keys = [k for k in table.columns if k in OUTCOMES] if keys is None else list(keys)
    return pd.DataFrame(
        {axis_label(k, diff=diff): table[k] * OUTCOMES[k].style.factor for k in keys},
        index=table.index,
    )


def new_figure(*args, figsize, **kwargs):
    """``(figure, axes)`` as ``pyplot.subplots`` returns them, without pyplot, in
    :data:`STYLE`."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(STYLE):
        fig = Figure(figsize=figsize)
        return fig, fig.subplots(*args, **kwargs)


def _display(obj, kind: str | None = None) -> None:
    """Show ``obj`` when running in IPython (``kind``: wrap text as ``"HTML"`` or
    ``"Markdown"``); do nothing elsewhere."""
    try:
        from IPython import display as ipd
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the report extra
        return
    if get_ipython() is not None:
        ipd.display(getattr(ipd, kind)(obj) if kind else obj)


def _file_entry(path) -> str:
    """A scenario file as the footer names it: relative to the working folder if inside it."""
    p = Path(path).resolve()
    for root in (Path.cwd().resolve(), packaged_scenarios().resolve().parent):
        if p.is_relative_to(root):
            return p.relative_to(root).as_posix()
    return p.as_posix()


def footer_html(record: dict) -> str:
    """The footer of a rendered report, from the record :meth:`Report.footer` writes.

    A ``<footer>`` element of class :data:`FOOTER_CLASS` listing the scenario files, seeds,
    sizes, the gsim version (and git revision) and the date.
    """
    esc = html.escape
    rev = record.get("git")
    version = f"gsim {record['gsim']}"
    if rev:
        version += f", git {rev['commit'][:12]}" + (" (modified)" if rev.get("dirty") else "")
    run = ", ".join(f"{k} {v}" for k, v in record.get("run", {}).items())
    files = "".join(f"<li><code>{esc(f)}</code></li>" for f in record.get("files", []))
    return (
        f'<footer class="{FOOTER_CLASS}" style="font-size:85%;color:#555;'
        'border-top:1px solid #ccc;margin-top:2em;padding-top:0.5em">'
        f"<p><b>{esc(record['notebook'])}</b>: {esc(version)}; Python {esc(record['python'])}, "
        f"numpy {esc(record['numpy'])}, Mesa {esc(record['mesa'])}; "
        f"run {esc(record['date'])}.</p>"
        f"<p>Run: {esc(run)}.</p>"
        f"<p>Scenario files:</p><ul>{files}</ul></footer>"
    )


class Report:
    """The output folder, figures and footer record of one report notebook.

    Parameters
    ----------
    name : str
        The notebook's name (``01_beijing_2022_package``).
    out_dir : str or Path
        Folder for tables, figures (``figures/``) and the footer record; empty for
        ``<temp>/gsim-reports/NAME``. A relative path is relative to the working folder.
    workers : int
        Worker processes (0: all CPUs this process may use), :attr:`workers`.
    **run
        Facts of the run for the footer (``seed=``, ``replications=``, ``members=``,
        ``n_smes=``, ``horizon=``, ...), in the order given.

    Attributes
    ----------
    out, figures : Path
        The output folder and its ``figures/`` folder (created).
    workers : int
    files : list of str
        Scenario, sweep and ensemble files the notebook used (:meth:`uses`).
    """

    def __init__(self, name: str, out_dir="", *, workers: int = 0, **run):
        self.name = name
        out = Path(out_dir) if out_dir else Path(tempfile.gettempdir()) / "gsim-reports" / name
        self.out = out.resolve()
        self.figures = self.out / "figures"
        self.figures.mkdir(parents=True, exist_ok=True)
        self.workers = worker_count(workers)
        self.run = dict(run)
        self.files: list[str] = []
        self._inline()
        for o in ("display.max_colwidth", "display.width"):
            pd.set_option(o, None if o.endswith("colwidth") else 200)

    @staticmethod
    def _inline() -> None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return
        shell = get_ipython()
        if shell is not None and hasattr(shell, "kernel"):
            shell.run_line_magic("matplotlib", "inline")

    def __repr__(self) -> str:
        return f"Report({self.name!r}, out={str(self.out)!r}, workers={self.workers})"

    def uses(self, *items) -> None:
        """Record files the notebook used: scenarios (their file), sweeps (their file and
        their base scenario's) or paths; each once, in order."""
        for item in items:
            paths = []
            if hasattr(item, "base") and hasattr(item, "design"):  # a sim.Sweep
                paths = [item.path, item.base.path]
            elif hasattr(item, "path") and not isinstance(item, (str, os.PathLike)):
                paths = [item.path]
            else:
                paths = [item]
            for p in paths:
                if p and (entry := _file_entry(p)) not in self.files:
                    self.files.append(entry)

    def figure(self, fig, name: str) -> Path:
        """Save ``fig`` as ``figures/NAME.png`` (150 dpi, tight) and show it; the path."""
        path = self.figures / f"{name}.png"
        fig.savefig(path, bbox_inches="tight", dpi=STYLE["savefig.dpi"])
        _display(fig)
        return path

    def table(self, df: pd.DataFrame, name: str | None = None, digits: int | None = 3):
        """Show ``df`` rounded to ``digits``; with ``name`` also write ``NAME.csv`` (full
        precision) into the output folder. Returns ``df``."""
        if name:
            df.to_csv(self.out / f"{name}.csv")
        _display(df.round(digits) if digits is not None else df)
        return df

    def text(self, markdown: str) -> None:
        """Show Markdown text (generated key numbers, interpretation)."""
        _display(markdown, "Markdown")

    def record(self) -> dict:
        """The footer record: notebook, versions, git revision, date, run facts, files."""
        from sim.outputs import git_revision, software_versions

        record = {"notebook": self.name, **software_versions()}
        revision = git_revision()
        if revision is not None:
            record["git"] = revision
        record["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        record["run"] = dict(self.run)
        record["files"] = list(self.files)
        return record

    def footer(self) -> None:
        """Write the footer record (:meth:`record`) to :data:`RECORD_NAME` in the output
        folder and show it as the report's footer (:func:`footer_html`)."""
        from sim.outputs import write_json

        record = self.record()
        write_json(record, self.out / RECORD_NAME)
        _display(footer_html(record), "HTML")
