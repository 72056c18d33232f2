"""The ``gsim`` command line, through its real entry points (architecture.md: CLI, output contract).

Every command runs in a subprocess (``python -m sim.interfaces.cli ...``; the ``--help``
checks and one run go through the installed ``gsim`` console script), at a small size (1,500
SMEs, 2 burn-in months, 6 reported months), so that exit codes, stdout/stderr and the files
written are those a user sees. Only the internal-error test calls
``sim.interfaces.cli.main`` in-process, to inject the error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

import sim
import sim.interfaces.cli
from sim.outcome_registry import whole_counts
from sim.outcomes import MONTHLY_SERIES, SUMMARY_FIELDS
from sim.outputs import atomic_path
from sim.parameters import REGISTRY

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BASE = SCENARIOS / "baseline_2021.toml"
M03 = SCENARIOS / "m03_due_diligence_exemption.toml"
BEIJING = SCENARIOS / "beijing_2022.toml"  # a scenario without risk-share floor warnings

SMALL = {"run.n_smes": 1500, "run.horizon": 6, "run.burn_in": 2}
SMALL_SETS = tuple(a for k, v in SMALL.items() for a in ("--set", f"{k}={v}"))

RUN_FILES = {"summary.parquet", "timeseries.parquet", "manifest.json"}
FIGURES = ("lending_by_channel", "losses_by_party", "fee_and_leverage", "compensation_rate")
COMPARE_FILES = RUN_FILES | {"differences.parquet"} | {f"{f}.png" for f in FIGURES}
COMMANDS = ("run", "compare", "validate", "scenarios", "calibrate")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def gsim(*args, cwd, script: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m sim.interfaces.cli ARGS`` (or the ``gsim`` console script) and capture
    its output."""
    cmd = [str(gsim_script())] if script else [sys.executable, "-m", "sim.interfaces.cli"]
    return subprocess.run(
        [*cmd, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        timeout=timeout,
    )


def gsim_script() -> Path:
    """The installed console script: next to the interpreter, else on PATH."""
    here = Path(sys.executable).parent / "gsim"
    if here.is_file():
        return here
    found = shutil.which("gsim")
    assert found, "the gsim console script is not installed"
    return Path(found)


def describe(proc: subprocess.CompletedProcess) -> str:
    return (
        f"command: {' '.join(proc.args)}\nexit code: {proc.returncode}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    return proc


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def sort_rows(df: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in ("scenario", "replication", "month", "outcome") if k in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- run


@pytest.fixture(scope="module")
def run_result(tmp_path_factory):
    """``gsim run baseline_2021.toml --reps 2 --seed 3 --out DIR`` (small size)."""
    work = tmp_path_factory.mktemp("run")
    out = work / "out"
    proc = ok(gsim("run", BASE, *SMALL_SETS, "--reps", 2, "--seed", 3, "--out", out, cwd=work))
    return proc, out


def test_run_writes_exactly_the_output_contract(run_result):
    """Exit 0; the folder holds exactly summary.parquet, timeseries.parquet, manifest.json (no
    ``*.part`` or other temporary file left by the atomic writes)."""
    _, out = run_result
    assert set(os.listdir(out)) == RUN_FILES
    assert not list(out.rglob("*.part"))


def test_run_summary_table(run_result):
    """One row per replication: scenario, replication, seed, the overridden parameters and every
    outcome of SUMMARY_FIELDS."""
    _, out = run_result
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 2
    assert list(summary.columns[:3]) == ["scenario", "replication", "seed"]
    expected = {"scenario", "replication", "seed", *SMALL, *SUMMARY_FIELDS}
    assert expected <= set(summary.columns), expected - set(summary.columns)
    assert list(summary["scenario"]) == ["baseline_2021"] * 2
    assert list(summary["replication"]) == [0, 1]
    assert list(summary["seed"]) == [3, 3]
    for key, value in SMALL.items():
        assert list(summary[key]) == [value, value], key
    assert summary["lending_volume"].gt(0).all()
    assert summary["lending_volume"].nunique() == 2  # replications differ


def test_run_timeseries_table(run_result):
    """One row per (scenario, replication, month), months 1..horizon, the monthly series."""
    _, out = run_result
    ts = pd.read_parquet(out / "timeseries.parquet")
    horizon = SMALL["run.horizon"]
    assert len(ts) == 2 * horizon
    assert not ts.duplicated(["scenario", "replication", "month"]).any()
    assert set(MONTHLY_SERIES) <= set(ts.columns), set(MONTHLY_SERIES) - set(ts.columns)
    for rep, grp in ts.groupby("replication"):
        assert list(grp["month"]) == list(range(1, horizon + 1)), rep
    assert set(ts["scenario"]) == {"baseline_2021"}
    assert set(ts["replication"]) == {0, 1}


def test_run_manifest(run_result):
    """Manifest: package version, command line, seed, replications, resolved parameters, start
    and end times."""
    _, out = run_result
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["version"] == sim.__version__
    assert m["seed"] == 3
    assert m["replications"] == 2
    cmd = m["command"]
    assert isinstance(cmd, list) and "run" in cmd and str(BASE) in cmd
    assert cmd[cmd.index("--seed") + 1] == "3" and cmd[cmd.index("--reps") + 1] == "2"
    started = datetime.fromisoformat(m["started"])
    finished = datetime.fromisoformat(m["finished"])
    assert started.tzinfo is not None and started <= finished
    (scenario,) = m["scenarios"]
    assert scenario["name"] == "baseline_2021"
    params = scenario["parameters"]
    assert set(params) == set(REGISTRY)  # every parameter, resolved
    for key, value in SMALL.items():
        assert params[key] == value
        assert scenario["overrides"][key] == value
    resolved = sim.load_scenario(BASE, overrides=SMALL)
    assert params == json.loads(json.dumps(dict(resolved.values)))


def test_run_prints_a_table_of_means(run_result):
    """stdout: a header naming the scenario, then one line per headline outcome with its mean
    over the replications (formatted with its unit)."""
    proc, out = run_result
    summary = pd.read_parquet(out / "summary.parquet")
    lines = proc.stdout.splitlines()
    assert "baseline_2021" in lines[0].split()
    for outcome in sim.interfaces.cli.HEADLINE:
        (line,) = [ln for ln in lines if ln.split()[:1] == [outcome]]
        expected = sim.interfaces.cli.format_value(outcome, summary[outcome].mean())
        assert line.rstrip().endswith(expected), (outcome, line, expected)


def test_run_equals_python_api(run_result):
    """The CLI's tables equal ``run_replications(load_scenario(..., overrides), 2, seed=3)``
    (stored with whole counts: :func:`sim.outcome_registry.whole_counts`)."""
    _, out = run_result
    api = sim.run_replications(sim.load_scenario(BASE, overrides=SMALL), 2, 3)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "summary.parquet"), whole_counts(api.summary), check_exact=True
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "timeseries.parquet"),
        whole_counts(api.timeseries),
        check_exact=True,
    )


