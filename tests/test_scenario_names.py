"""Scenario and sweep files by name as well as by path (issue 19, item 7).

``gsim run baseline_2021`` (a name: no ``.toml``, no folder, not an existing path) runs
``./scenarios/baseline_2021.toml`` if the working folder has one, else the copy installed with
gsim (:func:`sim.scenario.packaged_scenarios`: ``sim/scenarios/`` in a wheel, the checkout's
``scenarios/`` here). Paths behave exactly as before, messages included. The CLI is called
in-process (``sim.interfaces.cli.main``) from a working folder outside the checkout.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pandas as pd
import pytest

import sim.scenario
from sim.experiments.sweeps import load_sweep
from sim.interfaces.cli import main
from sim.scenario import (
    ScenarioError,
    find_scenario,
    known_names,
    load_scenario,
    lookup_name,
    packaged_scenarios,
)

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
TINY = ("--set", "run.n_smes=300", "--set", "run.horizon=2", "--set", "run.burn_in=0")
SCENARIO_NAMES = sorted(f.stem for f in SCENARIOS.glob("*.toml"))
SWEEP_NAMES = sorted(f.stem for f in (SCENARIOS / "sweeps").glob("*.toml"))


def gsim(capsys, *args) -> tuple[int, str, str]:
    """``gsim ARGS`` in-process: exit code, stdout, stderr."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """An empty working folder outside the checkout (no ./scenarios)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the folder


def test_packaged_folder_holds_the_repository_scenarios():
    """Wherever gsim runs from (checkout or installed wheel), its scenario folder holds every
    scenario, sweep and target file of the repository, byte for byte."""
    folder = packaged_scenarios()
    for sub in ("", "sweeps", "targets"):
        names = sorted(f.name for f in (SCENARIOS / sub).glob("*.toml"))
        assert names, sub
        match, mismatch, errors = filecmp.cmpfiles(SCENARIOS / sub, folder / sub, names, False)
        assert (mismatch, errors) == ([], []), (sub, mismatch, errors)


def test_installed_folder_comes_before_the_checkout(tmp_path, monkeypatch):
    """``sim/scenarios`` (a wheel's layout) is used when it exists; otherwise the folder beside
    the package (a checkout's layout)."""
    package = tmp_path / "site" / "sim"
    package.mkdir(parents=True)
    monkeypatch.setattr(sim.scenario, "__file__", str(package / "scenario.py"))
    assert packaged_scenarios() == tmp_path / "site" / "scenarios"
    (package / "scenarios").mkdir()
    assert packaged_scenarios() == package / "scenarios"


# --------------------------------------------------------------------------- lookup


def test_name_is_found_among_the_installed_scenarios(elsewhere):
    """From a folder without ./scenarios a name loads the installed file, with the values of
    the repository's file (its ``extends`` resolved beside it)."""
    sc = load_scenario("beijing_2022")
    assert Path(sc.path) == packaged_scenarios() / "beijing_2022.toml"
    assert sc.name == "beijing_2022"
    assert sc.values == load_scenario(SCENARIOS / "beijing_2022.toml").values
    assert known_names() == SCENARIO_NAMES
    assert known_names("sweeps") == SWEEP_NAMES


def test_working_folder_scenarios_come_first(elsewhere):
    """./scenarios/NAME.toml wins over the installed file of that name; names only it has are
    found and listed too."""
    write(
        elsewhere / "scenarios" / "baseline_2021.toml",
        'description = "local copy"\n[run]\nn_smes = 123\n',
    )
    write(elsewhere / "scenarios" / "mine.toml", 'extends = "baseline_2021.toml"\n')
    local = load_scenario("baseline_2021")
    assert local.path == str(Path("scenarios") / "baseline_2021.toml")
    assert (local.description, local["run.n_smes"]) == ("local copy", 123)
    mine = load_scenario("mine", overrides={"run.horizon": 3})
    assert (mine["run.n_smes"], mine["run.horizon"]) == (123, 3)
    assert "mine" in known_names() and "beijing_2022" in known_names()
    # a name only the installed folder has is still found there
    assert Path(load_scenario("beijing_2022").path).parent == packaged_scenarios()


def test_an_existing_path_is_never_taken_for_a_name(elsewhere):
    """A file called ``beijing_2022`` (no suffix) in the working folder is that file."""
    write(elsewhere / "beijing_2022", 'description = "a file named like a scenario"\n')
    sc = load_scenario("beijing_2022")
    assert sc.path == "beijing_2022"
    assert sc.description == "a file named like a scenario"
    assert find_scenario("beijing_2022") == Path("beijing_2022")


@pytest.mark.parametrize("ref", ["beijing_2022.toml", "scenarios/beijing_2022", "../x", "a b"])
def test_what_is_not_a_name_stays_a_path(ref, elsewhere):
    """With a suffix, a folder or any other character it is a path, looked up nowhere else."""
    assert find_scenario(ref) == Path(ref)
    assert lookup_name(ref) is None
    with pytest.raises(ScenarioError, match=r": file not found$"):
        load_scenario(ref)


