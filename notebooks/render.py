"""Execute the report notebooks and render them as HTML.

Usage (from the repository root)::

    python notebooks/render.py                 # full size, into reports/
    python notebooks/render.py --small         # quick check at the test size
    python notebooks/render.py --only 01 --out reports/draft --with-code

For each notebook ``NAME``: papermill executes ``notebooks/NAME.ipynb`` with the repository
root as working directory into ``OUT/NAME.ipynb`` (the executed copy, code cells included;
the source notebook is left untouched, without outputs), the notebook writes its tables, PNG
figures and footer record (``report.json``: scenario files, seeds, sizes, gsim version and
git revision, date; :meth:`sim.interfaces.report.Report.footer`) into ``OUT/NAME/``, and nbconvert
renders ``OUT/NAME.html`` (figures embedded) **without code cells**: a reader sees the prose,
tables, figures and the footer the notebook's last cell shows. ``--with-code`` keeps the code
in the HTML. ``reports/`` is git-ignored. This is the same as running, per notebook::

    papermill notebooks/NAME.ipynb reports/NAME.ipynb -k python3 --cwd . -p OUT_DIR reports/NAME
    jupyter nbconvert --to html --no-input reports/NAME.ipynb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_beijing_2022_package", "02_risk_share_and_fees", "03_sensitivity")

# The test size (tests/test_notebooks.py): runs every cell in about a minute in all.
SMALL = {"N_SMES": 1500, "REPS": 2, "HORIZON": 12, "MEMBERS": 3}
SMALL_EXTRA = {
    "01_beijing_2022_package": {},
    "02_risk_share_and_fees": {"BANK_SHARES": [0.0, 0.2, 0.4], "SUBSIDY_RATES": [0.0, 0.01]},
    "03_sensitivity": {"SOBOL_SAMPLES": 8},
}


def render(name: str, out: Path, parameters: dict, no_input: bool = True) -> Path:
    """Execute one notebook with papermill and write its HTML; return the HTML path.

    With ``no_input`` (the default) the HTML leaves out code cells and prompts; the
    executed notebook ``OUT/NAME.ipynb`` keeps them. Raises ``FileNotFoundError`` if the
    notebook did not write its footer record (``OUT/NAME/report.json``).
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{name}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"),
        str(executed),
        parameters={**parameters, "OUT_DIR": str((out / name).resolve())},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    exporter = HTMLExporter()
    exporter.exclude_input = no_input
    exporter.exclude_input_prompt = no_input
    exporter.exclude_output_prompt = no_input
    record = out / name / "report.json"
    if not record.is_file():
        raise FileNotFoundError(f"{name}: the notebook wrote no footer record {record}")
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html = out / f"{name}.html"
    html.write_text(body, encoding="utf-8")
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="reports", help="output folder (default: reports/)")
    parser.add_argument("--small", action="store_true", help="run at the small test size")
    parser.add_argument(
        "--only", nargs="+", metavar="PREFIX", help="notebooks whose names start with PREFIX"
    )
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: all CPUs)")
    parser.add_argument(
        "--with-code", action="store_true", help="keep the code cells in the HTML (default: hidden)"
    )
    args = parser.parse_args(argv)

    names = [n for n in NOTEBOOKS if not args.only or any(n.startswith(p) for p in args.only)]
    if not names:
        parser.error(f"--only {' '.join(args.only)}: no notebook matches {', '.join(NOTEBOOKS)}")
    out = Path(args.out)
    out = out if out.is_absolute() else ROOT / out
    for name in names:
        params = {"WORKERS": args.workers}
        if args.small:
            params.update(SMALL, **SMALL_EXTRA[name])
        t0 = time.perf_counter()
        html = render(name, out, params, no_input=not args.with_code)
        print(f"{name}: {html} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