def test_output_files_have_the_usual_permissions(run_result, tmp_path):
    """Atomic writes must not change the file mode: output files get the mode a plain
    ``open(..., "w")`` gives under the current umask (0o666 & ~umask), so colleagues sharing
    a results folder can read them."""
    _, out = run_result
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = plain.stat().st_mode & 0o777
    modes = {f: oct((out / f).stat().st_mode & 0o777) for f in sorted(RUN_FILES)}
    assert set(modes.values()) == {oct(expected)}, modes


@pytest.mark.parametrize(
    "command", [None, *sorted(set(COMMANDS) | set(sim.interfaces.cli.cli.commands))]
)
def test_help_for_every_command(command, tmp_path):
    """``gsim [COMMAND] --help`` (installed console script) exits 0 with usage on stdout."""
    args = ["--help"] if command is None else [command, "--help"]
    proc = ok(gsim(*args, cwd=tmp_path, script=True))
    assert proc.stdout.startswith("Usage: gsim"), describe(proc)
    if command is None:
        for name in COMMANDS:
            assert name in proc.stdout
    assert proc.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path):
    proc = ok(gsim("--version", cwd=tmp_path, script=True))
    assert sim.__version__ in proc.stdout


def test_validate_and_scenarios_succeed(tmp_path):
    """``gsim validate`` accepts a good file; ``gsim scenarios`` lists every scenario file (from
    the package's folder when the working folder has none)."""
    proc = ok(gsim("validate", BEIJING, "--set", "run.n_smes=1500", cwd=tmp_path))
    assert "ok" in proc.stdout and "beijing_2022" in proc.stdout
    proc = ok(gsim("scenarios", cwd=tmp_path))
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert {p.stem for p in SCENARIOS.glob("*.toml")} <= listed
    assert not any("INVALID" in line for line in proc.stdout.splitlines())
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- compare

