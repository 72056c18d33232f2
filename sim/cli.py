"""The ``gsim`` command line.

Exit codes: 0 success, 2 bad input (one line naming the file, key, value and
what is allowed; nothing written), 1 internal error.

Heavy imports happen inside the commands so that ``gsim --help`` is fast.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from . import __version__
from .outcome_registry import DISPLAYS, format_outcome

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1


class BadInput(Exception):
    """Raised for user errors; printed as one line, exit code 2."""


class RunsFailed(Exception):
    """Some runs of a sweep failed; printed as one line, exit code 1."""


def _load(path: str, sets: tuple[str, ...]):
    from .scenario import ScenarioError, load_scenario, parse_override

    try:
        overrides = dict(parse_override(s) for s in sets)
        return load_scenario(path, overrides=overrides, source="--set")
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


def _prepare_out(out: str, overwrite: bool, create: bool = True) -> Path:
    """Check (and by default create) the output folder; bad input on failure."""
    from .outputs import OutputError, check_output_dir, prepare_output_dir

    try:
        return (prepare_output_dir if create else check_output_dir)(out, overwrite)
    except OutputError as exc:
        raise BadInput(str(exc)) from None


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", disable=quiet or None, file=sys.stderr)


# --------------------------------------------------------------------------- format
#: Outcomes shown year by year with --by-year.
BY_YEAR = (
    "guaranteed_volume",
    "lending_volume",
    "refused_firm_share",
    "avg_guarantee_fee",
    "leverage",
    "compensation_rate",
    "fiscal_cost",
)
HEADLINE = (
    "lending_volume",
    "guaranteed_volume",
    "direct_volume",
    "borrowers",
    "first_time_borrowers",
    "rationed_share",
    "refused_firm_share",
    "discouraged_share",
    "incremental_share",
    "default_rate",
    "default_rate_guaranteed",
    "compensation_rate",
    "avg_guarantee_fee",
    "leverage",
    "small_micro_share",
    "loss_bank",
    "loss_guarantor",
    "loss_reguarantor",
    "loss_national_fund",
    "loss_comp_fund",
    "fiscal_cost",
    "fiscal_cost_per_additional_yuan",
)


def format_value(outcome: str, value: float, diff: bool = False) -> str:
    """Human-readable value with its unit (亿元 = 1e8 yuan for money, % for rates), as the
    outcome registry says (:meth:`sim.outcome_registry.Outcome.format`).

    With ``diff``, a signed difference: rates in percentage points (``pp``), money
    in 亿元 without the unit, anything else to four significant digits.
    """
    return format_outcome(outcome, value, diff=diff)


# --------------------------------------------------------------------------- commands
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, package_name="guarantee-sim", prog_name="gsim")
def cli():
    """gsim: simulate the government-bank-guarantor credit market for SMEs.

    Run a scenario, compare policy scenarios with common random numbers, list
    and validate scenario files. A scenario is a file's path or a name (gsim run
    baseline_2021: ./scenarios/NAME.toml, else the scenarios installed with gsim).
    See README.md for the quick start.
    """


# Options several commands share, each declared once.
_quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
_overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace files in a non-empty --out folder."
)


def _workers_option(default: int | None = 1, high: int = 256, per: str = ""):
    """``--workers`` (``default`` None: one per CPU); results do not depend on it."""
    return click.option(
        "--workers",
        default=default,
        show_default="one per CPU" if default is None else True,
        type=click.IntRange(1, high),
        help=f"Local worker processes{per} (1 = in-process); results are identical for any number.",
    )


def _replication_options(set_help: str, reps: tuple[int, int, str], seed_help: str, out_help: str):
    """The options `run` and `compare` share: --set, --reps, --seed, --out, --workers, ..."""
    default, low, reps_help = reps

    def decorate(f):
        for opt in reversed(
            [
                click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=set_help),
                click.option(
                    "--reps",
                    default=default,
                    show_default=True,
                    type=click.IntRange(low, 100_000),
                    help=reps_help,
                ),
                click.option(
                    "--seed",
                    default=0,
                    show_default=True,
                    type=click.IntRange(0, 2**63 - 1),
                    help=seed_help,
                ),
                click.option(
                    "--out", default=None, type=click.Path(file_okay=False), help=out_help
                ),
                _workers_option(),
                _overwrite_option,
                _quiet_option,
            ]
        ):
            f = opt(f)
        return f

    return decorate


def _ensemble_options(f):
    f = click.option(
        "--members",
        default=None,
        type=click.IntRange(1, 1_000_000),
        help="With --ensemble: use the first M members (default: all).",
    )(f)
    return click.option(
        "--ensemble",
        "ensemble_file",
        default=None,
        type=click.Path(dir_okay=False),
        help="Ensemble of parameter sets (Parquet, gsim calibrate --ensemble): every member "
        "runs with --reps replications; prints medians and 5-95% bands.",
    )(f)


def _load_ensemble(path, members):
    """The ensemble's members, or bad input in one line."""
    from .ensemble import EnsembleError, read_members

    try:
        return read_members(path, members)
    except EnsembleError as exc:
        raise BadInput(str(exc)) from None


