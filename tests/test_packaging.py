"""Packaging a user can trust (issue 19, item 7).

- One version source: ``sim.__version__``; pyproject declares the version dynamic.
- Extras composed from each other: ``dev`` is ``guarantee-sim[dask,viz,report]`` plus tools.
- The manifest records the versions of Python, numpy, Mesa and gsim, and the git commit when
  gsim runs from a git checkout (never failing for want of git).
- The built wheel holds the scenario, sweep and target files, and, installed into a fresh
  virtual environment, runs ``gsim run baseline_2021 --reps 1`` from a folder outside the
  checkout.

How the wheel is tested (measured on the 2-core development machine): the source is copied
(tracked and untracked-but-not-ignored files) to a temporary folder and built there with
``pip wheel --no-deps`` (about 6 s; a build in the checkout would leave ``build/`` behind and
could pick stale files from it). The fresh environment is ``python -m venv --without-pip``
outside the checkout. Installing the wheel's dependencies from the package index into it takes
about 50 s and 660 MB here (minutes on a cold cache), so instead the environment is given the
*current* environment's site-packages as a trailing ``sys.path`` entry (a ``.pth`` file; a venv
made with ``--system-site-packages`` from a venv would see the base interpreter's packages, not
this environment's) and the wheel is installed with ``pip install --no-index``, dependencies
*not* skipped: pip checks that every declared requirement is met. The wheel's own ``sim`` comes
first on the path (asserted). What that set-up could hide, a module that ``sim`` imports but the
wheel does not declare, is checked separately: every import in the wheel's code must come from
the declared requirements or what they require in turn. Everything together takes about 15 s;
the tests skip (saying so) only when no package index can supply setuptools for the build.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import platform
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import mesa
import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import sim
from sim.outputs import build_manifest, git_revision, software_versions
from sim.scenario import default_scenario

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
PROJECT = "guarantee-sim"
#: Modules of ``sim`` that belong to an extra (the dashboard), and the imports elsewhere that
#: come from an extra (``gsim sweep --scheduler``); every other import is a base requirement's.
#: The package's modules in the wheel (subpackages included; not the scenario data folder).
SIM_MODULE = r"sim/(?!scenarios/)[\w/]+\.py"
#: Modules (paths under sim/) that may import the packages of an extra.
EXTRA_MODULES = {
    "interfaces/app.py": "viz",
    "interfaces/dashboard_session.py": "viz",
    "interfaces/dashboard_server.py": "viz",
    # the report notebooks' helpers show figures and tables through IPython (report extra)
    "interfaces/report.py": "report",
    "interfaces/report_package.py": "report",
    "interfaces/report_sweeps.py": "report",
    "interfaces/report_sobol.py": "report",
}
EXTRA_IMPORTS = {"distributed": "dask"}
#: Files of scenarios/ the wheel ships (as sim/scenarios/...).
SHIPPED = ("*.toml", "sweeps/*.toml", "targets/*.toml", "ensembles/*.parquet")
#: Folders never copied into the build's source tree.
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "out")


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def git_available() -> bool:
    return shutil.which("git") is not None


def git(cwd, *args) -> str:
    """Run git in ``cwd`` (for the tests' own repositories); its stdout."""
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


# --------------------------------------------------------------------------- pyproject


def test_one_version_source():
    """pyproject has no version of its own: setuptools reads ``sim.__version__``."""
    meta = pyproject()
    assert "version" not in meta["project"]
    assert "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sim.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[.-]?\w+)*", sim.__version__)


def test_dev_extra_is_composed_of_the_others():
    """``dev`` pulls the other extras through ``guarantee-sim[...]`` and repeats none of their
    requirements."""
    extras = pyproject()["project"]["optional-dependencies"]
    dev = [Requirement(r) for r in extras["dev"]]
    (self_ref,) = [r for r in dev if canonicalize_name(r.name) == PROJECT]
    others = set(extras) - {"dev"}
    assert self_ref.extras == others
    assert not self_ref.specifier  # whatever version this is
    theirs = {canonicalize_name(Requirement(r).name) for e in others for r in extras[e]}
    own = [canonicalize_name(r.name) for r in dev if r is not self_ref]
    assert not theirs & set(own), theirs & set(own)
    assert len(own) == len(set(own))


# --------------------------------------------------------------------------- manifest


def test_manifest_records_versions():
    m = build_manifest([default_scenario()], 1, 1, datetime.now(UTC))
    assert m["version"] == sim.__version__
    assert m["versions"] == {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "gsim": sim.__version__,
    }
    assert software_versions() == m["versions"]
    json.dumps(m, default=str)  # serialisable as written