COMPARE_SEED = 7
COMPARE_REPS = 3


@pytest.fixture(scope="module")
def compare_result(tmp_path_factory):
    """``gsim compare baseline_2021.toml m03_due_diligence_exemption.toml --reps 3 --out DIR``."""
    work = tmp_path_factory.mktemp("compare")
    out = work / "out"
    args = ("compare", BASE, M03, *SMALL_SETS, "--reps", COMPARE_REPS)
    proc = ok(gsim(*args, "--seed", COMPARE_SEED, "--out", out, cwd=work))
    return proc, out


@pytest.fixture(scope="module")
def compare_api():
    """The same comparison through the Python API."""
    return sim.compare([BASE, M03], replications=COMPARE_REPS, rng=COMPARE_SEED, overrides=SMALL)


def test_compare_writes_tables_manifest_and_figures(compare_result):
    _, out = compare_result
    assert set(os.listdir(out)) == COMPARE_FILES
    assert not list(out.rglob("*.part"))
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["seed"] == COMPARE_SEED and m["replications"] == COMPARE_REPS
    assert [s["name"] for s in m["scenarios"]] == ["baseline_2021", "m03_due_diligence_exemption"]
    assert sorted(m["figures"]) == sorted(f"{f}.png" for f in FIGURES)


@pytest.mark.parametrize("figure", FIGURES)
def test_compare_figures_are_valid_pngs(compare_result, figure):
    """Each figure has the PNG signature, decodes, is of a reasonable size and is not blank."""
    _, out = compare_result
    path = out / f"{figure}.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert path.stat().st_size > 5_000
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] >= 300 and img.shape[1] >= 500, img.shape
    assert float(np.std(img[..., :3])) > 0.01  # not a single colour


def test_compare_tables_equal_python_api(compare_result, compare_api):
    """summary, timeseries and differences.parquet equal those of ``sim.compare(...)``."""
    _, out = compare_result
    for name in ("summary", "timeseries", "differences"):
        cli_table = pd.read_parquet(out / f"{name}.parquet")
        pd.testing.assert_frame_equal(
            cli_table, whole_counts(getattr(compare_api, name)), check_exact=True, obj=name
        )
    diffs = compare_api.differences
    assert set(diffs["outcome"]) >= set(SUMMARY_FIELDS)
    assert set(diffs["scenario"]) == {"baseline_2021", "m03_due_diligence_exemption"}


def test_compare_prints_means_and_paired_differences(compare_result, compare_api, capsys):
    """stdout holds, for each headline outcome, the mean per scenario and the paired difference
    with its 95% CI; the numbers are exactly those of the Python API's differences table."""
    proc, _ = compare_result
    names = ["baseline_2021", "m03_due_diligence_exemption"]
    sim.interfaces.cli.print_comparison(compare_api.differences, names)
    expected = capsys.readouterr().out
    assert expected in proc.stdout, f"printed:\n{proc.stdout}\nfrom the API:\n{expected}"
    d = compare_api.differences.set_index(["outcome", "scenario"])
    lines = proc.stdout.splitlines()
    for outcome in sim.interfaces.cli.HEADLINE:
        (line,) = [ln for ln in lines if ln.split()[:1] == [outcome]]
        row = d.loc[(outcome, names[1])]
        assert sim.interfaces.cli.format_value(outcome, d.loc[(outcome, names[0]), "mean"]) in line
        assert sim.interfaces.cli.format_value(outcome, row["mean"]) in line
        assert "[" in line and "]" in line  # the confidence interval
        assert row["ci_low"] <= row["diff"] <= row["ci_high"] or np.isnan(row["diff"])