_by_year_option = click.option(
    "--by-year",
    is_flag=True,
    help="Also report each year of the horizon separately (and write summary_by_year.parquet).",
)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@_by_year_option
@_ensemble_options
@_replication_options(
    set_help="Override a parameter, e.g. --set credit.pd=0.02 (repeatable).",
    reps=(1, 1, "Replications."),
    seed_help="Root seed; replication k uses SeedSequence(seed, spawn_key=(k,)).",
    out_help="Output folder for summary.parquet, timeseries.parquet, manifest.json.",
)
def run(
    scenario, by_year, ensemble_file, members, sets, reps, seed, out, workers, overwrite, quiet
):
    """Run SCENARIO (a TOML file, or a name such as baseline_2021) for --reps replications
    and print the mean outcomes."""
    from .experiments import run_replications

    sc = _load(scenario, sets)
    out_dir = _prepare_out(out, overwrite, create=False) if out is not None else None
    for w in sc.warnings:
        click.echo(f"warning: {sc.path}: {w}", err=True)
    frame = _load_ensemble(ensemble_file, members) if ensemble_file else None
    started = datetime.now(UTC)
    total = reps * (len(frame) if frame is not None else 1)
    with _progress(total, f"run {sc.name}", quiet) as bar:
        if frame is None:
            res = run_replications(sc, reps, seed, workers=workers, progress=bar.update)
        else:
            from .experiments import run_ensemble

            res = run_ensemble([sc], frame, reps, seed, workers=workers, progress=bar.update)
    if frame is None:
        _print_means(res.summary)
    else:
        from .experiments import ensemble_bands

        print_bands(ensemble_bands(res.summary, sc.name), [sc.name])
    years = _by_year(res, [sc.name]) if by_year else None
    if out_dir:
        _write_outputs(_prepare_out(out_dir, overwrite=True), res, started, by_year=years)


def _print_means(summary) -> None:
    means = summary.groupby("scenario", sort=False)[list(HEADLINE)].mean()
    names = list(means.index)
    width = max(12, *(len(n) for n in names))
    click.echo(f"{'outcome (mean)':34s}" + "".join(f"{n:>{width + 2}s}" for n in names))
    for o in HEADLINE:
        vals = "".join(f"{format_value(o, means.loc[n, o]):>{width + 2}s}" for n in names)
        click.echo(f"{o:34s}{vals}")


def _write_outputs(out_dir: Path, res, started, by_year=None, **extra) -> None:
    """Write the tables and manifest of ``res`` to ``out_dir`` (prepared by the caller)."""
    from .outputs import build_manifest, write_json, write_parquet

    write_parquet(res.summary, out_dir / "summary.parquet")
    write_parquet(res.timeseries, out_dir / "timeseries.parquet")
    written = ["summary.parquet", "timeseries.parquet"]
    if by_year is not None:
        write_parquet(by_year, out_dir / "summary_by_year.parquet")
        written.append("summary_by_year.parquet")
    reps = int(res.summary["replication"].nunique())
    write_json(
        build_manifest(res.scenarios, res.seed, reps, started, **extra), out_dir / "manifest.json"
    )
    click.echo(f"wrote {out_dir}/{', '.join(written)}, manifest.json")


