"""Writing generated sections into the project's Markdown pages (BENCHMARKS.md, docs/)."""

from __future__ import annotations


def replace_section(text: str, heading: str, section: str) -> str:
    """``text`` with its section ``heading`` (a ``## …`` line, up to the next ``## ``)
    replaced by ``section``, or with ``section`` appended when there is none."""
    if heading + "\n" in text:
        head = text[: text.index(heading + "\n")]
        rest = text[len(head) + len(heading) :]
        nxt = rest.find("\n## ")
        return head + section.rstrip("\n") + "\n" + ("\n" + rest[nxt + 1 :] if nxt >= 0 else "")
    return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"


def write_section(path, heading: str, section: str) -> None:
    """Write ``section`` as the section ``heading`` of the Markdown file ``path``
    (:func:`replace_section`; a new file starts with ``# Benchmarks``)."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    path.write_text(replace_section(text, heading, section), encoding="utf-8")


def replace_block(text: str, start: str, end: str, block: str) -> str:
    """``text`` with everything from marker ``start`` to marker ``end`` replaced by
    ``block`` (which carries the markers), or with ``block`` appended."""
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    return text.rstrip("\n") + "\n\n" + block + "\n"
