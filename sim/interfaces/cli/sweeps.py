"""``gsim sweep`` and ``gsim sensitivity``: thin wrappers of :meth:`sim.Sweep.run` and
:meth:`sim.SweepResult.sensitivity`."""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    BadInput,
    RunsFailed,
    _overwrite_option,
    _quiet_option,
    _workers_option,
    cli,
)


def _sweep_options(f):
    f = _quiet_option(f)
    f = _overwrite_option(f)
    f = click.option(
        "--resume",
        is_flag=True,
        help="Skip runs already finished in --out (after an interruption).",
    )(f)
    f = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://127.0.0.1:8786 (instead of --workers).",
    )(f)
    f = _workers_option(default=None, high=1024)(f)
    f = click.option(
        "--out",
        required=True,
        type=click.Path(file_okay=False),
        help="Output folder (runs/, summary.parquet, timeseries.parquet, ...).",
    )(f)
    return click.argument("sweep_file", type=click.Path(dir_okay=False))(f)


def _run_sweep(sweep_file, out, workers, scheduler, resume, overwrite, quiet, designs=None):
    """Load SWEEP_FILE and run it with :meth:`sim.Sweep.run`; returns its ``SweepResult``.

    Everything is checked before anything is created: the options, the sweep file and
    every design point (and the design's size), the output folder (usable, empty or
    resumable by this very sweep, not locked by another) and the scheduler (reachable);
    each problem is bad input (one line, exit code 2). ``designs`` restricts the allowed
    designs.
    """
    from sim.experiments.sweeps import Sweep, SweepOptionError, prepare_run
    from sim.outputs import OutputError
    from sim.scenario import ScenarioError

    try:
        prepare_run(workers, scheduler)  # the pool's workers get ready while the sweep is checked
        sweep = Sweep.from_file(sweep_file)
        if designs and sweep.design.method not in designs:
            raise BadInput(
                f"{sweep_file}: design = {sweep.design.method!r}: expected one of "
                + ", ".join(map(repr, designs))
            )
        return sweep.run(
            workers=workers,
            scheduler=scheduler,
            out=out,
            resume=resume,
            overwrite=overwrite,
            progress=not quiet,
        )
    except (ScenarioError, OutputError, SweepOptionError) as exc:
        raise BadInput(str(exc)) from None


def _fail_if_runs_failed(counts) -> None:
    """Exit code 1 (after the outputs are written) if any run of the sweep failed."""
    if counts["failed"]:
        raise RunsFailed(f"{counts['failed']} of {counts['total']} runs failed (see status, error)")


def _report_counts(counts, out) -> None:
    click.echo(
        f"{counts['total']} runs: {counts['ok']} ran, {counts['skipped']} already finished, "
        f"{counts['failed']} failed; results in {out}/summary.parquet"
    )


@cli.command()
@_sweep_options
def sweep(sweep_file, out, workers, scheduler, resume, overwrite, quiet):
    """Run the batch sweep described by SWEEP_FILE (grid, LHS, Sobol or Morris design).

    Each finished run is written as its own file under OUT/runs/, so an
    interrupted sweep continues with --resume. A failing run is recorded with its
    error and the sweep goes on; the exit code is 1 if any run failed. SWEEP_FILE is a
    path or a name (risk_share_fee_grid: ./scenarios/sweeps/NAME.toml, else the installed one).
    """
    result = _run_sweep(sweep_file, out, workers, scheduler, resume, overwrite, quiet)
    _report_counts(result.counts, out)
    _fail_if_runs_failed(result.counts)


@cli.command()
@_sweep_options
def sensitivity(sweep_file, out, workers, scheduler, resume, overwrite, quiet):
    """Sobol or Morris sensitivity indices for the outcomes of SWEEP_FILE.

    Runs the sweep (resumable like `gsim sweep`), averages each design point over
    its replications, and writes sensitivity.parquet, sensitivity.csv and
    sensitivity.png to OUT.
    """
    import pandas as pd

    from sim.experiments.sensitivity import write_sensitivity

    result = _run_sweep(
        sweep_file, out, workers, scheduler, resume, overwrite, quiet, designs=("sobol", "morris")
    )
    _report_counts(result.counts, out)
    try:
        table = result.sensitivity()
    except ValueError as exc:  # a design point without a successful run
        raise RunsFailed(str(exc)) from None
    write_sensitivity(table, out)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        click.echo(table.round(4).to_string(index=False))
    click.echo(f"wrote {Path(out)}/sensitivity.parquet, sensitivity.csv, sensitivity.png")
    _fail_if_runs_failed(result.counts)