def _by_year(res, names):
    """Print the year-by-year means (and paired differences against the first scenario)
    of the BY_YEAR outcomes; return the table of every run's years."""
    from .experiments import paired_differences, summary_by_year

    table = summary_by_year(res.timeseries)
    base = names[0]
    click.echo("")
    header = f"{'outcome (by year)':26s}{'year':>5s}" + "".join(
        f"{n:>{max(16, len(n) + 2)}s}" for n in names
    )
    if len(names) > 1:
        header += f"  paired diff ({names[1]}) [95% CI]"
    click.echo(header)
    for o in BY_YEAR:
        for year, grp in table.groupby("year", sort=True):
            means = grp.groupby("scenario", sort=False)[o].mean()
            line = f"{o:26s}{year:>5d}" + "".join(
                f"{format_value(o, means.get(n, float('nan'))):>{max(16, len(n) + 2)}s}"
                for n in names
            )
            if len(names) > 1:
                d = paired_differences(grp, base, outcomes=(o,)).set_index("scenario")
                row = d.loc[names[1]]
                low, high = (format_value(o, row[c], diff=True) for c in ("ci_low", "ci_high"))
                line += f"{format_value(o, row['diff'], diff=True):>12s} [{low}, {high}]"
            click.echo(line)
    return table


@cli.command()
@click.argument("scenario_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_by_year_option
@_ensemble_options
@_replication_options(
    set_help="Override a parameter in every scenario (repeatable).",
    reps=(
        10,
        1,
        "Replications per scenario (paired across scenarios; at least 2 without "
        "--ensemble, for the confidence intervals).",
    ),
    seed_help="Root seed shared by all scenarios (common random numbers).",
    out_help="Output folder for tables, manifest and PNG figures.",
)
def compare(
    scenario_files,
    by_year,
    ensemble_file,
    members,
    sets,
    reps,
    seed,
    out,
    workers,
    overwrite,
    quiet,
):
    """Compare SCENARIO_FILES (paths, or names such as beijing_2022) with common random numbers.

    Replication k of every scenario uses the same random numbers for the same
    purposes. Prints each outcome's mean per scenario and the paired difference
    against the first scenario with a 95% confidence interval; with --out,
    writes the tables, manifest and figures.
    """
    from .experiments import compare as run_compare

    if reps < 2 and ensemble_file is None:
        raise BadInput(
            f"--reps {reps}: a comparison needs at least 2 replications for its confidence "
            "intervals (1 is allowed with --ensemble, whose bands span the members)"
        )
    scs = [_load(f, sets) for f in scenario_files]
    names = [s.name for s in scs]
    if len(set(names)) != len(names):
        raise BadInput(f"scenario names must be distinct, got {', '.join(names)}")
    out_dir = _prepare_out(out, overwrite, create=False) if out is not None else None
    frame = _load_ensemble(ensemble_file, members) if ensemble_file else None
    started = datetime.now(UTC)
    total = reps * len(scs) * (len(frame) if frame is not None else 1)
    with _progress(total, "compare", quiet) as bar:
        res = run_compare(scs, reps, seed, workers=workers, progress=bar.update, ensemble=frame)
    if frame is None:
        print_comparison(res.differences, names)
    else:
        print_bands(res.bands, names)
    years = _by_year(res, names) if by_year else None
    if out_dir:
        from .outputs import write_parquet
        from .plots import comparison_figures

        _prepare_out(out_dir, overwrite=True)
        write_parquet(res.differences, out_dir / "differences.parquet")
        if res.bands is not None:
            write_parquet(res.bands, out_dir / "bands.parquet")
        figs = comparison_figures(res.summary, res.timeseries, out_dir)
        extra = {"figures": [f.name for f in figs]}
        if frame is not None:
            extra["ensemble"] = {"file": str(ensemble_file), "members": len(frame)}
        _write_outputs(out_dir, res, started, by_year=years, **extra)
        click.echo(f"figures: {', '.join(str(f) for f in figs)}")


def print_bands(bands, names) -> None:
    """Print each scenario's median [5-95%] and the paired difference's against the first,
    over the ensemble's members and replications (parameter and stochastic uncertainty)."""
    base = names[0]
    b = bands.set_index(["outcome", "scenario"])
    click.echo(
        "median [5-95%] over ensemble members and replications: parameter and stochastic "
        "uncertainty together"
    )
    header = f"{'outcome':32s}{base:>34s}"
    for n in names[1:]:
        header += f"{n:>34s}{'paired diff':>34s}"
    click.echo(header)

    def cell(o, row, diff=False):
        p = "diff_" if diff else ""
        mid, lo, hi = (format_value(o, row[p + c], diff=diff) for c in ("median", "q05", "q95"))
        unit = DISPLAYS["yi_yuan"].suffix  # money's unit: shown once, after the median
        return f"{mid} [{lo.removesuffix(unit)}, {hi.removesuffix(unit)}]"

    for o in HEADLINE:
        if (o, base) not in b.index:
            continue
        line = f"{o:32s}{cell(o, b.loc[(o, base)]):>34s}"
        for n in names[1:]:
            row = b.loc[(o, n)]
            line += f"{cell(o, row):>34s}{cell(o, row, diff=True):>34s}"
        click.echo(line)


def print_comparison(diffs, names) -> None:
    """Print means per scenario and paired differences (95% CI) against the first."""
    base = names[0]
    w = {n: max(16, len(n) + 2) for n in names}
    header = f"{'outcome':32s}{base:>{w[base]}s}"
    for n in names[1:]:
        header += f"{n:>{w[n]}s}{'paired diff':>22s}{'95% CI':>26s}"
    click.echo(header)
    d = diffs.set_index(["outcome", "scenario"])
    for o in HEADLINE:
        line = f"{o:32s}{format_value(o, d.loc[(o, base), 'mean']):>{w[base]}s}"
        for n in names[1:]:
            row = d.loc[(o, n)]
            low, high = (format_value(o, row[c], diff=True) for c in ("ci_low", "ci_high"))
            ci = f"[{low}, {high}]"
            diff = format_value(o, row["diff"], diff=True)
            line += f"{format_value(o, row['mean']):>{w[n]}s}{diff:>22s}{ci:>26s}"
        click.echo(line)
    from .experiments import TOTAL_PER_GUARANTEED

    if (TOTAL_PER_GUARANTEED, names[-1]) in d.index:
        line = f"{TOTAL_PER_GUARANTEED:32s}{'':>{w[base]}s}"
        for n in names[1:]:
            row = d.loc[(TOTAL_PER_GUARANTEED, n)]
            ci = f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            line += f"{'':>{w[n]}s}{row['diff']:>22.3f}{ci:>26s}"
        click.echo(line)
        click.echo(
            f"{TOTAL_PER_GUARANTEED}: additional total lending per yuan of additional "
            "guaranteed lending (below 1: guaranteed loans replaced loans made anyway)"
        )


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Overrides to check too.")
def validate(scenario_file, sets):
    """Check SCENARIO_FILE (a path or a name) against the parameter registry; print its
    warnings."""
    sc = _load(scenario_file, sets)
    for w in sc.warnings:
        click.echo(f"warning: {scenario_file}: {w}")
    click.echo(f"{scenario_file}: ok ({sc.name}: {sc.description or 'no description'})")


@cli.command()
@click.option("--levers", is_flag=True, help="Only policy levers and measure parameters.")
@click.option(
    "--measure",
    "measure",
    type=click.IntRange(1, 12),
    default=None,
    help="Only the parameters of this measure (1-12).",
)
@click.option("--calibrated", is_flag=True, help="Only the parameters fitted by calibration.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format (csv and json for scripts).",
)
def params(levers, measure, calibrated, fmt):
    """List the parameter registry: key, default, unit, prior, measure, source."""
    from .parameters import REGISTRY, registry_rows

    keys = [
        k
        for k, p in REGISTRY.items()
        if (not levers or p.lever or p.measure is not None)
        and (measure is None or p.measure == measure)
        and (not calibrated or p.calibrated)
    ]
    rows = registry_rows(keys)
    if fmt == "json":
        import json

        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["key"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        for r in rows:
            click.echo(
                f"{r['key']:38s} {r['default']:>14s} {r['unit']:14s} {r['prior']:34s} "
                f"{r['measure']:>2s}  {r['source']}"
            )


@cli.command()
@click.option(
    "--dir",
    "directory",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder of scenario files (default: ./scenarios, else those installed with gsim).",
)
def scenarios(directory):
    """List scenario files with their one-line descriptions."""
    from .scenario import ScenarioError, load_scenario, scenario_folder

    folder = Path(directory) if directory else scenario_folder()
    if not folder.is_dir():
        raise BadInput(f"--dir {folder}: not a folder")
    files = sorted(folder.glob("*.toml"))
    width = max((len(f.stem) for f in files), default=10)
    for f in files:
        try:
            sc = load_scenario(f)
            measure = f"[measure {sc.measure}] " if sc.measure else ""
            click.echo(f"{f.stem:{width}s}  {measure}{sc.description}")
        except ScenarioError as exc:
            click.echo(f"{f.stem:{width}s}  INVALID: {exc}")


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
    from .outputs import OutputError
    from .scenario import ScenarioError
    from .sweeps import Sweep, SweepOptionError, check_run_options

    try:
        check_run_options(workers, scheduler)
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

    from .sensitivity import write_sensitivity

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


@cli.command()
@click.option(
    "--scenario",
    default="scenarios/baseline_2021.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Scenario whose values start the search.",
)
@click.option(
    "--n-smes",
    default=10_000,
    show_default=True,
    type=click.IntRange(500, 10**7),
    help="Simulated SMEs per run.",
)
@click.option(
    "--reps",
    default=4,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Replications per objective evaluation (common random numbers).",
)
@click.option("--seed", default=2021, show_default=True, type=click.IntRange(0, 2**63 - 1))
@click.option(
    "--max-evals",
    default=300,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Budget of objective evaluations.",
)
@click.option(
    "--report",
    default="docs/calibration.md",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Markdown record to update.",
)
@click.option(
    "--write",
    is_flag=True,
    help="Write the calibrated values into the scenario's calibrated block.",
)
@_workers_option(per=" per evaluation")
@click.option(
    "--step",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.01, 5.0),
    help="Finite-difference step (least squares) or initial simplex step (Nelder-Mead) on "
    "the logit scale of each parameter (smaller to polish).",
)
@click.option(
    "--targets",
    "targets_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Targets file (TOML; default: scenarios/targets/beijing_2021.toml). It also sets the "
    "runs' layout: they start in its start year and report its target years.",
)
@click.option(
    "--ensemble",
    is_flag=True,
    help="Calibrate an ensemble by history matching with Gaussian-process emulators "
    "(docs/calibration.md) instead of one point; writes --ensemble-out.",
)
@click.option(
    "--ensemble-out",
    default="scenarios/ensembles/baseline_2021.parquet",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Parquet file of the accepted members (--ensemble).",
)
@click.option(
    "--waves", default=3, show_default=True, type=click.IntRange(1, 20), help="(--ensemble)"
)
@click.option(
    "--points",
    default=None,
    type=click.IntRange(4, 100_000),
    help="Simulator points per wave (--ensemble; default 10 x the number of parameters).",
)
@click.option(
    "--accept",
    default=150,
    show_default=True,
    type=click.IntRange(2, 100_000),
    help="Members drawn per batch of the final stage (from the region within every "
    "tolerance), each simulated and kept unless ruled out; further batches run until 100 are "
    "kept, at most 8 batches (--ensemble).",
)
@click.option(
    "--method",
    default="least-squares",
    show_default=True,
    type=click.Choice(["least-squares", "nelder-mead"]),
    help="Optimiser: least squares on the tolerance-scaled residuals, or Nelder-Mead.",
)
@_quiet_option
def calibrate(
    scenario,
    n_smes,
    reps,
    seed,
    max_evals,
    report,
    write,
    workers,
    step,
    targets_file,
    ensemble,
    ensemble_out,
    waves,
    points,
    accept,
    method,
    quiet,
):
    """Calibrate the baseline to Beijing's 2021 guarantee figures (docs/calibration.md).

    By default one point (least squares); with --ensemble an ensemble of parameter sets
    consistent with the figures (history matching), e.g.
    gsim calibrate --ensemble --n-smes 20000 --reps 4 --waves 4 --workers 2
    """
    from .calibration import calibrate as run_calibration
    from .calibration import calibration_report, write_baseline_block
    from .targets import TargetsError, load_targets

    try:
        targets = load_targets(targets_file)
    except TargetsError as exc:
        raise BadInput(str(exc)) from None
    scenario = _load(scenario, ()).path  # a name becomes its file
    _check_report_path(Path(report))
    if ensemble:
        _check_report_path(Path(ensemble_out))
        _calibrate_ensemble(
            scenario,
            targets,
            n_smes,
            reps,
            seed,
            workers,
            waves,
            points,
            accept,
            report,
            ensemble_out,
            quiet,
        )
        return
    if write and not os.access(scenario, os.W_OK):
        raise BadInput(f"--scenario {scenario}: not writable (needed by --write)")
    with _progress(max_evals, "calibrate", quiet) as bar:

        def progress(i, value):
            bar.update(1)
            bar.set_postfix(objective=f"{value:.3g}")

        result = run_calibration(
            scenario,
            n_smes=n_smes,
            replications=reps,
            seed=seed,
            max_evaluations=max_evals,
            progress=progress,
            workers=workers,
            step=step,
            targets=targets,
            method=method,
        )
    text = calibration_report(result, " ".join(["gsim", *sys.argv[1:]]), targets)
    click.echo(text)
    _replace_section(Path(report), text)
    if write:
        write_baseline_block(scenario, result)
        click.echo(f"wrote calibrated values to {scenario}")


def _calibrate_ensemble(
    scenario, targets, n_smes, reps, seed, workers, waves, points, accept, report, out, quiet
):
    from .ensemble import calibration_dimensions, ensemble_report, history_match, write_ensemble

    per_wave = points or 10 * len(calibration_dimensions())
    total = waves * per_wave + accept
    with _progress(total, "history matching", quiet) as bar:

        def progress(stage, done, n):
            if done == 1 and stage.startswith("accept "):  # a further final-stage batch
                bar.total += n
                bar.refresh()
            bar.set_description(f"history matching ({stage})")
            bar.update(1)

        result = history_match(
            scenario,
            targets=targets,
            n_smes=n_smes,
            replications=reps,
            seed=seed,
            waves=waves,
            points=points,
            accept=accept,
            workers=workers,
            progress=progress,
        )
    if result.members.empty:
        raise RunsFailed(
            f"history matching accepted no parameter set ({result.runs} runs); nothing written: "
            "the targets may be out of the model's reach, or the runs too small to tell"
        )
    write_ensemble(result, out)
    text = ensemble_report(result, " ".join(["gsim", *sys.argv[1:]]), targets)
    click.echo(text)
    _replace_section(Path(report), text, heading="## Ensemble")
    click.echo(f"wrote {len(result.members)} members to {out}")


def _check_report_path(path: Path) -> None:
    """Refuse a report path that cannot be written, before any work is done."""
    from .outputs import unwritable_reason

    if path.exists() and not path.is_file():
        raise BadInput(f"--report {path}: exists and is not a file")
    problem = unwritable_reason(path)
    if problem:
        raise BadInput(f"--report {path}: {problem}")


def _replace_section(path: Path, section: str, heading: str = "## Result") -> None:
    """Replace the ``heading`` section of a Markdown file (or append it)."""
    from .outputs import atomic_path

    text = path.read_text(encoding="utf-8") if path.exists() else "# Calibration\n\n"
    if heading in text:
        head = text[: text.index(heading)]
        rest = text[text.index(heading) + len(heading) :]
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@cli.command()
@click.option(
    "--scenario",
    default=None,
    type=click.Path(dir_okay=False),
    help="Scenario to start from; the picker lists its folder. "
    "[default: scenarios/baseline_2021.toml]",
)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; any other than 127.0.0.1 exposes the dashboard to the network.",
)
def viz(scenario, port, host):
    """Interactive dashboard in the browser (Mesa SolaraViz) at http://HOST:PORT/.

    Needs the viz extra: pip install -e '.[viz]'. Works offline.
    """
    if scenario is not None:
        scenario = _load(scenario, ()).path  # a name becomes its file
    try:
        from .dashboard_server import ServeError
        from .dashboard_server import main as serve
    except ImportError as exc:
        raise BadInput(f"gsim viz needs the viz extra (pip install -e '.[viz]'): {exc}") from None
    try:
        serve(scenario, port=port, host=host)
    except ServeError as exc:
        raise BadInput(str(exc)) from None


def one_line(text: str) -> str:
    """``text`` with its non-printable characters (newlines, ...) escaped: one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def main(argv=None) -> int:
    """Entry point of the ``gsim`` console script (messages are one line each)."""
    try:
        cli.main(args=argv, prog_name="gsim", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("gsim: aborted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "gsim --help")
        return 0
    except click.UsageError as exc:
        msg = exc.format_message()
        where = f"gsim {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "gsim"
        click.echo(one_line(f"{where}: error: {msg} (see --help)"), err=True)
        return EXIT_BAD_INPUT
    except click.ClickException as exc:
        click.echo(one_line(f"gsim: error: {exc.format_message()}"), err=True)
        return EXIT_BAD_INPUT
    except BadInput as exc:
        click.echo(one_line(f"gsim: error: {exc}"), err=True)
        return EXIT_BAD_INPUT
    except RunsFailed as exc:
        click.echo(one_line(f"gsim: {exc}"), err=True)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        click.echo("gsim: interrupted", err=True)
        return 130
    except Exception as exc:  # an internal error: one line and exit code 1
        click.echo(one_line(f"gsim: internal error: {type(exc).__name__}: {exc}"), err=True)
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
