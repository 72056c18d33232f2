"""The report notebooks: executed at a small size with papermill, and checked as files.

Execution uses the ``python3`` kernel of this environment (ipykernel's own kernel spec)
with the repository root as working directory; every intermediate output goes to pytest's
temporary folder. The whole file runs in about a minute on two cores.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_beijing_2022_package", "02_risk_share_and_fees", "03_sensitivity")

# Small size: enough to run every cell and draw every figure, not to read the results.
SMALL = {"N_SMES": 1500, "REPS": 2, "HORIZON": 12, "SEED": 7, "WORKERS": 1, "MEMBERS": 3}
SMALL_EXTRA = {
    "01_beijing_2022_package": {},
    "02_risk_share_and_fees": {"BANK_SHARES": [0.0, 0.2, 0.4], "SUBSIDY_RATES": [0.0, 0.01]},
    "03_sensitivity": {"SOBOL_SAMPLES": 8, "WORKERS": 2},
}
# Each notebook's parameter cell must define at least these names.
REQUIRED_PARAMETERS = ("N_SMES", "REPS", "HORIZON", "SEED", "OUT_DIR")
# Private names of the package: `from sim.x import _y` (also inside a parenthesised list),
# `sim._y` or `sim.x._y`, `import sim._x` (dunders such as `sim.__version__` are public).
PRIVATE_NAME = re.compile(
    r"from\s+sim[\w.]*\s+import\s+(?:\([^)]*?|[^\n#]*?)(?<![\w.])_(?!_)\w"
    r"|\bsim(?:\.[A-Za-z_]\w*)*\._(?!_)\w"
    r"|\bimport\s+sim\._"
)


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_three_report_notebooks_exist():
    assert {p.stem for p in notebook_paths()} >= set(EXPECTED)


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    assert cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), (
        "the first cell is a Markdown title"
    )
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters', expected exactly 1"
    assert tagged[0].cell_type == "code"
    for name in REQUIRED_PARAMETERS:
        assert re.search(rf"^{name}\s*=", tagged[0].source, re.M), f"parameter {name} missing"
    for i, c in enumerate(cells):
        if c.cell_type != "code":
            continue
        assert c.outputs == [], f"cell {i} has stored outputs"
        assert c.execution_count is None, f"cell {i} has an execution count"
        hit = PRIVATE_NAME.search(c.source)
        assert hit is None, f"cell {i} uses a private name: {hit.group(0)!r}"


#: The notebooks that run a sweep, and how they must run it: through the sweep API.
SWEEP_NOTEBOOKS = ("02_risk_share_and_fees", "03_sensitivity")
NOT_IN_SWEEP_NOTEBOOKS = ("subprocess", "tomllib", "toml_value", "write_sweep", "GSIM")


@pytest.mark.parametrize("name", SWEEP_NOTEBOOKS)
def test_sweep_notebooks_use_the_sweep_api(name):
    """Notebooks 02 and 03 build their sweep with sim.Sweep.from_file(...).with_(...), run it
    with .run(...) and read the result: no subprocess, no hand-written sweep files."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for word in NOT_IN_SWEEP_NOTEBOOKS:
        assert word not in code, f"{name} uses {word}"
    assert "sim.Sweep.from_file(SWEEP_FILE).with_(" in code
    assert re.search(
        r"\bresult = sweep\.run\(workers=N_WORKERS, out=OUT / \"\w+\", overwrite=True\)", code
    )
    assert "result.summary" in code
    if name == "03_sensitivity":
        assert "result.sensitivity()" in code


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_at_small_size(name, tmp_path):
    papermill = pytest.importorskip("papermill")
    pytest.importorskip("ipykernel")  # provides the "python3" kernel of this environment
    out_dir = tmp_path / "out"
    params = {**SMALL, **SMALL_EXTRA[name], "OUT_DIR": str(out_dir)}
    executed = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(executed),
        parameters=params,
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
        execution_timeout=600,
    )
    nb = nbformat.read(executed, as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    figures = sorted((out_dir / "figures").glob("*.png"))
    assert figures, "no figure written"
    assert all(f.stat().st_size > 10_000 for f in figures)
    shown = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert shown >= len(figures), "every saved figure is also shown in the notebook"
