"""The research API of sweeps: ``sim.Sweep`` -> ``.run()`` -> ``SweepResult`` (issue 19).

- ``gsim sweep`` / ``gsim sensitivity`` and the API give the same files, bit for bit;
- a sweep made from Python values equals the same sweep written as a file;
- ``.with_()`` changes keys and validates again; ``out=None`` runs in a temporary folder;
- the declared schema (``SweepSpec``, ``Key``, ``check_keys``) does the checking;
- the README's example of the API runs as written.

Sweeps here are tiny (a few hundred SMEs, a few months) on the registry defaults or the
repository's scenarios.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import sim
import sim.experiments.sweeps as sweeps
import sim.interfaces.cli
from sim.experiments.sweeps import Key, Sweep, SweepOptionError, SweepResult, SweepSpec, check_keys
from sim.outcome_registry import whole_counts
from sim.outputs import OutputError
from sim.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BASE = "[run]\nn_smes = 300\nhorizon = 3\nburn_in = 1\n"

#: A grid: 3 x 2 points x 2 replications, the guarantor's share balancing.
GRID = """description = "a tiny grid"
base = "base.toml"
design = "grid"
replications = 2
seed = 5
balance = "guarantor.share"
outcomes = ["lending_volume", "guaranteed_volume"]

[set]
"run.horizon" = 2

[parameters]
"bank.share" = { values = [0.0, 0.1, 0.2] }
"government.fee_subsidy_rate" = { low = 0.0, high = 0.01, levels = 2 }
"""

#: A Sobol design: 4 x (2 + 2) = 16 points, one replication each.
SOBOL = """base = "base.toml"
design = "sobol"
samples = 4
replications = 1
seed = 3
balance = "guarantor.share"
outcomes = ["lending_volume", "guaranteed_volume"]

