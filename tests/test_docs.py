"""The model documentation (docs/ODD.md) stays in step with the parameter registry.

(a) The parameter table between the markers of docs/ODD.md is exactly ``parameter_table()``;
    a registry change (default, unit, range, description, source ...) changes the rendered
    table, so the doc must be regenerated or this test fails.
(b) Every registry key appears in docs/ODD.md, and is explained in the prose outside the
    generated table.
(c) Every parameter's source is non-empty and either cites something or says "assumption".
(d) ``python -m sim.interfaces.documentation --check docs/ODD.md`` exits 0; on a stale copy
    it exits 1 with a one-line message, and rewriting the copy brings it back in sync.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest

from sim.interfaces.documentation import (
    COLUMNS,
    TABLE_END,
    TABLE_START,
    extract_table,
    format_value,
    main,
    parameter_table,
    render_odd,
    sections,
)
from sim.parameters import REGISTRY

REPO = Path(__file__).resolve().parents[1]
ODD = REPO / "docs" / "ODD.md"

#: A source counts as a citation when it names a Chinese document number (〔2019〕6号), a
#: regulation (条例), a dated publication, the calibration sources, one of the 2022
#: measures, or the Basel framework.
CITATION = re.compile(
    r"〔\d{4}〕\d+号|条例|\b(?:19|20)\d{2}\b|calibration\.md|evidence\.md|\bmeasure \d+\b|\bBasel\b"
    r"|no evidence found"
)
#: Sources that state a public figure without naming a document, recorded verbatim. The
#: documentation marks them "not in calibration.md"; any other wording must cite or say
#: "assumption".
KNOWN_UNCITED = {
    "national_fund.equity": "registered capital 66.1 bn yuan",
    "recovery.tax_rate": "PRC corporate income tax 25% (15% for high-tech enterprises)",
}


@pytest.fixture(scope="module")
def odd_text() -> str:
    assert ODD.is_file(), f"{ODD} is missing"
    return ODD.read_text(encoding="utf-8")


def _with(key: str, **changes) -> MappingProxyType:
    """A copy of the registry with one parameter's fields changed."""
    reg = dict(REGISTRY)
    reg[key] = dataclasses.replace(reg[key], **changes)
    return MappingProxyType(reg)


def _prose(text: str) -> str:
    """The document without its generated block."""
    return text[: text.index(TABLE_START)] + text[text.index(TABLE_END) :]


# ------------------------------------------------------------------------- (a) drift
def test_table_in_odd_is_generated_from_registry(odd_text):
    """The block between the markers is exactly the current rendering of the registry."""
    assert extract_table(odd_text) == parameter_table(), (
        "docs/ODD.md parameter table is out of date; run: "
        "python -m sim.interfaces.documentation docs/ODD.md"
    )
    assert render_odd(odd_text) == odd_text


@pytest.mark.parametrize(
    ("key", "changes"),
    [
        ("credit.pd", {"default": 0.031}),
        ("bank.share", {"default": 0.2}),
        ("guarantor.leverage_cap", {"unit": "times"}),
        ("credit.rho", {"high": 0.9}),
        ("run.n_smes", {"low": 100}),
        ("batch.mode", {"choices": ("none", "bank_led")}),
        ("recovery.lag_months", {"description": "Months from default to recovery"}),
        ("evaluation.weights", {"source": "assumption"}),
        ("information.sharing", {"measure": None}),
    ],
)
def test_registry_change_changes_rendered_doc(odd_text, key, changes):
    """Changing a default, unit, range, choice, description, source or measure changes the
    table, so the drift test above fails until the doc is regenerated."""
    fake = _with(key, **changes)
    assert parameter_table(fake) != parameter_table()
    stale_check = render_odd(odd_text, fake)
    assert stale_check != odd_text
    assert extract_table(stale_check) != extract_table(odd_text)
    # regenerating from the real registry restores the document exactly
    assert render_odd(stale_check) == odd_text


def test_table_lists_every_parameter_once_grouped_by_section():
    table = parameter_table()
    keys = re.findall(r"^\| `([a-z_]+\.[a-z_0-9]+)` \|", table, flags=re.M)
    assert sorted(keys) == sorted(REGISTRY)
    assert len(keys) == len(set(keys))
    # sections ordered by first appearance in the registry, each key under its own section
    first_seen = list(dict.fromkeys(p.section for p in REGISTRY.values()))
    groups = sections()
    assert list(groups) == first_seen
    headings = re.findall(r"^### `([a-z_]+)`$", table, flags=re.M)
    assert headings == first_seen
    for name, params in groups.items():
        assert all(p.section == name for p in params)
        block = table.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        assert re.findall(r"^\| `([^`]+)` \|", block, flags=re.M) == [p.key for p in params]
    # every table row has one cell per column
    header = "| " + " | ".join(COLUMNS) + " |"
    assert table.count(header) == len(groups)
    for line in table.splitlines():
        if line.startswith("| `"):
            assert len(re.split(r"(?<!\\)\|", line)) == len(COLUMNS) + 2, line