def test_versions_without_importing_mesa():
    """A sweep's parent that ran no model has not imported Mesa (0.4 s): the manifest reads
    Mesa's version from its installed metadata instead, the same version."""
    code = (
        "import sys, json; from sim.outputs import software_versions; "
        "v = software_versions(); print(json.dumps([v['mesa'], 'mesa' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert json.loads(out.stdout) == [mesa.__version__, False]


@pytest.mark.skipif(not git_available(), reason="git is not installed")
def test_manifest_records_the_git_commit_of_the_checkout():
    """Run from this checkout, the manifest names its HEAD (and whether tracked files differ)."""
    package = Path(sim.__file__).resolve().parent
    if package.parent != REPO or not (REPO / ".git").exists():
        pytest.skip("sim is not imported from a git checkout here")
    m = build_manifest([default_scenario()], 1, 1, datetime.now(UTC))
    assert m["git"]["commit"] == git(REPO, "rev-parse", "HEAD")
    dirty = bool(git(REPO, "status", "--porcelain", "--untracked-files=no"))
    assert m["git"]["dirty"] is dirty


def test_manifest_without_git(monkeypatch):
    """No git on PATH: no ``git`` entry, no failure."""
    monkeypatch.setenv("PATH", "")
    assert git_revision() is None
    m = build_manifest([default_scenario()], 1, 1, datetime.now(UTC))
    assert "git" not in m
    assert m["versions"]["gsim"] == sim.__version__


@pytest.mark.skipif(not git_available(), reason="git is not installed")
def test_git_revision_only_where_git_tracks_the_package(tmp_path):
    """A copy of the package inside some other repository (an environment in a checkout) has
    no revision; a folder where git tracks the module gives that repository's commit."""
    assert git_revision(tmp_path) is None  # not a repository
    git(tmp_path, "init", "-q")
    (tmp_path / "outputs.py").write_text("# a copy\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("x\n", encoding="utf-8")
    git(tmp_path, "add", "other.txt")
    git(tmp_path, "commit", "-q", "-m", "other")
    assert git_revision(tmp_path) is None  # the module is not tracked there
    git(tmp_path, "add", "outputs.py")
    git(tmp_path, "commit", "-q", "-m", "module")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert git_revision(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "outputs.py").write_text("# changed\n", encoding="utf-8")
    assert git_revision(tmp_path) == {"commit": head, "dirty": True}


# --------------------------------------------------------------------------- the wheel


def source_files() -> list[Path]:
    """The checkout's files a build sees: tracked and untracked-but-not-ignored (git), else
    everything but caches, environments and outputs."""
    if git_available() and (REPO / ".git").exists():
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        names = [n for n in proc.stdout.decode().split("\0") if n]
        return [Path(n) for n in names if (REPO / n).is_file()]
    ignore = shutil.ignore_patterns(*NOT_SOURCE)
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in ignore(root, dirs)]
        found += [Path(root, f).relative_to(REPO) for f in files if f not in ignore(root, files)]
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for rel in source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", src],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        offline = (
            "No matching distribution found for setuptools",
            "Could not find a version that satisfies the requirement setuptools",
            "Failed to establish a new connection",
            "Network is unreachable",
        )
        if any(s in text for s in offline):
            pytest.skip("cannot build the wheel: no package index supplies setuptools>=69")
        pytest.fail(f"pip wheel failed:\n{text[-4000:]}")
    (found,) = (work / "dist").glob("guarantee_sim-*.whl")
    return found


def wheel_version(path: Path) -> str:
    return path.name.split("-")[1]


