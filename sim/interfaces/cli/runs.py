"""``gsim run`` and ``gsim compare``: replications of scenarios, their means, paired
differences and ensemble bands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from sim.outcome_registry import DISPLAYS

from .common import (
    BY_YEAR,
    HEADLINE,
    BadInput,
    _by_year_option,
    _ensemble_options,
    _load,
    _load_ensemble,
    _prepare_out,
    _progress,
    _replication_options,
    cli,
    format_value,
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
    from sim.experiments.replications import run_replications

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
            from sim.experiments.replications import run_ensemble

            res = run_ensemble([sc], frame, reps, seed, workers=workers, progress=bar.update)
    if frame is None:
        _print_means(res.summary)
    else:
        from sim.experiments.replications import ensemble_bands

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
    from sim.outputs import build_manifest, write_json, write_parquet

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
    from sim.experiments.replications import paired_differences, summary_by_year

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
    from sim.experiments.replications import compare as run_compare

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
        from sim.interfaces.plots import comparison_figures
        from sim.outputs import write_parquet

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
    from sim.experiments.replications import TOTAL_PER_GUARANTEED

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
