"""The schema of a sweep file: each top-level key (:class:`SweepSpec`) and each
``[parameters]`` entry (:class:`ParameterSpec`) declared with its :class:`Key` rule and
checked generically by :func:`check_keys`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from sim.outcome_registry import SUMMARY_FIELDS
from sim.parameters import RISK_SHARE_KEYS
from sim.scenario import (
    Scenario,
    ScenarioError,
    show,
)

from .design import DESIGNS, MAX_SEED


# ============================================================================ the schema
@dataclass(frozen=True)
class Key:
    """How one key of a sweep file is checked: declared as the metadata of a field of
    :class:`SweepSpec`, checked by :func:`check_keys`.

    Attributes
    ----------
    rule : str
        What is allowed, as the one-line message says it after the key and its value
        (``"expected an integer in [1, 100000]"``). ``{name}`` fields are filled in with the
        values of the keys checked before it (``{design!r}``).
    types : tuple of type
        Types the value may have; ``bool`` is an integer only where it is listed.
    required : bool or callable
        Whether the key must be given; a callable decides from the keys checked before it
        (a dict of their values).
    low, high : int, optional
        Inclusive bounds of a number.
    choices : tuple or callable, optional
        The allowed values; a callable returns them (for lists imported on first use).
    nonempty : bool
        A list or table must not be empty.
    items : callable, optional
        Returns the allowed items of a list; another item is refused with ``item_rule``.
    item_rule : str
        What is wrong with an item not in ``items()``.
    """

    rule: str
    types: tuple[type, ...] = (object,)
    required: bool | Callable[[dict], bool] = False
    low: int | None = None
    high: int | None = None
    choices: tuple | Callable[[], tuple] = ()
    nonempty: bool = False
    items: Callable[[], Iterable] | None = None
    item_rule: str = ""

    def allows(self, value) -> bool:
        """Whether ``value`` has an allowed type, lies in the bounds and is a choice."""
        if not isinstance(value, self.types) or (
            isinstance(value, bool) and bool not in self.types
        ):
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        choices = self.choices() if callable(self.choices) else self.choices
        if choices and value not in choices:
            return False
        return not (self.nonempty and len(value) == 0)

    def check(self, where: str, name: str, value, before: dict) -> None:
        """Raise the one-line :class:`ScenarioError` unless ``value`` is allowed.

        Parameters
        ----------
        where : str
            The file (or sweep) the key belongs to, first in the message.
        name : str
            The key as the message names it.
        value : Any
        before : dict
            Values of the keys checked before (for ``{name}`` fields of the rule).
        """
        if not self.allows(value):
            raise ScenarioError(f"{where}: {name} = {show(value)}: {self.rule.format_map(before)}")
        if self.items is not None:
            allowed = self.items()
            for item in value:
                if item not in allowed:
                    raise ScenarioError(f"{where}: {name} = {show(item)}: {self.item_rule}")

    def missing(self, where: str, name: str, before: dict) -> None:
        """Raise the one-line :class:`ScenarioError` if the key is required but absent."""
        required = self.required(before) if callable(self.required) else self.required
        if required:
            raise ScenarioError(f"{where}: {name}: missing; {self.rule.format_map(before)}")


def key_field(default=None, *, factory=None, **rules) -> Any:
    """A dataclass field for a schema checked by :func:`check_keys`.

    Parameters
    ----------
    default : Any
        The value of an absent key.
    factory : callable, optional
        Makes the value of an absent key (a mutable default such as ``dict``).
    **rules
        The arguments of its :class:`Key` (``rule``, ``types``, ``low``, ...).

    Returns
    -------
    dataclasses.Field
    """
    meta = {"key": Key(**rules)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def check_keys(
    schema: type,
    data: Mapping,
    where: str,
    unknown: Callable[[str, Any], None],
    after: Mapping[str, Callable[[dict], None]] | None = None,
):
    """Check a table against the keys that the fields of a dataclass declare.

    Every key of ``data`` must be a field of ``schema`` (else ``unknown(key, value)``
    raises); then each field is checked in its declared order by its :class:`Key`: given,
    its value must be allowed; absent, it must not be required.

    Parameters
    ----------
    schema : type
        A dataclass whose fields carry a :class:`Key` as ``metadata["key"]``.
    data : mapping
        The table (a parsed TOML file, or keyword arguments).
    where : str
        The file (or sweep) named first in messages.
    unknown : callable
        ``unknown(key, value)`` raises the message for a key ``schema`` does not declare.
    after : dict, optional
        ``{field: check}``: ``check(values)`` runs once ``field`` is checked, with the
        values checked so far (a check that needs several keys, such as loading the base
        scenario with its overrides, before the keys after them are checked).

    Returns
    -------
    schema
        An instance holding the given values (the declared defaults for the others).

    Raises
    ------
    ScenarioError
        One line naming ``where``, the key, its value and what is allowed.
    """
    declared = fields(schema)
    names = {f.name for f in declared}
    for name, value in data.items():
        if name not in names:
            unknown(name, value)
    before: dict[str, Any] = {}
    for f in declared:
        key: Key = f.metadata["key"]
        if f.name in data:
            key.check(where, f.name, data[f.name], before)
            before[f.name] = data[f.name]
        else:
            key.missing(where, f.name, before)
            before[f.name] = f.default_factory() if f.default is MISSING else f.default
        if after and f.name in after:
            after[f.name](before)
    return schema(**{name: before[name] for name in data})


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep file declares: one field per top-level key, each with its type and its
    allowed values (a :class:`Key`), checked in this order by :func:`check_keys`.

    The values are those written (``base`` as written, relative to the sweep file); a
    :class:`Sweep` resolves them (loads the base scenario, makes the design). Keyword
    arguments of :class:`Sweep` and of :meth:`Sweep.with_` have the same names.

    Attributes
    ----------
    base : str, Path or Scenario
        Required: the base scenario (a path relative to the sweep file, or a name).
    design : {"grid", "lhs", "sobol", "morris"}
    replications : int
        In [1, 100000].
    seed : int
        In [0, 2**63 - 1].
    samples : int or None
        In [1, 1000000]; required by the sampled designs.
    levels : int
        Morris levels, in [2, 100].
    description : str
    outcomes : list of str
        Outcomes of :data:`sim.SUMMARY_FIELDS`, at least one.
    set : mapping
        Fixed overrides of the base scenario, checked against the registry.
    balance : str or None
        One of the risk shares.
    parameters : mapping
        Required, not empty: each entry a :class:`ParameterSpec`.
    """

    base: str | os.PathLike | Scenario | None = key_field(
        rule="expected the base scenario file (a path relative to the sweep file, or a name)",
        types=(str, os.PathLike, Scenario),
        required=True,
    )
    design: str = key_field(
        "grid",
        rule="expected one of " + ", ".join(map(repr, DESIGNS)),
        types=(str,),
        choices=DESIGNS,
    )
    replications: int = key_field(
        1, rule="expected an integer in [1, 100000]", types=(int,), low=1, high=100_000
    )
    seed: int = key_field(
        0, rule="expected an integer in [0, 2**63 - 1]", types=(int,), low=0, high=MAX_SEED
    )
    samples: int | None = key_field(
        rule="expected an integer in [1, 1000000] for design {design!r}",
        types=(int,),
        low=1,
        high=10**6,
        required=lambda before: before["design"] != "grid",
    )
    levels: int = key_field(
        4, rule="expected an integer in [2, 100]", types=(int,), low=2, high=100
    )
    description: str = key_field("", rule="expected a string", types=(str,))
    outcomes: list | tuple = key_field(
        ("lending_volume",),
        rule="expected a list of outcomes",
        types=(list, tuple),
        nonempty=True,
        items=lambda: SUMMARY_FIELDS,
        item_rule="unknown outcome; see sim.SUMMARY_FIELDS",
    )
    set: Mapping = key_field(factory=dict, rule="expected a table of KEY = VALUE", types=(Mapping,))
    balance: str | None = key_field(
        rule="expected one of " + ", ".join(RISK_SHARE_KEYS),
        types=(str,),
        choices=RISK_SHARE_KEYS,
    )
    parameters: Mapping | None = key_field(
        rule="expected a table of parameters to vary",
        types=(Mapping,),
        required=True,
        nonempty=True,
    )

    def given(self) -> dict[str, Any]:
        """The keys with a value (``None`` stands for an absent ``samples`` or ``balance``)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


#: The top-level keys of a sweep file, in the order they are checked.
TOP_KEYS = tuple(f.name for f in fields(SweepSpec))


@dataclass(frozen=True)
class ParameterSpec:
    """One entry of a sweep file's ``[parameters]`` table (its keys, all optional).

    Attributes
    ----------
    values : list, optional
        The values of a grid factor (a grid design only); each is checked against the
        parameter's registry entry.
    low, high : number, optional
        A range (without ``values``); both within the parameter's allowed range, low below
        high. Sampled designs draw in it; a grid spreads ``levels`` values over it.
    levels : int, optional
        Values of a grid range (at least 2).
    """

    values: list | None = None
    low: float | None = None
    high: float | None = None
    levels: int | None = None


#: The keys of a ``[parameters]`` entry.
PARAMETER_KEYS = tuple(f.name for f in fields(ParameterSpec))
