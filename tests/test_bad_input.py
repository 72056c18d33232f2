"""Bad input through the real command line (architecture.md, "Scenario files" and "CLI").

Each case writes a malformed scenario (or a valid one with bad command-line arguments) to
``tmp_path`` and runs ``python -m sim.interfaces.cli validate FILE`` and
``python -m sim.interfaces.cli run FILE --out OUTDIR`` in a subprocess. Every case must give:

- exit code 2;
- exactly one line on stderr, naming the file (or option), the key, the value and what is
  allowed (case-specific substrings, compared case-insensitively);
- no traceback and nothing on stdout;
- for ``run``: nothing written (OUTDIR does not exist afterwards, and the folder holding the
  scenario is unchanged; a pre-existing OUTDIR keeps its contents).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

#: A valid, tiny scenario for the cases about command-line arguments.
GOOD = "[run]\nn_smes = 200\nburn_in = 0\nhorizon = 2\n"

#: The source of an override error: the option or the word "override".
SET_SOURCE = ("--set", "override")


@dataclass(frozen=True)
class Case:
    """One malformed input.

    files : scenario files to write into tmp_path (name -> TOML text)
    target : the file given on the command line (relative to tmp_path)
    args : extra command-line arguments
    expect : substrings of the error line; a tuple means "any of these"; ``{file}``,
        ``{out}`` and ``{dir}`` are replaced by the target path, OUTDIR and the folder
        holding the scenario files
    commands : the gsim commands to run the case through
    out : None, or "nonempty" / "file": OUTDIR exists before the run (as a non-empty
        folder or as a file) and must be unchanged afterwards
    """

    id: str
    files: dict[str, str]
    expect: tuple
    target: str = "bad.toml"
    args: tuple[str, ...] = ()
    commands: tuple[str, ...] = ("validate", "run")
    out: str | None = None


CASES = [
    # ---------------------------------------------------------------- unknown keys
    Case(
        "unknown-top-level-key",
        {"bad.toml": "foo = 1\n"},
        ("{file}", "foo = 1", "unknown key", "sections are"),
    ),
    Case(
        "unknown-key-did-you-mean",
        {"bad.toml": "[credit]\npdd = 0.02\n"},
        ("{file}", "credit.pdd = 0.02", "unknown key", "did you mean 'credit.pd'"),
    ),
    Case(
        "unknown-section",
        {"bad.toml": "[creditt]\npd = 0.02\n"},
        ("{file}", "creditt.pd = 0.02", "unknown key", "did you mean 'credit.pd'"),
    ),
    Case(
        "nested-table-too-deep",
        {"bad.toml": "[credit.sub]\nx = 1\n"},
        ("{file}", "credit.sub", "nested tables are not allowed"),
    ),
    # ----------------------------------------------------------------- wrong types
    Case(
        "string-for-float",
        {"bad.toml": '[credit]\npd = "high"\n'},
        ("{file}", "credit.pd = ", "high", "expected a number in [1e-05, 0.5]"),
    ),
    Case(
        "bool-for-float",
        {"bad.toml": "[credit]\npd = true\n"},
        ("{file}", "credit.pd = true", "expected a number in [1e-05, 0.5]"),
    ),
    Case(
        "float-for-int",
        {"bad.toml": "[run]\nhorizon = 12.5\n"},
        ("{file}", "run.horizon = 12.5", "expected an integer in [1, 600]"),
    ),
    Case(
        "int-for-bool",
        {"bad.toml": "[guarantor]\ndue_diligence_exemption = 1\n"},
        ("{file}", "guarantor.due_diligence_exemption = 1", "expected true or false"),
    ),
    Case(
        "number-for-choice",
        {"bad.toml": "[batch]\nmode = 1\n"},
        ("{file}", "batch.mode = 1", "one of 'none', 'bank_led', 'guarantor_led'"),
    ),
    Case(
        "string-for-list",
        {"bad.toml": '[population]\nsector_shares = "even"\n'},
        ("{file}", "population.sector_shares = ", "even", "expected a list of 9 numbers"),
    ),
    Case(
        "string-in-list",
        {"bad.toml": '[credit]\nsize_pd_multipliers = [1.0, "x", 1.0]\n'},
        ("{file}", "credit.size_pd_multipliers = ", "x", "a list of 3 numbers"),
    ),
    # ----------------------------------------------------------------- out of range
    Case(
        "out-of-range-high",
        {"bad.toml": "[credit]\npd = 0.7\n"},
        ("{file}", "credit.pd = 0.7", "out of range", "in [1e-05, 0.5]"),
    ),
    Case(
        "out-of-range-negative",
        {"bad.toml": "[bank]\nfunding_cost = -0.01\n"},
        ("{file}", "bank.funding_cost = -0.01", "out of range", "in [0.0, 0.2]"),
    ),
    Case(
        "int-out-of-range",
        {"bad.toml": "[run]\nhorizon = 0\n"},
        ("{file}", "run.horizon = 0", "out of range", "in [1, 600]"),
    ),
    Case(
        "nan",
        {"bad.toml": "[credit]\npd = nan\n"},
        ("{file}", "credit.pd = nan", "not a finite number", "in [1e-05, 0.5]"),
    ),
    Case(
        "inf",
        {"bad.toml": "[credit]\npd = inf\n"},
        ("{file}", "credit.pd = inf", "not a finite number", "in [1e-05, 0.5]"),
    ),
    Case(
        "inf-in-list",
        {"bad.toml": "[population]\nrevenue_median = [2.5e6, inf, 8e7]\n"},
        ("{file}", "population.revenue_median = ", "inf", "not a finite number"),
    ),
    # ------------------------------------------------------------------------ lists
    Case(
        "list-wrong-length",
        {"bad.toml": "[population]\nsize_shares = [0.5, 0.5]\n"},
        (
            "{file}",
            "population.size_shares = [0.5, 0.5]",
            "a list of 3 numbers (micro, small, medium)",
        ),
    ),
    Case(
        "list-element-out-of-range",
        {"bad.toml": "[credit]\nsize_pd_multipliers = [1.0, -1.0, 1.0]\n"},
        (
            "{file}",
            "credit.size_pd_multipliers = [1.0, -1.0, 1.0]",
            "out of range",
            "each in [0.0, 20.0]",
        ),
    ),
    Case(
        "list-not-summing-to-1",
        {"bad.toml": "[population]\nsector_shares = [" + ", ".join(["0.1"] * 9) + "]\n"},
        ("{file}", "population.sector_shares = ", "must sum to 1", "0.9"),
    ),
    Case(
        "unknown-sector",
        {"bad.toml": '[shock]\nsectors = ["transport", "mining"]\n'},
        ("{file}", "shock.sectors = ", "mining", "unknown sector", "catering"),
    ),
    Case(
        "repeated-sector",
        {"bad.toml": '[relief]\nsectors = ["transport", "transport"]\n'},
        ("{file}", "relief.sectors = ", "transport", "must not repeat"),
    ),
    Case(
        "invalid-choice",
        {"bad.toml": '[batch]\nmode = "bank-led"\n'},
        ("{file}", "batch.mode = ", "bank-led", "one of 'none', 'bank_led', 'guarantor_led'"),
    ),
    # ------------------------------------------------------------------ risk shares
    Case(
        "risk-shares-not-summing-to-1",
        {"bad.toml": "[bank]\nshare = 0.2\n"},
        ("{file}", "bank.share=0.2", "guarantor.share=0.8", "sum to 1.2", "must sum to 1"),
    ),
    Case(
        "preset-and-share-in-one-file",
        {"bad.toml": '[risk_sharing]\npreset = "national_2222"\n\n[bank]\nshare = 0.2\n'},
        ("{file}", "bank.share = 0.2", "risk_sharing.preset", "not both"),
    ),
    # ------------------------------------------------------------- syntax, extends
    Case(
        "bad-toml-table-header",
        {"bad.toml": "[credit\npd = 0.02\n"},
        ("{file}", "invalid toml", "line 1"),
    ),
    Case(
        "bad-toml-value",
        {"bad.toml": "[credit]\npd = 0.02.3\n"},
        ("{file}", "invalid toml", "line 2"),
    ),
    Case(
        "missing-extends-file",
        {"bad.toml": 'extends = "nope.toml"\n'},
        ("{file}", "extends = 'nope.toml'", "file not found"),
    ),
    Case(
        "circular-extends",
        {"a.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "a.toml"\n'},
        ("{dir}/b.toml", "extends = 'a.toml'", "circular extends", "a.toml -> b.toml -> a.toml"),
        target="a.toml",
    ),
    Case(
        "self-extends",
        {"bad.toml": 'extends = "bad.toml"\n'},
        ("{file}", "extends = 'bad.toml'", "circular extends"),
    ),
    Case(
        "extends-not-a-string",
        {"bad.toml": "extends = 3\n"},
        ("{file}", "extends = 3", "expected a file name (string)"),
    ),
    Case(
        "error-in-parent-file",
        {"parent.toml": "[credit]\npd = 0.7\n", "bad.toml": 'extends = "parent.toml"\n'},
        ("{dir}/parent.toml", "credit.pd = 0.7", "out of range", "in [1e-05, 0.5]"),
    ),
    # ------------------------------------------------------------------ meta keys
    Case(
        "measure-out-of-range",
        {"bad.toml": "measure = 13\n"},
        ("{file}", "measure = 13", "an integer in [1, 12]"),
    ),
    Case(
        "measure-not-an-integer",
        {"bad.toml": 'measure = "one"\n'},
        ("{file}", "measure = ", "one", "an integer in [1, 12]"),
    ),
    Case(
        "description-not-a-string",
        {"bad.toml": "description = 5\n"},
        ("{file}", "description = 5", "expected a string"),
    ),
    Case("scenario-file-does-not-exist", {}, ("{file}", "file not found"), target="nope.toml"),
    # --------------------------------------------------------------- command line
    Case(
        "set-without-equals",
        {"bad.toml": GOOD},
        ("--set", "credit.pd", "key=value"),
        args=("--set", "credit.pd"),
    ),
    Case(
        "set-unknown-key",
        {"bad.toml": GOOD},
        (SET_SOURCE, "credit.pdd = 0.02", "unknown key", "did you mean 'credit.pd'"),
        args=("--set", "credit.pdd=0.02"),
    ),
    Case(
        "set-out-of-range",
        {"bad.toml": GOOD},
        (SET_SOURCE, "credit.pd = 0.7", "out of range", "in [1e-05, 0.5]"),
        args=("--set", "credit.pd=0.7"),
    ),
    Case(
        "set-wrong-type",
        {"bad.toml": GOOD},
        (SET_SOURCE, "credit.pd = ", "abc", "expected a number in [1e-05, 0.5]"),
        args=("--set", "credit.pd=abc"),
    ),
    Case(
        "set-nan",
        {"bad.toml": GOOD},
        (SET_SOURCE, "credit.pd = nan", "not a finite number"),
        args=("--set", "credit.pd=nan"),
    ),
    Case(
        "set-shares-not-summing-to-1",
        {"bad.toml": GOOD},
        (SET_SOURCE, "bank.share=0.2", "sum to 1.2", "must sum to 1"),
        args=("--set", "bank.share=0.2"),
    ),
    Case(
        "reps-zero",
        {"bad.toml": GOOD},
        ("--reps", "0", "1<=x<=100000"),
        args=("--reps", "0"),
        commands=("run",),
    ),
    Case(
        "reps-not-a-number",
        {"bad.toml": GOOD},
        ("--reps", "abc", "integer"),
        args=("--reps", "abc"),
        commands=("run",),
    ),
    Case(
        "seed-negative",
        {"bad.toml": GOOD},
        ("--seed", "-1", "0<=x"),
        args=("--seed", "-1"),
        commands=("run",),
    ),
    Case(
        "out-existing-non-empty-folder",
        {"bad.toml": GOOD},
        ("--out", "{out}", "not empty", "--overwrite"),
        commands=("run",),
        out="nonempty",
    ),
    Case(
        "out-existing-file",
        {"bad.toml": GOOD},
        ("--out", "{out}", "is a file"),
        commands=("run",),
        out="file",
    ),
]

PARAMS = [
    pytest.param(case, command, id=f"{case.id}-{command}")
    for case in CASES
    for command in case.commands
]


def test_enough_cases():
    """The table holds at least 25 malformed scenario files and the command-line cases."""
    files = [c for c in CASES if not c.args and c.out is None]
    assert len(files) >= 25, len(files)
    assert len(CASES) >= 40, len(CASES)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with the bytes of files (None for folders)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _gsim(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sim.interfaces.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("case", "command"), PARAMS)
def test_bad_input(case: Case, command: str, tmp_path: Path):
    """Exit code 2, one stderr line naming file/option, key, value and what is allowed,
    no traceback, nothing on stdout, nothing written."""
    work = tmp_path / "scenarios"
    work.mkdir()
    for name, text in case.files.items():
        (work / name).write_text(text, encoding="utf-8")
    target = work / case.target
    out = tmp_path / "out"
    if case.out == "nonempty":
        out.mkdir()
        (out / "keep.txt").write_text("results of an earlier run\n")
        (out / "sub").mkdir()
        (out / "sub" / "summary.parquet").write_bytes(b"PAR1 not really")
    elif case.out == "file":
        out.write_text("not a folder\n")
    before = _snapshot(tmp_path)

    args = [command, str(target), *case.args]
    if command == "run":
        args += ["--out", str(out)]
    proc = _gsim(args, cwd=tmp_path)

    where = f"gsim {' '.join(args)}\nstdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"
    assert "Traceback" not in proc.stderr + proc.stdout, where
    assert proc.returncode == 2, where
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr; {where}"
    assert proc.stdout == "", f"expected nothing on stdout; {where}"
    line = lines[0].lower()
    for want in case.expect:
        options = want if isinstance(want, tuple) else (want,)
        options = [
            o.format(file=target, out=out, dir=work).lower() if "{" in o else o.lower()
            for o in options
        ]
        assert any(o in line for o in options), f"missing {options} in the error; {where}"

    after = _snapshot(tmp_path)
    assert after == before, f"files changed: {set(after) ^ set(before)}; {where}"
    if case.out is None:
        assert not out.exists(), where