def test_unknown_name_lists_the_known_names(elsewhere):
    with pytest.raises(ScenarioError) as info:
        load_scenario("nope")
    assert str(info.value) == (
        f"nope: no such scenario file or name (known names: {', '.join(SCENARIO_NAMES)})"
    )


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "nope"),
        ("run", "nope", "--out", "o", "-q"),
        ("compare", "baseline_2021", "nope", "--out", "o", "-q"),
    ],
)
def test_cli_unknown_name_is_one_line_bad_input(args, elsewhere, capsys):
    """Exit 2, one line on stderr naming the name and the known names, nothing written."""
    code, out, err = gsim(capsys, *args)
    assert code == 2
    assert out == ""
    assert err == (
        "gsim: error: nope: no such scenario file or name "
        f"(known names: {', '.join(SCENARIO_NAMES)})\n"
    )
    assert list(elsewhere.iterdir()) == []


def test_cli_unknown_sweep_name(elsewhere, capsys):
    code, out, err = gsim(capsys, "sweep", "nope", "--out", "o", "-q")
    assert (code, out) == (2, "")
    assert err == (
        f"gsim: error: nope: no such sweep file or name (known names: {', '.join(SWEEP_NAMES)})\n"
    )
    assert list(elsewhere.iterdir()) == []


def test_cli_paths_keep_their_messages(elsewhere, capsys):
    """A missing path (with ``.toml`` or a folder) is reported as before."""
    for ref in ("nope.toml", "sub/nope"):
        code, out, err = gsim(capsys, "validate", ref)
        assert (code, out, err) == (2, "", f"gsim: error: {ref}: file not found\n")


def test_cli_validate_by_name(elsewhere, capsys):
    write(elsewhere / "scenarios" / "mine.toml", 'description = "my scenario"\n')
    code, out, err = gsim(capsys, "validate", "mine")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "mine: ok (mine: my scenario)"
    code, out, _ = gsim(capsys, "validate", "m03_due_diligence_exemption")
    assert code == 0 and out.splitlines()[-1].startswith("m03_due_diligence_exemption: ok (")


def test_cli_run_by_name_equals_run_by_path(elsewhere, capsys):
    """`gsim run beijing_2022` runs the installed file: the same summary as by path; the
    manifest records the file that ran."""
    for ref, out in (("beijing_2022", "by_name"), (SCENARIOS / "beijing_2022.toml", "by_path")):
        code, stdout, err = gsim(capsys, "run", ref, *TINY, "--seed", 5, "--out", out, "-q")
        assert code == 0, err
        assert stdout.startswith("outcome (mean)") and "beijing_2022" in stdout.splitlines()[0]
    by_name = pd.read_parquet(elsewhere / "by_name" / "summary.parquet")
    by_path = pd.read_parquet(elsewhere / "by_path" / "summary.parquet")
    pd.testing.assert_frame_equal(by_name, by_path)
    manifest = json.loads((elsewhere / "by_name" / "manifest.json").read_text(encoding="utf-8"))
    (scenario,) = manifest["scenarios"]
    assert Path(scenario["path"]) == packaged_scenarios() / "beijing_2022.toml"


def test_cli_compare_by_names(elsewhere, capsys):
    code, out, err = gsim(
        capsys, "compare", "baseline_2021", "m03_due_diligence_exemption", "--reps", 2, *TINY, "-q"
    )
    assert code == 0, err
    header = out.splitlines()[0]
    assert "baseline_2021" in header and "m03_due_diligence_exemption" in header


# --------------------------------------------------------------------------- sweeps


def test_sweep_file_by_name(elsewhere):
    """A sweep name is looked up in scenarios/sweeps/; its relative ``base`` resolves beside the
    installed file."""
    sweep = load_sweep("risk_share_fee_grid")
    assert Path(sweep.path) == packaged_scenarios() / "sweeps" / "risk_share_fee_grid.toml"
    assert sweep.base.name == "beijing_2022"
    assert sweep.fixed["run.n_smes"] == 10000


def test_sweep_base_by_name(elsewhere):
    """``base = "NAME"`` is a scenario's name when no such file is beside the sweep file."""
    body = (
        'base = "{base}"\nbalance = "guarantor.share"\n'
        '[parameters]\n"bank.share" = {{ values = [0.1] }}\n'
    )
    sweep = load_sweep(write(elsewhere / "s.toml", body.format(base="beijing_2022")))
    assert sweep.base.values == load_scenario(SCENARIOS / "beijing_2022.toml").values
    write(elsewhere / "scenarios" / "beijing_2022.toml", "[run]\nn_smes = 777\n")
    assert load_sweep(elsewhere / "s.toml").base["run.n_smes"] == 777  # ./scenarios first
    write(elsewhere / "beijing_2022", "[run]\nn_smes = 555\n")
    assert load_sweep(elsewhere / "s.toml").base["run.n_smes"] == 555  # a file beside it
    with pytest.raises(ScenarioError) as info:
        load_sweep(write(elsewhere / "t.toml", body.format(base="nope")))
    assert str(info.value).startswith(
        f"{elsewhere / 't.toml'}: base = 'nope': no such scenario file or name (known names: "
    )