def test_compare_header_names_each_scenario_in_its_own_column(compare_result):
    """The header names every compared scenario as a separate word (columns must not run into
    each other when a scenario name is longer than the column)."""
    proc, _ = compare_result
    header = proc.stdout.splitlines()[0].split()
    assert "baseline_2021" in header, proc.stdout.splitlines()[0]
    assert "m03_due_diligence_exemption" in header, proc.stdout.splitlines()[0]


def test_compare_single_scenario_is_accepted(tmp_path):
    """The CLI accepts one scenario (its differences are 0): exit 0, its means are printed and
    all files are written."""
    out = tmp_path / "out"
    proc = ok(gsim("compare", BEIJING, *SMALL_SETS, "--reps", 2, "--out", out, cwd=tmp_path))
    assert "beijing_2022" in proc.stdout.splitlines()[0].split()
    assert set(os.listdir(out)) == COMPARE_FILES
    diffs = pd.read_parquet(out / "differences.parquet")
    assert set(diffs["scenario"]) == {"beijing_2022"}
    assert (diffs["diff"].dropna() == 0).all()


# --------------------------------------------------------------------------- workers, seeds


def test_workers_do_not_change_results(tmp_path):
    """``--workers 1`` and ``--workers 2`` write identical summary and timeseries tables."""
    tables = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        args = ("run", BASE, *SMALL_SETS, "--reps", 3, "--seed", 11, "--workers", workers)
        ok(gsim(*args, "--out", out, "-q", cwd=tmp_path))
        tables[workers] = {
            n: sort_rows(pd.read_parquet(out / f"{n}.parquet")) for n in ("summary", "timeseries")
        }
    for name in ("summary", "timeseries"):
        pd.testing.assert_frame_equal(tables[1][name], tables[2][name], check_exact=True, obj=name)
    assert len(tables[1]["summary"]) == 3


def test_same_command_same_results_and_seed_matters(run_result, tmp_path):
    """The run of ``run_result`` repeated (through the console script) gives identical tables;
    another ``--seed`` gives different results."""
    _, first = run_result
    again = tmp_path / "again"
    ok(
        gsim(
            *("run", BASE, *SMALL_SETS, "--reps", 2, "--seed", 3, "--out", again),
            cwd=tmp_path,
            script=True,
        )
    )
    for name in ("summary", "timeseries"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(again / f"{name}.parquet"),
            pd.read_parquet(first / f"{name}.parquet"),
            check_exact=True,
            obj=name,
        )
    other = tmp_path / "other"
    ok(gsim("run", BASE, *SMALL_SETS, "--reps", 2, "--seed", 4, "--out", other, cwd=tmp_path))
    a = pd.read_parquet(first / "summary.parquet")
    b = pd.read_parquet(other / "summary.parquet")
    assert list(b["seed"]) == [4, 4]
    for outcome in ("lending_volume", "guaranteed_volume", "borrowers"):
        assert not np.array_equal(a[outcome].to_numpy(), b[outcome].to_numpy()), outcome
    ts_a = pd.read_parquet(first / "timeseries.parquet")
    ts_b = pd.read_parquet(other / "timeseries.parquet")
    assert not np.array_equal(ts_a["z"].to_numpy(), ts_b["z"].to_numpy())


# --------------------------------------------------------------------------- output folder


