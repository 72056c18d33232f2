"""The ``gsim`` command line: the command group, the errors and exit codes, the options
several commands share, and :func:`main` (the console script).

Exit codes: 0 success, 2 bad input (one line naming the file, key, value and
what is allowed; nothing written), 1 internal error.

Heavy imports happen inside the commands so that ``gsim --help`` is fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sim import __version__
from sim.outcome_registry import format_outcome

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1


class BadInput(Exception):
    """Raised for user errors; printed as one line, exit code 2."""


class RunsFailed(Exception):
    """Some runs of a sweep failed; printed as one line, exit code 1."""


def _load(path: str, sets: tuple[str, ...]):
    from sim.scenario import ScenarioError, load_scenario, parse_override

    try:
        overrides = dict(parse_override(s) for s in sets)
        return load_scenario(path, overrides=overrides, source="--set")
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


def _prepare_out(out: str, overwrite: bool, create: bool = True) -> Path:
    """Check (and by default create) the output folder; bad input on failure."""
    from sim.outputs import OutputError, check_output_dir, prepare_output_dir

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
    from sim.experiments.members import EnsembleError, read_members

    try:
        return read_members(path, members)
    except EnsembleError as exc:
        raise BadInput(str(exc)) from None


_by_year_option = click.option(
    "--by-year",
    is_flag=True,
    help="Also report each year of the horizon separately (and write summary_by_year.parquet).",
)


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
