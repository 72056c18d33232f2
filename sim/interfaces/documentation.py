"""Tables of the model documentation, generated from the registry.

``docs/ODD.md`` carries a Markdown table of every parameter between two markers::

    <!-- parameter-table:start -->
    ...generated...
    <!-- parameter-table:end -->

and ``docs/calibration.md`` the evidence table of the lever strengths and the
calibrated parameters between ``<!-- evidence-table:start -->`` and
``<!-- evidence-table:end -->``. Both are rendered from
:data:`sim.parameters.REGISTRY` (:func:`parameter_table`, :func:`evidence_table`),
so a parameter and its evidence are described once (in the registry) and the
documentation cannot drift from it unnoticed. The outcome table of ``docs/ODD.md``
(``<!-- outcome-table:start -->`` ... ``<!-- outcome-table:end -->``) is rendered the
same way from :data:`sim.outcome_registry.OUTCOMES` (:func:`outcome_table`)::

    python -m sim.interfaces.documentation               # rewrite docs/ODD.md, docs/calibration.md
    python -m sim.interfaces.documentation --check       # exit 1 if a table is stale
    python -m sim.interfaces.documentation docs/ODD.md   # one file

This module imports nothing from the package but :mod:`sim.parameters`,
:mod:`sim.outcome_registry` (which imports nothing) and :mod:`sim.outputs` (which imports
only the standard library at import time).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from sim.outcome_registry import OUTCOMES, Outcome
from sim.outputs import atomic_path
from sim.parameters import REGISTRY, Parameter

__all__ = [
    "TABLE_START",
    "TABLE_END",
    "COLUMNS",
    "sections",
    "format_value",
    "parameter_table",
    "extract_table",
    "render_odd",
    "render",
    "evidence_table",
    "assumption_list",
    "outcome_table",
    "OUTCOME_START",
    "OUTCOME_END",
    "EVIDENCE_START",
    "EVIDENCE_END",
    "main",
]

#: Marker opening the generated block in a document.
TABLE_START = "<!-- parameter-table:start -->"
#: Marker closing the generated block.
TABLE_END = "<!-- parameter-table:end -->"
#: Columns of each section's table.
COLUMNS: tuple[str, ...] = (
    "key",
    "default",
    "unit",
    "allowed",
    "prior",
    "measure",
    "description",
    "source",
)
#: Markers of the evidence table (docs/calibration.md).
EVIDENCE_START = "<!-- evidence-table:start -->"
EVIDENCE_END = "<!-- evidence-table:end -->"
#: The documents the command line rewrites by default.
DOCUMENTS = ("docs/ODD.md", "docs/calibration.md", "docs/validation.md")

EXIT_OK, EXIT_STALE, EXIT_BAD_INPUT = 0, 1, 2


def sections(registry: Mapping[str, Parameter] | None = None) -> dict[str, list[Parameter]]:
    """Group the parameters by section, in the order sections first appear.

    Parameters
    ----------
    registry : mapping of str to Parameter, optional
        Parameters keyed by dotted key, in registry order. Defaults to
        :data:`sim.parameters.REGISTRY`.

    Returns
    -------
    dict of str to list of Parameter
        Section name to its parameters. Sections are ordered by the first
        appearance of any of their keys in ``registry``; within a section,
        parameters keep registry order (so ``guarantor.share``, registered with
        the risk-sharing block, is listed under ``guarantor``).

    Examples
    --------
    >>> list(sections())[:5]
    ['run', 'population', 'credit', 'demand', 'loans']
    """
    reg = REGISTRY if registry is None else registry
    out: dict[str, list[Parameter]] = {}
    for param in reg.values():
        out.setdefault(param.section, []).append(param)
    return out


def _number(x) -> str:
    """Compact, exact and deterministic text of a number.

    Integers are written in full (``20000``); floats with magnitude at least
    ``1e5`` or below ``1e-3`` use the shortest exact scientific notation
    (``6e+05``, ``2.5e+06``, ``1e-05``); other floats use Python's shortest
    round-trip form without a trailing ``.0`` (``0.03``, ``1500``).
    """
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x == 0.0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        for digits in range(17):
            text = f"{x:.{digits}e}"
            if float(text) == x:
                return text
        return repr(x)  # pragma: no cover - 17 digits always round-trip
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def format_value(value) -> str:
    """Text of a parameter value as it is written in a scenario file (TOML).

    Parameters
    ----------
    value : bool, int, float, str or list
        A registry default.

    Returns
    -------
    str
        ``true``/``false``, a compact number (see :func:`_number`), a quoted
        string, or a bracketed list of these.

    Examples
    --------
    >>> format_value(600000.0), format_value(0.03), format_value(20000), format_value(True)
    ('6e+05', '0.03', '20000', 'true')
    >>> format_value([0.82, 0.15, 0.03]), format_value("basel_sme"), format_value([])
    ('[0.82, 0.15, 0.03]', '"basel_sme"', '[]')
    """
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return _number(value)


def _cell(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def parameter_table(registry: Mapping[str, Parameter] | None = None) -> str:
    """Render the parameter registry as Markdown tables, one per section.

    Parameters
    ----------
    registry : mapping of str to Parameter, optional
        Defaults to :data:`sim.parameters.REGISTRY`; another mapping (e.g. a
        modified copy) can be passed to see how it would render.

    Returns
    -------
    str
        A line stating the number of parameters, then for each section (in
        the order of :func:`sections`) a ``### `section``` heading and a table
        with the columns of :data:`COLUMNS`: the dotted key, the default as
        written in a scenario file, the unit, the allowed values
        (:meth:`Parameter.allowed`), the number of the 2022 measure the
        parameter is a lever of (blank if none), the description and the
        source ("assumption" where no published figure stands behind the
        default). No trailing newline. The result depends only on the
        registry.

    Examples
    --------
    >>> table = parameter_table()
    >>> table.splitlines()[2]
    '### `run`'
    """
    groups = sections(registry)
    n = sum(len(params) for params in groups.values())
    lines = [f"{n} parameters in {len(groups)} sections, in registry order."]
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    for name, params in groups.items():
        lines += ["", f"### `{name}`", "", header, rule]
        for p in params:
            cells = (
                _code(p.key),
                _code(format_value(p.default)),
                p.unit,
                p.allowed(),
                _prior(p),
                "" if p.measure is None else str(p.measure),
                p.description,
                p.source,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _prior(p: Parameter) -> str:
    text = "" if p.prior is None else str(p.prior)
    if p.prior is not None and p.kind == "floats":
        text += " each"
    if p.calibrated:
        text += " (calibrated)"
    return text


def evidence_table(registry: Mapping[str, Parameter] | None = None) -> str:
    """The evidence behind the lever strengths, as Markdown tables.

    Three tables: the parameters of the twelve measures (levers and their settings),
    the behavioural strengths that carry a prior without belonging to a measure, and the
    calibrated parameters (whose prior is the calibration's search range). Columns: key,
    default, unit, prior, measure and the source with its translation into the
    parameter's units. No trailing newline; depends only on the registry.
    """
    reg = REGISTRY if registry is None else registry
    groups = {
        "Parameters of the twelve measures": [
            p for p in reg.values() if p.measure is not None or p.lever
        ],
        "Behavioural strengths": [
            p
            for p in reg.values()
            if p.prior is not None and p.measure is None and not p.lever and not p.calibrated
        ],
        "Calibrated parameters (prior = the calibration's search range)": [
            p for p in reg.values() if p.calibrated
        ],
    }
    header = "| key | default | unit | prior | measure | source and translation |"
    rule = "|---|---|---|---|---|---|"
    lines = []
    for title, params in groups.items():
        if lines:
            lines.append("")
        lines += [f"**{title}** ({len(params)})", "", header, rule]
        for p in params:
            cells = (
                _code(p.key),
                _code(format_value(p.default)),
                p.unit,
                _prior(p),
                "" if p.measure is None else str(p.measure),
                p.source,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def assumption_list(registry: Mapping[str, Parameter] | None = None) -> str:
    """The parameters whose value still rests on an assumption, one line each.

    Every model parameter (run settings aside) whose source says "assumption" or "no
    evidence found", with its default and prior (where it has one), except the calibrated
    ones: what docs/validation.md must say plainly.
    """
    reg = REGISTRY if registry is None else registry
    lines = []
    for p in reg.values():
        text = p.source.lower()
        if p.section == "run" or p.calibrated:
            continue
        if not ("assumption" in text or "no evidence found" in text):
            continue
        where = f"measure {p.measure}" if p.measure is not None else "structure"
        prior = "" if p.prior is None else f", prior {p.prior}"
        lines.append(
            f"- `{p.key}` ({where}): default `{format_value(p.default)}`{prior}. "
            f"{' '.join(p.source.split())}"
        )
    return "\n".join(lines)


#: Markers of the outcome table (docs/ODD.md).
OUTCOME_START = "<!-- outcome-table:start -->"
OUTCOME_END = "<!-- outcome-table:end -->"
#: Columns of the outcome table.
OUTCOME_COLUMNS: tuple[str, ...] = ("key", "kind", "unit", "label", "中文", "description")


def outcome_table(outcomes: Mapping[str, Outcome] | None = None) -> str:
    """Render the outcome registry as two Markdown tables.

    Parameters
    ----------
    outcomes : mapping of str to Outcome, optional
        Defaults to :data:`sim.outcome_registry.OUTCOMES`.

    Returns
    -------
    str
        The scalar outcomes (columns of ``summary.parquet`` and
        ``summary_by_year.parquet``), then the monthly series (columns of
        ``timeseries.parquet``), each in registry order with the columns of
        :data:`OUTCOME_COLUMNS`; an outcome in both tables appears in both. No trailing
        newline; depends only on the registry.

    Examples
    --------
    >>> outcome_table().splitlines()[0]
    '**Scalar outcomes** (`summary.parquet`, `summary_by_year.parquet`): 70 columns'
    """
    reg = OUTCOMES if outcomes is None else outcomes
    header = "| " + " | ".join(OUTCOME_COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in OUTCOME_COLUMNS) + "|"
    lines = []
    for table, title in (
        ("summary", "**Scalar outcomes** (`summary.parquet`, `summary_by_year.parquet`)"),
        ("timeseries", "**Monthly series** (`timeseries.parquet`)"),
    ):
        rows = [o for o in reg.values() if table in o.tables]
        if lines:
            lines.append("")
        lines += [f"{title}: {len(rows)} columns", "", header, rule]
        for o in rows:
            unit = o.unit + (", integer" if o.integer else "")
            cells = (_code(o.key), o.kind, unit, o.label, o.label_zh, o.description)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


#: Markers of the list of assumptions (docs/validation.md).
ASSUMPTIONS_START = "<!-- assumptions:start -->"
ASSUMPTIONS_END = "<!-- assumptions:end -->"

#: Generated blocks: (start marker, end marker, renderer).
BLOCKS = (
    (TABLE_START, TABLE_END, parameter_table),
    (EVIDENCE_START, EVIDENCE_END, evidence_table),
    (ASSUMPTIONS_START, ASSUMPTIONS_END, assumption_list),
    (OUTCOME_START, OUTCOME_END, lambda _parameters: outcome_table()),
)


def _marker_positions(text: str, start=TABLE_START, end_marker=TABLE_END) -> tuple[int, int]:
    """Offsets of the end of the start marker and the start of the end marker."""
    n_start, n_end = text.count(start), text.count(end_marker)
    if n_start != 1 or n_end != 1:
        raise ValueError(
            f"expected one {start} and one {end_marker} marker, found {n_start} and {n_end}"
        )
    begin = text.index(start) + len(start)
    end = text.index(end_marker)
    if end < begin:
        raise ValueError(f"{end_marker} comes before {start}")
    return begin, end


def render(text: str, registry: Mapping[str, Parameter] | None = None) -> str:
    """Replace every generated block a document contains (at least one) by its table.

    Raises
    ------
    ValueError
        If the document has no block, or a block's markers are repeated or out of order.
    """
    found = False
    for start, end_marker, table in BLOCKS:
        if start not in text and end_marker not in text:
            continue
        found = True
        begin, end = _marker_positions(text, start, end_marker)
        text = text[:begin] + "\n\n" + table(registry) + "\n\n" + text[end:]
    if not found:
        raise ValueError(
            f"no generated block: expected {TABLE_START} ... {TABLE_END} or "
            f"{EVIDENCE_START} ... {EVIDENCE_END}"
        )
    return text


def extract_table(text: str) -> str:
    """The generated block of a document: the text between the markers.

    Parameters
    ----------
    text : str
        Document containing the two markers once each.

    Returns
    -------
    str
        The text between the markers without the newlines around it; equal to
        :func:`parameter_table` when the document is up to date.

    Raises
    ------
    ValueError
        If a marker is missing, repeated or out of order.
    """
    begin, end = _marker_positions(text)
    return text[begin:end].strip("\n")


def render_odd(text: str, registry: Mapping[str, Parameter] | None = None) -> str:
    """Replace the block between the markers with the current parameter table.

    Parameters
    ----------
    text : str
        Document (e.g. ``docs/ODD.md``) containing :data:`TABLE_START` and
        :data:`TABLE_END` once each, in that order.
    registry : mapping of str to Parameter, optional
        Registry to render (default :data:`sim.parameters.REGISTRY`).

    Returns
    -------
    str
        The document with everything between the markers replaced by a blank
        line, :func:`parameter_table` and a blank line; the markers and the
        text outside them are unchanged. Applying it twice gives the same text.

    Raises
    ------
    ValueError
        If a marker is missing, repeated or out of order.

    Examples
    --------
    >>> doc = f"# Doc\\n{TABLE_START}\\nold\\n{TABLE_END}\\nend\\n"
    >>> new = render_odd(doc)
    >>> new.startswith("# Doc\\n" + TABLE_START + "\\n\\n")
    True
    >>> new.endswith(TABLE_END + "\\nend\\n")
    True
    >>> render_odd(new) == new
    True
    """
    begin, end = _marker_positions(text)
    return text[:begin] + "\n\n" + parameter_table(registry) + "\n\n" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rewrite or check the parameter table of a document.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``): ``[--check] FILE``.

    Returns
    -------
    int
        0 when the file was rewritten or is in sync, 1 with ``--check`` when
        the table differs from the registry, 2 when the file cannot be read or
        lacks the markers. Each outcome prints one line.
    """
    parser = argparse.ArgumentParser(
        prog="python -m sim.interfaces.documentation",
        description="Regenerate (or check) the tables generated from the parameter and "
        f"outcome registries: the parameter table ({TABLE_START}), the evidence table "
        f"({EVIDENCE_START}), the list of assumptions ({ASSUMPTIONS_START}) and the outcome "
        f"table ({OUTCOME_START}).",
    )
    parser.add_argument(
        "files",
        type=Path,
        nargs="*",
        help=f"Markdown files (default: {', '.join(DOCUMENTS)})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if a generated table differs from its registry",
    )
    args = parser.parse_args(argv)
    status = EXIT_OK
    for path in args.files or [Path(d) for d in DOCUMENTS]:
        status = max(status, _one(path, args.check))
    return status


def _one(path: Path, check: bool) -> int:
    try:
        text = path.read_text(encoding="utf-8")
        new = render(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"{path}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if check:
        if new != text:
            print(
                f"{path}: generated tables are out of date with the registries "
                "(sim.parameters.REGISTRY, sim.outcome_registry.OUTCOMES); "
                f"run: python -m sim.interfaces.documentation {path}",
                file=sys.stderr,
            )
            return EXIT_STALE
        print(f"{path}: generated tables in sync with the registry")
        return EXIT_OK
    if new == text:
        print(f"{path}: generated tables already up to date")
        return EXIT_OK
    with atomic_path(path, keep_mode=True) as tmp:
        tmp.write_text(new, encoding="utf-8", newline="")
    print(f"{path}: generated tables rewritten from the registry")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
