"""``gsim validate``, ``gsim params``, ``gsim scenarios`` and ``gsim viz``: scenario
files, the parameter registry and the dashboard."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import (
    BadInput,
    _load,
    cli,
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
    from sim.parameters import REGISTRY, registry_rows

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
    from sim.scenario import ScenarioError, load_scenario, scenario_folder

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
        from sim.interfaces.dashboard_server import ServeError
        from sim.interfaces.dashboard_server import main as serve
    except ImportError as exc:
        raise BadInput(f"gsim viz needs the viz extra (pip install -e '.[viz]'): {exc}") from None
    try:
        serve(scenario, port=port, host=host)
    except ServeError as exc:
        raise BadInput(str(exc)) from None