[parameters]
"bank.share" = { low = 0.0, high = 0.3 }
"credit.pd" = { low = 0.01, high = 0.03 }
"""


PD = {"values": [0.01, 0.02]}


def write(folder: Path, name: str, body: str) -> Path:
    """A sweep file ``name`` with ``base.toml`` beside it."""
    (folder / "base.toml").write_text(BASE, encoding="utf-8")
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def gsim(capsys, *args) -> tuple[int, str, str]:
    """``sim.interfaces.cli.main(args)`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = sim.interfaces.cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _runs(temp: Path) -> list[int]:
    """Number of run files in each sweep folder under ``temp``."""
    return [len(list((d / "runs").glob("*.parquet"))) for d in temp.glob("gsim-sweep-*")]


def folder_files(out: Path) -> dict[str, bytes]:
    """Run files and merged Parquet files of a sweep folder: relative name -> bytes."""
    names = sorted(p for p in out.rglob("*.parquet"))
    return {str(p.relative_to(out)): p.read_bytes() for p in names}


# ============================================================================ API = CLI
def test_api_and_gsim_sweep_write_identical_files(tmp_path, capsys):
    """The same sweep file through `gsim sweep` and through Sweep.from_file(...).run(...)
    gives byte-identical run files, summary, timeseries and design files, the same
    fingerprint, and a result whose tables equal the files."""
    f = write(tmp_path, "grid.toml", GRID)
    code, stdout, err = gsim(capsys, "sweep", f, "--out", tmp_path / "cli", "--workers", "1", "-q")
    assert code == 0, err
    assert "12 runs: 12 ran, 0 already finished, 0 failed" in stdout

    result = Sweep.from_file(f).run(workers=1, out=tmp_path / "api")
    assert isinstance(result, SweepResult)
    assert result.counts == {"total": 12, "skipped": 0, "ok": 12, "failed": 0}
    assert result.out == tmp_path / "api"

    cli, api = folder_files(tmp_path / "cli"), folder_files(tmp_path / "api")
    assert len([n for n in cli if n.startswith("runs/")]) == 12
    assert {"summary.parquet", "timeseries.parquet", "design.parquet"} <= set(cli)
    assert cli.keys() == api.keys()
    for name in cli:
        assert cli[name] == api[name], f"{name} differs between gsim sweep and the API"
    fp = [json.loads((tmp_path / d / "sweep.json").read_text()) for d in ("cli", "api")]
    assert fp[0] == fp[1]

    stored = {
        n: pd.read_parquet(tmp_path / "api" / f"{n}.parquet") for n in ("summary", "timeseries")
    }
    assert_frame_equal(whole_counts(result.summary), stored["summary"])
    assert_frame_equal(whole_counts(result.timeseries), stored["timeseries"])
    assert_frame_equal(result.design, pd.read_parquet(tmp_path / "api" / "design.parquet"))
    assert list(result.design.columns) == ["point", "bank.share", "government.fee_subsidy_rate"]
    assert result.failed.empty
    manifest = json.loads((tmp_path / "api" / "manifest.json").read_text())
    assert manifest["sweep"]["file"] == str(f)
    assert manifest["sweep"]["fingerprint"] == fp[0]["fingerprint"]
    assert manifest["runs"] == result.counts


def test_api_sensitivity_equals_gsim_sensitivity(tmp_path, capsys, monkeypatch):
    """`gsim sensitivity` writes the indices of SweepResult.sensitivity(), and the same
    summary; with out=None the API runs in a temporary folder that is removed after."""
    f = write(tmp_path, "sobol.toml", SOBOL)
    out = tmp_path / "cli"
    code, stdout, err = gsim(capsys, "sensitivity", f, "--out", out, "--workers", "1", "-q")
    assert code == 0, err
    assert "16 runs: 16 ran" in stdout

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    during = []
    result = Sweep.from_file(f).run(workers=1, progress=lambda ok: during.append(_runs(temp)))
    assert during == [[i] for i in range(1, 17)], "each run written in one temporary folder"
    assert result.out is None
    assert list(temp.iterdir()) == [], "the temporary folder is removed"
    table = result.sensitivity()
    assert_frame_equal(table, pd.read_parquet(out / "sensitivity.parquet"))
    assert_frame_equal(whole_counts(result.summary), pd.read_parquet(out / "summary.parquet"))
    assert list(table["outcome"].unique()) == ["lending_volume", "guaranteed_volume"]
    assert list(table["parameter"][:2]) == ["bank.share", "credit.pd"]
    assert np.isfinite(table[["S1", "ST", "S1_conf", "ST_conf"]].to_numpy()).all()
    # one outcome on request, the same numbers as in the whole table
    one = result.sensitivity("guaranteed_volume")
    assert_frame_equal(one, table[table["outcome"] == "guaranteed_volume"].reset_index(drop=True))
    with pytest.raises(ValueError, match="'no_such_outcome'"):
        result.sensitivity(["no_such_outcome"])


def test_gsim_commands_run_through_sweep_run(tmp_path, capsys, monkeypatch):
    """`gsim sweep` and `gsim sensitivity` call Sweep.run (the CLI holds no pipeline of
    its own), with the options as given."""
    calls = []
    real = Sweep.run

    def spy(self, **kwargs):
        calls.append((self.path, kwargs))
        return real(self, **kwargs)

    monkeypatch.setattr(Sweep, "run", spy)
    f = write(tmp_path, "sobol.toml", SOBOL)
    for command in ("sweep", "sensitivity"):
        out = tmp_path / command
        code, _, err = gsim(capsys, command, f, "--out", out, "--workers", "1", "-q")
        assert code == 0, err
    expected = {"workers": 1, "scheduler": None, "resume": False, "overwrite": False}
    assert [(p, {k: kw[k] for k in expected}) for p, kw in calls] == [(str(f), expected)] * 2
    assert [str(kw["out"]) for _, kw in calls] == [
        str(tmp_path / c) for c in ("sweep", "sensitivity")
    ]


# ============================================================================ Python values
def test_sweep_from_python_values_equals_the_file(tmp_path):
    """Sweep(base, parameters, design, replications, ...) with the file's keys plans the
    same runs (run ids, scenarios, fingerprint) as the file itself."""
    f = write(tmp_path, "grid.toml", GRID)
    from_file = Sweep.from_file(f)
    made = Sweep(
        tmp_path / "base.toml",
        {
            "bank.share": {"values": [0.0, 0.1, 0.2]},
            "government.fee_subsidy_rate": {"low": 0.0, "high": 0.01, "levels": 2},
        },
        "grid",
        2,
        seed=5,
        set={"run.horizon": 2},
        balance="guarantor.share",
        outcomes=["lending_volume", "guaranteed_volume"],
        description="a tiny grid",
        name="grid",
    )
    assert made.path is None and made.source == "grid"
    for attr in ("replications", "seed", "balance", "outcomes", "fixed", "kinds", "design"):
        assert getattr(made, attr) == getattr(from_file, attr), attr
    assert dict(made.base.values) == dict(from_file.base.values)
    a, b = sweeps.plan_runs(made), sweeps.plan_runs(from_file)
    assert [s.run_id for s in a] == [s.run_id for s in b]
    assert [s.scenario.name for s in a] == [s.scenario.name for s in b]
    assert sweeps.fingerprint(made)["fingerprint"] == sweeps.fingerprint(from_file)["fingerprint"]
    assert (made.points, made.runs) == (6, 12)
    # a Scenario is a base too
    scenario = sim.load_scenario(tmp_path / "base.toml")
    again = Sweep(
        scenario,
        made.spec.parameters,
        "grid",
        2,
        seed=5,
        set={"run.horizon": 2},
        balance="guarantor.share",
        name="grid",
    )
    assert [s.run_id for s in sweeps.plan_runs(again)] == [s.run_id for s in a]


def test_sweep_from_python_values_is_validated_like_a_file(tmp_path):
    """The constructor's keys go through the same schema: one-line messages naming the
    sweep (its name), the key, the value and what is allowed."""
    base = tmp_path / "base.toml"
    base.write_text(BASE)
    params = {"bank.share": {"values": [0.0, 0.1]}}
    cases = [
        (dict(replications=0), "mine: replications = 0: expected an integer in [1, 100000]"),
        (dict(design="factorial"), "mine: design = \"factorial\": expected one of 'grid'"),
        (dict(design="sobol"), "mine: samples: missing; expected an integer in [1, 1000000]"),
        (dict(seed=-1), "mine: seed = -1: expected an integer in [0, 2**63 - 1]"),
        (dict(outcomes=["nope"]), 'mine: outcomes = "nope": unknown outcome'),
        (dict(outcomes="lending_volume"), 'mine: outcomes = "lending_volume": expected a list'),
        (dict(balance="bank.share"), "balance share cannot also be varied"),
        (dict(set={"credit.pdd": 0.1}), "mine [set]: credit.pdd = 0.1: unknown key"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ScenarioError) as exc:
            Sweep(base, params, name="mine", **kwargs)
        assert needle in str(exc.value), (kwargs, str(exc.value))
        assert "\n" not in str(exc.value)
    with pytest.raises(ScenarioError, match=r"mine \[parameters\]: bank\.shar = .*did you mean"):
        Sweep(base, {"bank.shar": {"values": [0.1]}}, name="mine")
    with pytest.raises(ScenarioError, match="mine: parameters = {...}: expected a table"):
        Sweep(base, {}, name="mine")
    with pytest.raises(ScenarioError, match="mine: base = 'nope': no such scenario file or name"):
        Sweep("nope", params, name="mine")


# ============================================================================ with_
def test_with_changes_keys_and_validates_again(tmp_path):
    """with_() merges set and parameters (in place; None removes), replaces other keys,
    and gives the sweep a file with the same values would give; the original is unchanged."""
    f = write(tmp_path, "grid.toml", GRID)
    sweep = Sweep.from_file(f)
    changed = sweep.with_(
        n_smes=400,
        horizon=3,
        replications=3,
        seed=9,
        parameters={"bank.share": {"values": [0.05, 0.15]}},
    )
    body = (
        GRID.replace("replications = 2", "replications = 3")
        .replace("seed = 5", "seed = 9")
        .replace('"run.horizon" = 2', '"run.horizon" = 3\n"run.n_smes" = 400')
        .replace("[0.0, 0.1, 0.2]", "[0.05, 0.15]")
    )
    same = Sweep.from_file(write(tmp_path, "grid.toml", body))  # same name: same scenarios
    assert [s.run_id for s in sweeps.plan_runs(changed)] == [
        s.run_id for s in sweeps.plan_runs(same)
    ]
    assert changed.design.names == ("bank.share", "government.fee_subsidy_rate")
    assert changed.fixed == {"run.horizon": 3, "run.n_smes": 400}
    assert changed.source == f"{f} (with changes)" and changed.path == str(f)
    assert (sweep.replications, sweep.seed, sweep.points) == (2, 5, 6)  # unchanged

    fewer = changed.with_(parameters={"government.fee_subsidy_rate": None})
    assert fewer.design.names == ("bank.share",) and fewer.source == f"{f} (with changes)"
    other = changed.with_(balance=None, parameters={"bank.share": None, "credit.pd": PD})
    assert other.balance is None and "guarantor.share" not in sweeps.plan_runs(other)[0].values
    assert other.design.names == ("government.fee_subsidy_rate", "credit.pd")
    sobol = sweep.with_(
        design="sobol",
        samples=2,
        parameters={"bank.share": {"low": 0.0, "high": 0.2}},
    )
    assert sobol.points == 2 * (2 + 2)
    with pytest.raises(ScenarioError, match=r"\(with changes\): samples = 0: expected an integer"):
        sobol.with_(samples=0)
    with pytest.raises(ScenarioError, match="replicatons = 2: unknown sweep key; did you mean"):
        sweep.with_(replicatons=2)
    with pytest.raises(ScenarioError, match=r"\[set\]: run.n_smes = -5: "):
        sweep.with_(n_smes=-5)
    with pytest.raises(AttributeError, match="with_"):
        sweep.seed = 1


# ============================================================================ run options
def test_run_refuses_bad_options_before_anything_is_made(tmp_path, monkeypatch):
    """Bad options and an unusable folder raise before any work and create nothing."""

    def stop(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(sweeps.sweep, "execute", stop)  # as Sweep.run calls it
    sweep = Sweep.from_file(write(tmp_path, "grid.toml", GRID))
    out = tmp_path / "o"
    with pytest.raises(SweepOptionError, match="resume: needs out"):
        sweep.run(resume=True)
    with pytest.raises(SweepOptionError, match="--workers and --scheduler exclude each other"):
        sweep.run(workers=2, scheduler="tcp://127.0.0.1:8786", out=out)
    with pytest.raises(SweepOptionError, match="SCHEME://HOST:PORT"):
        sweep.run(scheduler="ftp://x:1", out=out)
    for workers in (0, -1, 1.5, True):
        with pytest.raises(SweepOptionError, match="expected a positive integer"):
            sweep.run(workers=workers, out=out)
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty; use --overwrite"):
        sweep.run(workers=1, out=out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_run_calls_progress_and_resumes(tmp_path):
    """progress is called once per run that ran; resume=True skips finished runs and
    returns the same results."""
    sweep = Sweep.from_file(write(tmp_path, "grid.toml", GRID)).with_(replications=1)
    seen = []
    first = sweep.run(workers=1, out=tmp_path / "o", progress=seen.append)
    assert seen == [True] * 6
    seen.clear()
    again = sweep.run(workers=1, out=tmp_path / "o", resume=True, progress=seen.append)
    assert seen == [] and again.counts == {"total": 6, "skipped": 6, "ok": 0, "failed": 0}
    assert_frame_equal(first.summary, again.summary)
    assert "6 runs, 0 ran, 6 already finished" in repr(again)


def test_grid_result_has_no_sensitivity(tmp_path):
    sweep = Sweep.from_file(write(tmp_path, "grid.toml", GRID)).with_(
        replications=1, parameters={"government.fee_subsidy_rate": None}
    )
    result = sweep.run(workers=1)
    with pytest.raises(ValueError, match="design = 'grid': sensitivity analysis needs"):
        result.sensitivity()


# ============================================================================ the schema
def test_top_keys_are_the_declared_fields_each_with_a_rule():
    """The sweep file's keys are SweepSpec's fields, each declared with a Key and a rule."""
    assert sweeps.TOP_KEYS == tuple(f.name for f in fields(SweepSpec))
    assert set(sweeps.TOP_KEYS) == {
        "base", "design", "replications", "seed", "samples", "levels", "description",
        "outcomes", "set", "balance", "parameters",
    }  # fmt: skip
    for f in fields(SweepSpec):
        assert isinstance(f.metadata["key"], Key) and f.metadata["key"].rule, f.name
    assert sweeps.PARAMETER_KEYS == ("values", "low", "high", "levels")


@dataclass(frozen=True)
class Toy:
    """A schema of two keys, for check_keys itself."""

    mode: str = sweeps.key_field(
        "a", rule="expected one of 'a', 'b'", types=(str,), choices=("a", "b")
    )
    count: int | None = sweeps.key_field(
        rule="expected an integer in [1, 9] for mode {mode!r}",
        types=(int,),
        low=1,
        high=9,
        required=lambda before: before["mode"] == "b",
    )


def _unknown(key, value):
    raise ScenarioError(f"toy: {key}: unknown")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "c"}, "toy: mode = \"c\": expected one of 'a', 'b'"),
        ({"mode": 1}, "toy: mode = 1: expected one of 'a', 'b'"),
        ({"mode": "b"}, "toy: count: missing; expected an integer in [1, 9] for mode 'b'"),
        ({"mode": "b", "count": 10}, "toy: count = 10: expected an integer in [1, 9] for mode 'b'"),
        ({"count": True}, "toy: count = true: expected an integer in [1, 9] for mode 'a'"),
        ({"count": 1.0}, "toy: count = 1.0: expected an integer in [1, 9] for mode 'a'"),
        ({"other": 1}, "toy: other: unknown"),
    ],
)
def test_check_keys_refuses_with_the_declared_rule(data, message):
    with pytest.raises(ScenarioError) as exc:
        check_keys(Toy, data, "toy", _unknown)
    assert str(exc.value) == message


def test_check_keys_returns_the_given_values_and_the_defaults():
    assert check_keys(Toy, {}, "toy", _unknown) == Toy("a", None)
    assert check_keys(Toy, {"mode": "b", "count": 3}, "toy", _unknown) == Toy("b", 3)
    seen = []
    check_keys(Toy, {"count": 2}, "toy", _unknown, after={"mode": lambda v: seen.append(dict(v))})
    assert seen == [{"mode": "a"}]  # called once mode is checked, before count


def test_sweeps_imports_no_private_names():
    """sim.experiments.sweeps uses only public names of the modules outside it (its own
    modules share private helpers)."""
    for path in sorted((REPO / "sim" / "experiments" / "sweeps").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        outside = r"(?:\.\.+|sim\.)[\w.]*"
        hits = re.findall(
            rf"from {outside} import[^\n(]*\b_\w+|from {outside} import \([^)]*\b_[a-z]\w*", text
        )
        assert hits == [], path.name
        assert "make_sweep_executor" not in text


# ============================================================================ README
def readme_example() -> str:
    """The Python block of the README's section on sweeps."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Sweeps and sensitivity analysis", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "one Python example in the section"
    return blocks[0]


def test_readme_example_is_five_lines_of_the_api():
    code = readme_example()
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) == 5, code
    assert "sim.Sweep.from_file(" in code and ".run(" in code and ".sensitivity()" in code


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's example, run as written (its size is small) in a fresh folder: it
    writes out/sobol, returns a summary of every run and the indices of every outcome."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)  # noqa: S102
    result, sweep = namespace["result"], namespace["sweep"]
    assert len(result.summary) == sweep.runs == result.counts["ok"]
    table = result.sensitivity()
    assert len(table) == len(sweep.outcomes) * len(sweep.design.names)
    out = tmp_path / "out" / "sobol"
    assert (out / "summary.parquet").is_file() and (out / "sweep.json").is_file()
    assert len(list((out / "runs").glob("*.parquet"))) == sweep.runs


def test_absurd_grid_size_is_one_line_not_an_overflow(tmp_path, capsys):
    """A grid range with 10**400 levels is refused by the size check in one line (its
    memory estimate used to overflow a float: an internal error)."""
    body = GRID.replace("levels = 2", "levels = " + "1" + "0" * 400)
    f = write(tmp_path, "huge.toml", body)
    code, stdout, err = gsim(capsys, "sweep", f, "--out", tmp_path / "o", "-q")
    assert (code, stdout) == (2, "")
    assert len(err.splitlines()) == 1 and "design points" in err and " PiB of memory" in err
    assert not (tmp_path / "o").exists()
    assert (
        sweeps.design._bytes(10**400).endswith(" PiB")
        and sweeps.design._bytes(1 << 20) == "1.0 MiB"
    )
