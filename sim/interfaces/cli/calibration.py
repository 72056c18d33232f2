"""``gsim calibrate``: the point calibration and the calibrated ensemble (history
matching), with their reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .common import (
    BadInput,
    RunsFailed,
    _load,
    _progress,
    _quiet_option,
    _workers_option,
    cli,
)


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
    from sim.experiments.calibration import calibrate as run_calibration
    from sim.experiments.calibration import calibration_report, write_baseline_block
    from sim.experiments.targets import TargetsError, load_targets

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
    from sim.experiments.ensemble import (
        calibration_dimensions,
        ensemble_report,
        history_match,
        write_ensemble,
    )

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
    from sim.outputs import unwritable_reason

    if path.exists() and not path.is_file():
        raise BadInput(f"--report {path}: exists and is not a file")
    problem = unwritable_reason(path)
    if problem:
        raise BadInput(f"--report {path}: {problem}")


def _replace_section(path: Path, section: str, heading: str = "## Result") -> None:
    """Replace the ``heading`` section of a Markdown file (or append it)."""
    from sim.outputs import atomic_path

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