def test_overwrite_replaces_outputs_in_a_non_empty_folder(tmp_path):
    """``--out`` a non-empty folder with ``--overwrite``: exit 0, our files are (re)written, other
    files in the folder are left alone, no ``*.part`` file remains."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    (out / "summary.parquet").write_bytes(b"stale")
    ok(gsim("run", BEIJING, *SMALL_SETS, "--out", out, "--overwrite", cwd=tmp_path))
    assert set(os.listdir(out)) == RUN_FILES | {"notes.txt"}
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert len(pd.read_parquet(out / "summary.parquet")) == 1


def test_existing_empty_out_folder_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    ok(gsim("run", BEIJING, *SMALL_SETS, "--out", out, cwd=tmp_path))
    assert set(os.listdir(out)) == RUN_FILES


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    """An interrupted write leaves neither a file under the final name nor a ``*.part`` file,
    and a previous complete file stays as it was."""
    target = tmp_path / "summary.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"complete")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.parquet"]
    assert target.read_bytes() == b"complete"


# --------------------------------------------------------------------------- bad input

CALIBRATE_SMALL = ("--scenario", "{base}", "--n-smes", "500", "--reps", "1", "--max-evals", "1")
CALIBRATE_SMALL += ("--report", "{tmp}/calib.md")

# (id, arguments); placeholders: {base}, {m03}, {bad} (an out-of-range value), {badtoml},
# {unknown} (an unknown key), {out} (a folder that does not exist), {full} (a non-empty
# folder), {file} (a regular file), {tmp}.
BAD_INPUT = [
    # run
    ("run-missing-file", ["run", "{tmp}/nope.toml", "--out", "{out}"]),
    ("run-invalid-scenario", ["run", "{bad}", "--out", "{out}"]),
    ("run-invalid-toml", ["run", "{badtoml}", "--out", "{out}"]),
    ("run-unknown-key-in-file", ["run", "{unknown}", "--out", "{out}"]),
    ("run-scenario-is-folder", ["run", "{tmp}", "--out", "{out}"]),
    ("run-set-without-equals", ["run", "{base}", "--set", "run.n_smes", "--out", "{out}"]),
    ("run-set-empty-key", ["run", "{base}", "--set", "=5", "--out", "{out}"]),
    ("run-set-unknown-key", ["run", "{base}", "--set", "run.nsmes=1500", "--out", "{out}"]),
    ("run-set-bad-value", ["run", "{base}", "--set", "run.n_smes=abc", "--out", "{out}"]),
    ("run-set-out-of-range", ["run", "{base}", "--set", "run.n_smes=10", "--out", "{out}"]),
    ("run-set-nan", ["run", "{base}", "--set", "credit.pd=nan", "--out", "{out}"]),
    ("run-set-shares", ["run", "{base}", "--set", "bank.share=0.5", "--out", "{out}"]),
    ("run-reps-0", ["run", "{base}", "--reps", "0", "--out", "{out}"]),
    ("run-reps-x", ["run", "{base}", "--reps", "x", "--out", "{out}"]),
    ("run-reps-negative", ["run", "{base}", "--reps", "-1", "--out", "{out}"]),
    ("run-workers-0", ["run", "{base}", "--workers", "0", "--out", "{out}"]),
    ("run-workers-x", ["run", "{base}", "--workers", "x", "--out", "{out}"]),
    ("run-seed-negative", ["run", "{base}", "--seed", "-1", "--out", "{out}"]),
    ("run-seed-x", ["run", "{base}", "--seed", "x", "--out", "{out}"]),
    ("run-unknown-option", ["run", "{base}", "--bogus", "--out", "{out}"]),
    ("run-missing-argument", ["run", "--out", "{out}"]),
    ("run-out-non-empty", ["run", "{base}", "--out", "{full}"]),
    ("run-out-is-file", ["run", "{base}", "--out", "{file}"]),
    ("run-out-under-a-file", ["run", "{base}", "--out", "{file}/sub"]),
    # compare
    ("compare-same-scenario-twice", ["compare", "{base}", "{base}", "--out", "{out}"]),
    ("compare-reps-1", ["compare", "{base}", "{m03}", "--reps", "1", "--out", "{out}"]),
    ("compare-reps-x", ["compare", "{base}", "{m03}", "--reps", "x", "--out", "{out}"]),
    ("compare-missing-second-file", ["compare", "{base}", "{tmp}/nope.toml", "--out", "{out}"]),
    ("compare-invalid-second-file", ["compare", "{base}", "{bad}", "--out", "{out}"]),
    ("compare-set-unknown-key", ["compare", "{base}", "{m03}", "--set", "x.y=1", "--out", "{out}"]),
    ("compare-set-without-equals", ["compare", "{base}", "{m03}", "--set", "x", "--out", "{out}"]),
    ("compare-workers-0", ["compare", "{base}", "{m03}", "--workers", "0", "--out", "{out}"]),
    ("compare-unknown-option", ["compare", "{base}", "{m03}", "--bogus", "--out", "{out}"]),
    ("compare-no-scenarios", ["compare", "--out", "{out}"]),
    ("compare-out-non-empty", ["compare", "{base}", "{m03}", "--out", "{full}"]),
    ("compare-out-is-file", ["compare", "{base}", "{m03}", "--out", "{file}"]),
    # validate
    ("validate-missing-file", ["validate", "{tmp}/nope.toml"]),
    ("validate-invalid-scenario", ["validate", "{bad}"]),
    ("validate-invalid-toml", ["validate", "{badtoml}"]),
    ("validate-unknown-key-in-file", ["validate", "{unknown}"]),
    ("validate-set-without-equals", ["validate", "{base}", "--set", "run.n_smes"]),
    ("validate-set-unknown-key", ["validate", "{base}", "--set", "run.nsmes=1500"]),
    ("validate-set-bad-value", ["validate", "{base}", "--set", "run.n_smes=abc"]),
    ("validate-unknown-option", ["validate", "{base}", "--bogus"]),
    ("validate-missing-argument", ["validate"]),
    # scenarios
    ("scenarios-dir-missing", ["scenarios", "--dir", "{tmp}/nowhere"]),
    ("scenarios-dir-is-file", ["scenarios", "--dir", "{file}"]),
    ("scenarios-unknown-option", ["scenarios", "--bogus"]),
    # calibrate (small budget, report in tmp, so that a wrongly accepted call stays cheap)
    ("calibrate-missing-scenario", ["calibrate", *CALIBRATE_SMALL, "--scenario", "{tmp}/x.toml"]),
    ("calibrate-invalid-scenario", ["calibrate", *CALIBRATE_SMALL, "--scenario", "{bad}"]),
    ("calibrate-n-smes-too-small", ["calibrate", *CALIBRATE_SMALL, "--n-smes", "10"]),
    ("calibrate-reps-0", ["calibrate", *CALIBRATE_SMALL, "--reps", "0"]),
    ("calibrate-max-evals-0", ["calibrate", *CALIBRATE_SMALL, "--max-evals", "0"]),
    ("calibrate-seed-x", ["calibrate", *CALIBRATE_SMALL, "--seed", "x"]),
    ("calibrate-unknown-option", ["calibrate", *CALIBRATE_SMALL, "--bogus"]),
    ("calibrate-report-is-folder", ["calibrate", *CALIBRATE_SMALL, "--report", "{full}"]),
    ("calibrate-report-under-a-file", ["calibrate", *CALIBRATE_SMALL, "--report", "{file}/r.md"]),
    # the group
    ("unknown-command", ["bogus"]),
    ("unknown-global-option", ["--bogus", "run", "{base}"]),
]


@pytest.fixture
def bad_input_folder(tmp_path):
    """A working folder with the files the bad-input cases refer to."""
    (tmp_path / "bad.toml").write_text(
        f'extends = "{BASE.as_posix()}"\n\n[run]\nn_smes = 10\n', encoding="utf-8"
    )
    (tmp_path / "badtoml.toml").write_text("[run\nn_smes = 1500\n", encoding="utf-8")
    (tmp_path / "unknown.toml").write_text(
        f'extends = "{BASE.as_posix()}"\n\n[credit]\npdd = 0.02\n', encoding="utf-8"
    )
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "results.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("args", [a for _, a in BAD_INPUT], ids=[i for i, _ in BAD_INPUT])
def test_bad_input_exit_2_one_line_nothing_written(args, bad_input_folder):
    """Bad input: exit code 2, exactly one line on stderr naming the problem, no traceback,
    nothing on stdout, and nothing written (the --out folder is not created; an existing
    non-empty folder, the scenario files and the working folder are unchanged)."""
    tmp = bad_input_folder
    places = {
        "base": BASE,
        "m03": M03,
        "bad": tmp / "bad.toml",
        "badtoml": tmp / "badtoml.toml",
        "unknown": tmp / "unknown.toml",
        "out": tmp / "out",
        "full": tmp / "full",
        "file": tmp / "afile",
        "tmp": tmp,
    }
    argv = [a.format(**places) if isinstance(a, str) else a for a in args]
    if argv[0] in ("run", "compare"):  # small size first: a case's own --set comes last and wins
        argv = [argv[0], *SMALL_SETS, "-q", *argv[1:]]
    before = snapshot(tmp)
    scenarios_before = snapshot(SCENARIOS) if argv[0] == "calibrate" else None
    proc = gsim(*argv, cwd=tmp, timeout=120)
    assert proc.returncode == 2, describe(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, describe(proc)
    assert lines[0].startswith("gsim") and "error" in lines[0], describe(proc)
    assert "Traceback" not in proc.stderr + proc.stdout, describe(proc)
    assert proc.stdout == "", describe(proc)
    assert not (tmp / "out").exists(), describe(proc)
    assert snapshot(tmp) == before, describe(proc)
    if scenarios_before is not None:
        assert snapshot(SCENARIOS) == scenarios_before


def test_bad_input_messages_name_the_problem(bad_input_folder):
    """The one-line messages name the file, the key, the value and what is allowed."""
    tmp = bad_input_folder
    line = gsim("validate", tmp / "bad.toml", cwd=tmp).stderr.strip()
    assert "bad.toml" in line and "run.n_smes" in line and "10" in line and "50" in line, line
    line = gsim("validate", BASE, "--set", "run.nsmes=1500", cwd=tmp).stderr.strip()
    assert "run.nsmes" in line and "run.n_smes" in line, line  # did you mean
    line = gsim("run", BASE, "--reps", "0", cwd=tmp).stderr.strip()
    assert "--reps" in line and "0" in line, line
    line = gsim("run", BASE, "--out", tmp / "full", cwd=tmp).stderr.strip()
    assert "--overwrite" in line and "full" in line, line


def test_no_command_prints_usage_or_one_line(tmp_path):
    """Bare ``gsim``: either the usage on stdout with exit 0, or bad input (exit 2, one line on
    stderr) -- not the whole help text wrapped in an error line."""
    proc = gsim(cwd=tmp_path)
    if proc.returncode == 0:
        assert "Usage" in proc.stdout and proc.stderr == "", describe(proc)
    else:
        assert proc.returncode == 2, describe(proc)
        assert len(proc.stderr.splitlines()) == 1, describe(proc)


def test_calibrate_smoke_writes_only_the_report(tmp_path):
    """A tiny calibration exits 0, writes its report and leaves the scenario file unchanged
    (no --write)."""
    scenario = tmp_path / "baseline_2021.toml"
    shutil.copy(BASE, scenario)
    report = tmp_path / "calib.md"
    args = ("calibrate", "--scenario", scenario, "--n-smes", 500, "--reps", 1, "--max-evals", 2)
    ok(gsim(*args, "--report", report, "-q", cwd=tmp_path, timeout=120))
    assert "## Result" in report.read_text(encoding="utf-8")
    assert scenario.read_bytes() == BASE.read_bytes()
    assert {p.name for p in tmp_path.iterdir()} == {"baseline_2021.toml", "calib.md"}


# --------------------------------------------------------------------------- internal error


@pytest.mark.parametrize("command", ["run", "compare"])
def test_internal_error_exit_1_one_line(command, monkeypatch, capsys, tmp_path):
    """An unexpected exception inside a command: ``main`` returns 1 and prints one line starting
    with ``gsim: internal error`` (no traceback)."""
    import sim.experiments.replications

    def boom(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(sim.experiments.replications, "run_replications", boom)
    monkeypatch.setattr(sim.experiments.replications, "compare", boom)
    files = [BEIJING] if command == "run" else [BEIJING, tmp_path / "other.toml"]
    if command == "compare":
        (tmp_path / "other.toml").write_text(
            f'extends = "{BEIJING.as_posix()}"\n', encoding="utf-8"
        )
    argv = [command, *map(str, files), *SMALL_SETS, "-q", "--out", str(tmp_path / "out")]
    code = sim.interfaces.cli.main(argv)
    captured = capsys.readouterr()
    assert code == 1, captured
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("gsim: internal error"), lines[0]
    assert "RuntimeError" in lines[0] and "injected failure" in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""