def test_row_shows_default_unit_allowed_measure_description_source():
    row = next(line for line in parameter_table().splitlines() if "| `bank.share` |" in line)
    p = REGISTRY["bank.share"]
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells == [
        "`bank.share`",
        f"`{format_value(p.default)}`",
        p.unit,
        p.allowed(),
        str(p.prior),
        str(p.measure),
        p.description,
        p.source,
    ]


def test_numbers_are_compact_and_deterministic():
    assert format_value(600_000.0) == "6e+05"
    assert format_value(2.0e11) == "2e+11"
    assert format_value(2.5e6) == "2.5e+06"
    assert format_value(1e-5) == "1e-05"
    assert format_value(0.015) == "0.015"
    assert format_value(40.0) == "40"
    assert format_value(20_000) == "20000"
    assert format_value(0.0) == "0"
    assert format_value(False) == "false"
    assert format_value(["transport", "catering"]) == '["transport", "catering"]'
    for p in REGISTRY.values():  # exact: the text reads back to the default
        if p.kind in ("float", "int"):
            assert float(format_value(p.default)) == p.default, p.key
    assert parameter_table() == parameter_table()


def test_render_odd_replaces_only_the_block_and_rejects_bad_markers():
    doc = f"intro\n{TABLE_START}\nanything\n{TABLE_END}\noutro\n"
    new = render_odd(doc)
    assert new.startswith(f"intro\n{TABLE_START}\n\n")
    assert new.endswith(f"\n\n{TABLE_END}\noutro\n")
    assert extract_table(new) == parameter_table()
    assert render_odd(new) == new
    for bad in ("no markers", f"{TABLE_END}\n{TABLE_START}", f"{TABLE_START}{TABLE_START}"):
        with pytest.raises(ValueError):
            render_odd(bad)


# ------------------------------------------------------------------- (b) key coverage
def test_every_registry_key_appears_in_odd(odd_text):
    missing = [k for k in REGISTRY if k not in odd_text]
    assert not missing, f"keys missing from docs/ODD.md: {missing}"
    prose = _prose(odd_text)
    unexplained = [k for k in REGISTRY if f"`{k}`" not in prose]
    assert not unexplained, (
        f"keys in the generated table but not explained in the ODD text: {unexplained}"
    )


# ---------------------------------------------------------------------- (c) sources
@pytest.mark.parametrize("key", list(REGISTRY))
def test_source_cites_or_says_assumption(key):
    source = REGISTRY[key].source
    assert source.strip(), f"{key}: empty source"
    assert (
        "assumption" in source.lower()
        or CITATION.search(source)
        or KNOWN_UNCITED.get(key) == source
    ), f"{key}: source {source!r} neither cites a document nor says 'assumption'"


def test_unverified_and_assumption_markers_are_explained(odd_text):
    assert "**[A]**" in odd_text and "**[U]**" in odd_text
    assert odd_text.count("[U]") >= 4  # evaluation weights, NPL + 3pp, Fund cap, re-guarantee
    for key in KNOWN_UNCITED:
        assert f"`{key}`" in _prose(odd_text)


# ----------------------------------------------------------------- (d) command line
def test_check_command_passes_on_repository_doc():
    proc = subprocess.run(
        [sys.executable, "-m", "sim.interfaces.documentation", "--check", "docs/ODD.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1


def test_check_fails_on_stale_copy_and_rewrite_fixes_it(tmp_path, odd_text, capsys):
    stale = odd_text.replace(
        extract_table(odd_text), extract_table(odd_text).replace("`0.03`", "`0.04`", 1)
    )
    assert stale != odd_text
    path = tmp_path / "ODD.md"
    path.write_text(stale, encoding="utf-8")
    assert main(["--check", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "out of date" in err
    assert path.read_text(encoding="utf-8") == stale  # --check never writes
    assert main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == odd_text


def test_rewrite_keeps_the_file_mode_and_leaves_no_temporary_file(tmp_path, odd_text):
    stale = odd_text.replace(extract_table(odd_text), "old table")
    path = tmp_path / "ODD.md"
    path.write_text(stale, encoding="utf-8")
    path.chmod(0o640)
    assert main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == odd_text
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["ODD.md"]
    assert main(["--check", str(path)]) == 0


def test_missing_file_or_markers_is_bad_input(tmp_path, capsys):
    assert main(["--check", str(tmp_path / "absent.md")]) == 2
    path = tmp_path / "plain.md"
    path.write_text("# no markers\n", encoding="utf-8")
    assert main([str(path)]) == 2
    assert "marker" in capsys.readouterr().err
