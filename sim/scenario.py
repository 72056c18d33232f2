"""Scenario files: loading, ``extends``, overrides and strict validation.

A scenario is a TOML file whose tables are the sections of the parameter
registry (:mod:`sim.parameters`)::

    # Beijing 2022: the whole package of twelve measures.
    extends = "baseline_2021.toml"
    description = "The 2022 package of twelve measures"

    [risk_sharing]
    preset = "national_2222"

    [guarantor]
    due_diligence_exemption = true

Top-level keys other than tables: ``extends`` (a path relative to the file),
``description`` (one line shown by ``gsim scenarios``) and ``measure`` (the
number of the 2022 measure the file represents). A file is data: it is parsed
with :mod:`tomllib` and never evaluated.

A scenario is given by path (``scenarios/beijing_2022.toml``) or by name
(``beijing_2022``): a name, a word of letters, digits, ``_`` and ``-`` that is not an
existing path, is looked up as ``scenarios/NAME.toml`` in the working folder, then among
the scenario files installed with gsim (:func:`packaged_scenarios`; see
:func:`find_scenario`).

Every problem is reported as one :class:`ScenarioError` line naming the file,
the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .parameters import REGISTRY, RISK_SHARE_KEYS, check_value
from .risk_sharing import PRESETS, floor_warnings

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_override",
    "default_scenario",
    "file_problem",
    "read_toml",
    "show",
    "packaged_scenarios",
    "scenario_folder",
    "find_scenario",
    "lookup_name",
    "known_names",
    "unknown_name",
    "unknown_key",
]

META_KEYS = ("extends", "description", "measure")
PRESET_KEY = "risk_sharing.preset"


class ScenarioError(ValueError):
    """A scenario file, override or sweep file is invalid (one line, exit code 2).

    Parameters
    ----------
    message : str
        The one-line message (file, key, value and what is allowed).
    keys : iterable of str, optional
        The parameter keys the error is about, the one the message names first (empty
        for an error that is not about a key: a missing file, invalid TOML).

    Attributes
    ----------
    keys : tuple of str
        As given; lets a caller place the error by key (the dashboard shows it next to
        the control of ``keys[0]``) instead of parsing the message.
    """

    def __init__(self, message: str = "", *, keys=()):
        super().__init__(message)
        self.keys = tuple(keys)


@dataclass(frozen=True)
class Scenario:
    """A fully resolved, validated set of parameter values.

    Attributes
    ----------
    name : str
        Scenario name (the file's stem, or ``"default"``).
    description : str
        One-line description.
    values : Mapping[str, Any]
        Value of every registry parameter, keyed by dotted key.
    path : str or None
        File the scenario was loaded from.
    overrides : Mapping[str, Any]
        Overrides applied on top of the file.
    measure : int or None
        Number of the 2022 measure the file represents.
    warnings : tuple of str
        Non-fatal findings (risk shares below the 国办发〔2019〕6号 floors).
    """

    name: str
    description: str
    values: Mapping[str, Any]
    path: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    measure: int | None = None
    warnings: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def shares(self) -> tuple[float, float, float, float, float]:
        """The risk-share vector (guarantor, reguarantor, national_fund, bank, comp_fund)."""
        return tuple(self.values[k] for k in RISK_SHARE_KEYS)

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "overrides"):
        """Return a new scenario with ``overrides`` applied and validated."""
        values = dict(self.values)
        _apply_layer(values, dict(overrides), source)
        _check_resolved(values, source)
        merged = {**self.overrides, **overrides}
        return Scenario(
            self.name,
            self.description,
            values,
            self.path,
            merged,
            self.measure,
            tuple(_warnings(values)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for manifests."""
        return {
            "name": self.name,
            "description": self.description,
            "path": self.path,
            "measure": self.measure,
            "overrides": dict(self.overrides),
            "parameters": dict(self.values),
            "warnings": list(self.warnings),
        }


def default_scenario() -> Scenario:
    """The registry defaults as a scenario."""
    values = {k: copy_value(p.default) for k, p in REGISTRY.items()}
    return Scenario("default", "Registry defaults", values, warnings=tuple(_warnings(values)))


def load_scenario(
    path, overrides: Mapping[str, Any] | None = None, *, source: str = "overrides"
) -> Scenario:
    """Load, resolve and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        TOML scenario file, or the name of one (``"baseline_2021"``; see
        :func:`find_scenario`).
    overrides : mapping, optional
        Dotted keys and values applied last (as ``--set KEY=VALUE`` does).
    source : str
        How error messages name the overrides (``"--set"`` on the command line).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        On any invalid input, with one line naming file, key, value and what
        is allowed.
    """
    path = find_scenario(path)
    values = {k: copy_value(p.default) for k, p in REGISTRY.items()}
    meta = _load_chain(path, values, ())
    _check_resolved(values, str(path))
    scenario = Scenario(
        name=path.stem,
        description=meta.get("description", ""),
        values=values,
        path=str(path),
        measure=meta.get("measure"),
        warnings=tuple(_warnings(values)),
    )
    if overrides:
        scenario = scenario.with_overrides(overrides, source=source)
    return scenario


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE`` from the command line.

    The value is read as exactly one TOML value (``0.2``, ``true``, ``["transport"]``,
    ``"bank_led"``); a bare word that is not valid TOML is taken as a string. Anything
    after the value (a newline and another ``key = value``, say) is refused.
    """
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected KEY=VALUE, e.g. --set credit.pd=0.02")
    key, raw = (s.strip() for s in text.split("=", 1))
    if not key:
        raise ScenarioError(f"--set {text!r}: empty key")
    if not key.isprintable():
        raise ScenarioError(
            f"--set {text!r}: expected KEY=VALUE with a key of printable characters, "
            "e.g. --set credit.pd=0.02"
        )
    try:
        doc = tomllib.loads(f"v = {raw}")
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        if not raw.isprintable():
            raise ScenarioError(
                f"--set {text!r}: expected KEY=VALUE with exactly one TOML value on one line, "
                "e.g. --set credit.pd=0.02"
            ) from None
        return key, raw
    if list(doc) != ["v"]:
        raise ScenarioError(
            f"--set {text!r}: expected KEY=VALUE with exactly one TOML value, e.g. "
            "--set credit.pd=0.02 (one --set per key)"
        )
    return key, doc["v"]


# --------------------------------------------------------------------------- names

#: What :func:`find_scenario` takes for a name rather than a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def packaged_scenarios() -> Path:
    """The folder of the scenario files that come with gsim.

    An installed wheel holds the repository's ``scenarios/`` folder as ``sim/scenarios/``
    (same layout: ``sweeps/``, ``targets/``, ``ensembles/``); a source checkout (or an
    editable install) has it beside the ``sim`` package.

    Returns
    -------
    Path
        ``sim/scenarios`` if it is a folder, else the checkout's ``scenarios``.
    """
    here = Path(__file__).resolve().parent
    installed = here / "scenarios"
    return installed if installed.is_dir() else here.parent / "scenarios"


def scenario_folder() -> Path:
    """The folder of scenario files a bare ``gsim scenarios`` lists and the dashboard's
    picker starts in: ``./scenarios`` if there is one, else :func:`packaged_scenarios`."""
    here = Path.cwd() / "scenarios"
    return here if here.is_dir() else packaged_scenarios()


def _folders(sub: str) -> list[Path]:
    """``./scenarios/SUB`` then the packaged ``SUB`` folder (the same folder once)."""
    folders = []
    for folder in (Path("scenarios") / sub, packaged_scenarios() / sub):
        try:
            if folder.is_dir() and all(not f.samefile(folder) for f in folders):
                folders.append(folder)
        except OSError:
            continue
    return folders


def lookup_name(name: str, sub: str = "") -> Path | None:
    """The file a name stands for, or ``None``.

    Parameters
    ----------
    name : str
        A name such as ``"baseline_2021"`` (no ``.toml``).
    sub : str
        Subfolder of the scenario folders to look in (``"sweeps"`` for sweep files).

    Returns
    -------
    Path or None
        ``scenarios/SUB/NAME.toml`` relative to the working folder if it exists, else the
        installed one (:func:`packaged_scenarios`), else ``None``. ``None`` too when
        ``name`` is not a name (:data:`NAME_PATTERN`).
    """
    if not NAME_PATTERN.fullmatch(name):
        return None
    for folder in _folders(sub):
        candidate = folder / f"{name}.toml"
        if os.path.lexists(candidate):
            return candidate
    return None


def known_names(sub: str = "") -> list[str]:
    """Sorted names of the ``*.toml`` files :func:`lookup_name` can find in ``sub``."""
    return sorted({f.stem for folder in _folders(sub) for f in folder.glob("*.toml")})


def find_scenario(ref, sub: str = "", what: str = "scenario") -> Path:
    """The file a scenario (or sweep) argument refers to: a path, or a name.

    A path is returned as given, whether or not it exists (reading it reports any
    problem, as for every path). A name (:data:`NAME_PATTERN`: no ``.toml``, no folder)
    that is not an existing path is looked up with :func:`lookup_name`.

    Parameters
    ----------
    ref : str or Path
        Path or name, e.g. ``"scenarios/beijing_2022.toml"`` or ``"beijing_2022"``.
    sub : str
        Subfolder for names (``"sweeps"`` for sweep files).
    what : str
        What the file is, for the message (``"scenario"``, ``"sweep"``).

    Returns
    -------
    Path

    Raises
    ------
    ScenarioError
        For a name that matches no file, in one line listing the known names.
    """
    text = os.fspath(ref)
    if not isinstance(text, str) or not NAME_PATTERN.fullmatch(text) or os.path.lexists(text):
        return Path(ref)
    found = lookup_name(text, sub)
    if found is None:
        raise ScenarioError(f"{text}: {unknown_name(sub, what)}")
    return found


def unknown_name(sub: str = "", what: str = "scenario") -> str:
    """What is wrong with a name :func:`lookup_name` does not find, listing the known names
    (the caller puts the name, and where it was given, in front)."""
    names = ", ".join(known_names(sub)) or "none"
    return f"no such {what} file or name (known names: {names})"


# --------------------------------------------------------------------------- internals


def copy_value(v):
    """A parameter value that can be changed without changing ``v`` (lists copied)."""
    return list(v) if isinstance(v, list) else v


#: Largest scenario or sweep file read (bytes); such files are a few kilobytes.
MAX_FILE_BYTES = 1 << 20

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_problem(path) -> str | None:
    """Why ``path`` cannot be read as a scenario or sweep file, or ``None``.

    Says what the path is when it is not a regular file ("a directory", "not a regular
    file (a FIFO ...)"), without opening it (a FIFO would block).
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "file not found"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except ValueError as exc:  # an embedded NUL character
        return f"not a valid path: {exc}"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        kind = next((kind for test, kind in _KINDS if test(st.st_mode)), "a special file")
        return f"not a regular file ({kind})"
    if st.st_size > MAX_FILE_BYTES:
        return f"file too large ({st.st_size:,} bytes; at most {MAX_FILE_BYTES:,})"
    return None


def read_toml(path, what: str | None = None) -> dict:
    """Parse a TOML data file (never evaluated); one :class:`ScenarioError` line on failure.

    ``what`` names the file in messages (default: the path).
    """
    where = what or str(path)
    problem = file_problem(path)
    if problem:
        allowed = "" if problem == "file not found" else "; expected a TOML file"
        raise ScenarioError(f"{where}: {problem}{allowed}")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{where}: cannot read: {exc}") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ScenarioError(f"{where}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{where}: invalid TOML: arrays or tables nested too deeply") from None


def _read_toml(path: Path, referrer: str | None, ref: str | None = None) -> dict:
    if referrer is not None:
        problem = file_problem(path)
        if problem:
            ref = ref or path.name
            where = "" if str(path) == ref else f" ({path})"
            raise ScenarioError(
                f"{referrer}: extends = {ref!r}: {problem}{where}; expected a scenario file"
            )
    return read_toml(path)


def _load_chain(path: Path, values: dict, chain: tuple[Path, ...], referrer=None, ref=None) -> dict:
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL character
        where = f"{referrer}: extends = {ref!r}" if referrer else str(path)
        raise ScenarioError(f"{where}: cannot resolve: {exc}") from None
    if resolved in chain:
        loop = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(
            f"{referrer}: extends = {ref or path.name!r}: circular extends ({loop})"
        )
    data = _read_toml(path, referrer, ref)
    meta = {}
    flat = {}
    for key, val in data.items():
        if key in META_KEYS:
            meta[key] = val
        elif isinstance(val, dict):
            _flatten(path, key, val, flat)
        else:
            unknown_key(path, key, val)
    _check_meta(path, meta)
    if "extends" in meta:
        parent = path.parent / meta["extends"]
        parent_meta = _load_chain(parent, values, (*chain, resolved), str(path), meta["extends"])
        meta.setdefault("description", parent_meta.get("description", ""))
    _apply_layer(values, flat, str(path))
    return meta


def _check_meta(path: Path, meta: dict) -> None:
    if "extends" in meta and not isinstance(meta["extends"], str):
        raise ScenarioError(f"{path}: extends = {meta['extends']!r}: expected a file name (string)")
    if "description" in meta and not isinstance(meta["description"], str):
        raise ScenarioError(f"{path}: description = {meta['description']!r}: expected a string")
    m = meta.get("measure")
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12):
        raise ScenarioError(f"{path}: measure = {m!r}: expected an integer in [1, 12]")


def _flatten(path: Path, section: str, table: dict, out: dict) -> None:
    for name, val in table.items():
        key = f"{section}.{name}"
        if isinstance(val, dict):
            raise ScenarioError(
                f"{path}: [{key}]: nested tables are not allowed; write the keys of "
                f"[{section}] directly inside it (e.g. {section}.<name> = value)"
            )
        out[key] = val


def unknown_key(source, key: str, value) -> None:
    """Raise the one-line :class:`ScenarioError` for a key the parameter registry lacks.

    The message names ``source`` (a file, ``--set``, a sweep's ``[parameters]``), the key
    and its value, and suggests the closest registry key (or lists the sections).

    Parameters
    ----------
    source : str or Path
        Where the key was given.
    key : str
        The dotted key, e.g. ``"bank.shar"``.
    value : Any
        Its value, shown as TOML.

    Raises
    ------
    ScenarioError
        Always.
    """
    keys = list(REGISTRY)
    hint = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if not hint:
        name = key.rsplit(".", 1)[-1]
        hint = [k for k in keys if k.rsplit(".", 1)[-1] == name][:1]
    msg = f"{source}: {key} = {show(value)}: unknown key"
    if hint:
        msg += f"; did you mean {hint[0]!r}?"
    else:
        sections = sorted({k.split(".")[0] for k in keys})
        msg += "; sections are " + ", ".join(sections)
    raise ScenarioError(msg, keys=(key,))


def show(value) -> str:
    """A value as it would be written in TOML (shortened)."""
    text = _toml(value)
    return text if len(text) <= 60 else text[:57] + "..."


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(c: str) -> str:
    """A character as TOML writes it in a basic string (control characters escaped)."""
    if c.isprintable():
        return c
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(c) or _escape(c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return repr(value)


def safe_check(param, value) -> tuple[Any, str | None]:
    """:func:`sim.parameters.check_value`, with a value it cannot even compare (an integer
    too large for a float) reported as out of range instead of raised."""
    try:
        return check_value(param, value)
    except (OverflowError, ValueError, TypeError):
        return value, f"out of range; expected {param.allowed()}"


def _apply_layer(values: dict, layer: dict, source: str) -> None:
    """Validate one layer (a file or a set of overrides) and apply it to ``values``."""
    checked = {}
    for key, val in layer.items():
        param = REGISTRY.get(key)
        if param is None:
            unknown_key(source, key, val)
        norm, err = safe_check(param, val)
        if err:
            raise ScenarioError(f"{source}: {key} = {show(val)}: {err}", keys=(key,))
        checked[key] = norm
    preset = checked.get(PRESET_KEY)
    if preset is not None and preset != "custom":
        clash = [k for k in RISK_SHARE_KEYS if k in checked]
        if clash:
            raise ScenarioError(
                f"{source}: {clash[0]} = {show(checked[clash[0]])}: set either "
                f"risk_sharing.preset or the shares, not both in one place",
                keys=(clash[0], PRESET_KEY),
            )
        for k, s in zip(RISK_SHARE_KEYS, PRESETS[preset], strict=True):
            values[k] = s
    elif any(k in checked for k in RISK_SHARE_KEYS):
        values[PRESET_KEY] = "custom"
    values.update(checked)


def _check_resolved(values: dict, source: str) -> None:
    shares = [values[k] for k in RISK_SHARE_KEYS]
    total = math.fsum(shares)
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        listing = ", ".join(f"{k}={v:g}" for k, v in zip(RISK_SHARE_KEYS, shares, strict=True))
        raise ScenarioError(
            f"{source}: risk shares ({listing}) sum to {total:.6g}: they must sum to 1",
            keys=RISK_SHARE_KEYS,
        )
    if (
        values["credit.correlation"] == "fixed"
        and values["credit.rho"] + values["credit.rho_sector"] >= 1.0
    ):
        raise ScenarioError(
            f"{source}: credit.rho = {values['credit.rho']:g}: credit.rho + credit.rho_sector "
            "must be below 1",
            keys=("credit.rho", "credit.rho_sector"),
        )
    if values["run.burn_in"] + values["run.horizon"] > 1200:
        raise ScenarioError(
            f"{source}: run.horizon = {values['run.horizon']}: burn-in + horizon must be "
            "at most 1200 months",
            keys=("run.horizon", "run.burn_in"),
        )


def _warnings(values: dict) -> list[str]:
    shares = {k.split(".")[0]: values[k] for k in RISK_SHARE_KEYS}
    return floor_warnings(shares)