def clean_env(**extra) -> dict:
    """The environment for the fresh venv's commands: nothing points back at the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")
    }
    return {**env, "PYTHONNOUSERSITE": "1", **extra}


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed (see the
    module's docstring for how its dependencies are provided)."""
    home = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", home], check=True, timeout=120)
    python = home / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    ).stdout.strip()
    ours = [*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    dirs = list(dict.fromkeys(d for d in ours if Path(d).is_dir()))
    Path(purelib, "_gsim_test_dependencies.pth").write_text("\n".join(dirs) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "-q", wheel],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home


def in_venv(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )


@pytest.mark.slow
def test_wheel_ships_the_scenario_files(wheel):
    """Every scenario, sweep, target (and ensemble) file of scenarios/ is in the wheel under
    sim/scenarios/, byte for byte; its version is sim.__version__."""
    assert wheel_version(wheel) == sim.__version__
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        expected = sorted({p for pattern in SHIPPED for p in (REPO / "scenarios").glob(pattern)})
        assert len(expected) >= 18
        for path in expected:
            name = f"sim/scenarios/{path.relative_to(REPO / 'scenarios').as_posix()}"
            assert name in names, name
            assert z.read(name) == path.read_bytes(), name
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        assert f"\nVersion: {sim.__version__}\n" in z.read(meta).decode()
        modules = {n.removeprefix("sim/") for n in names if re.fullmatch(SIM_MODULE, n)}
    assert modules == {p.relative_to(REPO / "sim").as_posix() for p in (REPO / "sim").rglob("*.py")}


def _closure(requirements, extras=("",)) -> set[str]:
    """Distributions the requirements bring, transitively, as installed here."""
    names: set[str] = set()
    seen = set()
    todo = [r for r in requirements if r.marker is None or _applies(r, extras)]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        try:
            requires = importlib.metadata.requires(req.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here: its modules are not importable here either
        todo += [s for r in requires if _applies(s := Requirement(r), ("", *req.extras))]
    return names


def _applies(req: Requirement, extras) -> bool:
    return req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras)


def _imports(source: str) -> set[str]:
    """Top-level names of the modules a source imports anywhere (absolute imports)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.slow
def test_wheel_declares_what_sim_imports(wheel):
    """Every third-party module the wheel's code imports comes from a declared requirement (or
    what that requires in turn): the base requirements, or for the dashboard's modules and the
    Dask scheduler's import, the base and that extra. (The fresh environment of the install
    test sees this environment's packages, so only this check catches an undeclared one.)"""
    providers = importlib.metadata.packages_distributions()
    with zipfile.ZipFile(wheel) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        text = z.read(meta).decode()
        sources = {
            n.removeprefix("sim/"): z.read(n).decode()
            for n in z.namelist()
            if re.fullmatch(SIM_MODULE, n)
        }
    requires = [Requirement(line) for line in re.findall(r"^Requires-Dist: (.+)$", text, re.M)]
    base = _closure(requires)
    assert {"numpy", "mesa", "scipy", "pandas", "click"} <= base
    assert "solara" not in base and "distributed" not in base
    checked = 0
    for module, source in sorted(sources.items()):
        for name in sorted(_imports(source) - set(sys.stdlib_module_names) - {"sim"}):
            dists = {canonicalize_name(d) for d in providers.get(name, [])}
            if not dists:
                continue  # not installed here (an extra this environment lacks)
            extra = EXTRA_MODULES.get(module) or EXTRA_IMPORTS.get(name)
            allowed = _closure(requires, ("", extra)) if extra else base
            where = f"the {extra} extra" if extra else "the base requirements"
            assert dists & allowed, f"sim/{module} imports {name} ({dists}): not in {where}"
            checked += 1
    assert checked >= 30


@pytest.mark.slow
def test_installed_wheel_runs_a_scenario_by_name(wheel, venv, tmp_path):
    """In the fresh environment, from a folder outside the checkout: ``sim`` is the wheel's,
    with its version; ``gsim run baseline_2021 --reps 1`` (the installed scenario file) exits 0,
    prints the outcome table and writes a manifest with the versions and no git commit."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    version = wheel_version(wheel)
    python, gsim = venv / "bin" / "python", venv / "bin" / "gsim"

    proc = in_venv(python, "-c", "import sim; print(sim.__version__, sim.__file__)", cwd=work)
    assert proc.returncode == 0, proc.stderr
    got_version, location = proc.stdout.strip().split(maxsplit=1)
    assert got_version == version == sim.__version__
    assert Path(location).is_relative_to(venv), location

    proc = in_venv(gsim, "--version", cwd=work)
    assert proc.returncode == 0 and version in proc.stdout, proc.stdout + proc.stderr

    args = ("run", "baseline_2021", "--reps", "1", "--set", "run.n_smes=1000", "--out", "o", "-q")
    proc = in_venv(gsim, *args, cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["outcome", "(mean)", "baseline_2021"]
    rows = {line.split()[0] for line in lines[1:]}
    assert {"lending_volume", "guaranteed_volume", "default_rate", "fiscal_cost"} <= rows
    assert "Traceback" not in proc.stderr
    manifest = json.loads((work / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["versions"]["gsim"] == version
    assert set(manifest["versions"]) == {"python", "numpy", "mesa", "gsim"}
    assert "git" not in manifest  # an installed copy has no revision
    (scenario,) = manifest["scenarios"]
    assert Path(scenario["path"]).is_relative_to(venv)
    assert Path(scenario["path"]).parts[-3:] == ("sim", "scenarios", "baseline_2021.toml")
    assert scenario["parameters"]["run.n_smes"] == 1000

    proc = in_venv(gsim, "validate", "beijing_2022", cwd=work)  # extends inside the wheel
    assert proc.returncode == 0 and "beijing_2022: ok" in proc.stdout, proc.stderr
    proc = in_venv(gsim, "scenarios", cwd=work)
    listed = {line.split()[0] for line in proc.stdout.splitlines()}
    assert {f.stem for f in (REPO / "scenarios").glob("*.toml")} <= listed
    assert sorted(p.name for p in work.iterdir()) == ["o"]
