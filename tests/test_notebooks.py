"""The report notebooks: executed at a small size with papermill, and checked as files.

Execution uses the ``python3`` kernel of this environment (ipykernel's own kernel spec)
with the repository root as working directory; every intermediate output goes to pytest's
temporary folder. The whole file runs in about a minute on two cores.
"""

from __future__ import annotations

import ast
import html as html_module
import importlib.util
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


#: Names a notebook must not define: the helpers the package has (sim.interfaces.report, ...).
PACKAGE_HELPERS = {"find_repo_root", "t_ci", "save", "PARTY_COLORS", "PARTY_LABELS", "COLORS"}
#: Modules whose public names a notebook must not redefine.
PACKAGE_MODULES = (
    ("sim", "sim.outcome_registry", "sim.experiments.replications")
    + tuple(f"sim.interfaces.{m}" for m in ("report", "plots", "report_package", "report_sweeps"))
    + ("sim.interfaces.report_sobol",)
)
#: A scenario or sweep file each report's footer must name.
FOOTER_FILES = {
    "01_beijing_2022_package": ("baseline_2021.toml", "beijing_2022.toml", "m09_bank_risk"),
    "02_risk_share_and_fees": ("risk_share_fee_grid.toml", "beijing_2022.toml"),
    "03_sensitivity": ("sobol_main_levers.toml", "beijing_2022.toml"),
}
#: Markup of code cells' input in nbconvert's HTML (lab and classic templates): the editor
#: and highlighted source (Markdown cells share the other input-area classes); the stylesheet
#: mentions these classes too, so only their use in a class attribute counts.
INPUT_MARKUP = re.compile(
    r'class="[^"]*(?:\bjp-InputArea-editor\b|\bjp-CodeMirrorEditor\b|\binput_area\b'
    r"|\bhighlight hl-ipython3\b)"
)


def _code(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    lines = [
        line
        for c in nb.cells
        if c.cell_type == "code"
        for line in c.source.splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return "\n".join(lines)


def _public_names() -> set[str]:
    import importlib

    names = set()
    for module in PACKAGE_MODULES:
        m = importlib.import_module(module)
        names |= {n for n in getattr(m, "__all__", dir(m)) if not n.startswith("_")}
    return names


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_defines_no_helper(path):
    """No notebook defines a function, class or lambda, nor assigns a name that the package
    defines (its helpers, colours, labels): figures and tables come from the package."""
    tree = ast.parse(_code(path))
    public = _public_names()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pytest.fail(f"{path.stem} defines {node.name!r} (line {node.lineno})")
        if isinstance(node, ast.Lambda):
            pytest.fail(f"{path.stem} defines a lambda (line {node.lineno})")
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assert node.id not in PACKAGE_HELPERS, f"{path.stem} defines {node.id}"
            assert node.id not in public, f"{path.stem} redefines the package's {node.id}"


def _render_module():
    spec = importlib.util.spec_from_file_location("render", NOTEBOOKS / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_at_small_size(name, tmp_path):
    pytest.importorskip("papermill")
    pytest.importorskip("nbconvert")
    pytest.importorskip("ipykernel")  # provides the "python3" kernel of this environment
    import sim

    params = {**SMALL, **SMALL_EXTRA[name]}
    html = _render_module().render(name, tmp_path, params)  # as `make report` does
    out_dir = tmp_path / name
    executed = tmp_path / f"{name}.ipynb"
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

    # The executed copy keeps its code; the HTML has none, and ends with the footer.
    assert any(c.cell_type == "code" and "rep.footer()" in c.source for c in nb.cells)
    page = html.read_text(encoding="utf-8")
    hit = INPUT_MARKUP.search(page)
    assert hit is None, f"the HTML shows code cells: {hit.group(0)}"
    text = html_module.unescape(re.sub(r"<[^>]+>", "", page))  # highlighting splits tokens
    for line in ("rep.footer()", "import sim", "rep = Report("):
        assert line not in text, f"code line {line!r} in the HTML"
    assert "gsim-report-footer" in page
    footer = page[page.index('class="gsim-report-footer"') :]
    assert f"gsim {sim.__version__}" in footer
    for file in FOOTER_FILES[name]:
        assert file in footer, f"{file} not in the footer"
    assert f"seed {SMALL['SEED']}" in footer and f"replications {SMALL['REPS']}" in footer
    assert (out_dir / "report.json").is_file()
