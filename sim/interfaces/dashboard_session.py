"""State and validation of one dashboard session (``gsim viz``; the page is
:mod:`sim.interfaces.app`).

A :class:`Session` holds what one browser tab has chosen: the scenario file, the
value of every control (the main policy levers of the parameter registry, the model
size and the seed), the last valid scenario and the model built from it. Every change
is validated at once with :meth:`sim.scenario.Scenario.with_overrides`: a valid one
rebuilds the model (month 0 of the horizon, same seed, so runs can be compared); an
invalid one keeps the previous model and records the message with the control group
it belongs to, found from the keys the :class:`~sim.scenario.ScenarioError` names.

The model is a :class:`DashboardMarket`, which runs its burn-in months when it is
built, so that Mesa's step counter counts reported months and the plots start at
month 1 of the horizon, like the ``timeseries`` of ``gsim run``.
"""

from __future__ import annotations

import functools
import math
import os
import time
from pathlib import Path
from typing import Any

import solara
from mesa.visualization.utils import force_update

from sim.model import GuaranteeMarket
from sim.parameters import REGISTRY, RISK_SHARE_KEYS, Parameter
from sim.risk_sharing import PRESETS
from sim.scenario import (
    PRESET_KEY,
    Scenario,
    ScenarioError,
    copy_value,
    default_scenario,
    load_scenario,
    scenario_folder,
)

from .plots import YI

__all__ = [
    "DEFAULTS_LABEL",
    "DEFAULT_N_SMES",
    "GROUPS",
    "SCENARIO_GROUP",
    "DashboardMarket",
    "Session",
    "control_groups",
    "control_keys",
    "default_scenario_file",
    "error_group",
    "group_heading",
    "group_of",
    "is_money",
    "label_of",
    "scenario_dir",
    "slider_step",
]

#: Simulated SMEs in the dashboard (the registry default, 20 000, is for experiments).
DEFAULT_N_SMES = 5000
N_SMES_CHOICES = (1000, 2000, 5000, 10_000, 20_000, 50_000)
DEFAULTS_LABEL = "(registry defaults)"
#: Ensemble members behind the dashboard's parameter-uncertainty band.
ENSEMBLE_MEMBERS = 20
N_SMES_KEY = "run.n_smes"
SEED_KEY = "seed"
#: Risk shares move in whole percentage points.
SHARE_STEP = 0.01
#: Keys shown although they are not marked as main levers.
EXTRA_KEYS = ("shock.", "comp_fund.city_budget", "comp_fund.district_budget")
#: Group of the scenario card (file, model size, seed, ensemble band).
SCENARIO_GROUP = "scenario"
#: Control groups: (title, registry sections); the risk shares and their preset form the first.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Risk sharing", ()),
    ("Fees and guarantor conduct", ("guarantor", "reguarantor")),
    ("Public funds and subsidies", ("national_fund", "comp_fund", "government")),
    ("Banks", ("bank",)),
    (
        "Information, collateral, recovery, batch",
        ("information", "collateral", "recovery", "batch"),
    ),
    ("Shock and sector relief", ("shock", "relief")),
)
#: Group of a lever whose section no group names (a lever added to the registry later).
OTHER_GROUP = "Other levers"


# --------------------------------------------------------------------------- controls
@functools.cache
def control_keys() -> tuple[str, ...]:
    """Registry keys that get a dashboard control, in registry order.

    Every main lever (``Parameter.lever``), the shock parameters and the
    compensation-fund budgets. The registry is immutable, so this is computed once.
    """
    return tuple(
        k
        for k, p in REGISTRY.items()
        if p.lever or any(k.startswith(e) if e.endswith(".") else k == e for e in EXTRA_KEYS)
    )


def group_of(key: str) -> str:
    """Title of the control group ``key`` is shown in."""
    if key in RISK_SHARE_KEYS or key == PRESET_KEY:
        return GROUPS[0][0]
    section = key.split(".", 1)[0]
    for title, sections in GROUPS:
        if section in sections:
            return title
    return OTHER_GROUP


def control_groups() -> dict[str, list[str]]:
    """Control keys by group title, in display order (the preset before the shares)."""
    groups: dict[str, list[str]] = {title: [] for title, _ in GROUPS} | {OTHER_GROUP: []}
    for key in sorted(control_keys(), key=lambda k: k != PRESET_KEY):
        groups[group_of(key)].append(key)
    return {title: keys for title, keys in groups.items() if keys}


def group_heading(title: str, keys) -> str:
    """``title`` followed by the 2022 measures its parameters are levers of."""
    measures = sorted({REGISTRY[k].measure for k in keys} - {None})
    if not measures:
        return title
    return f"{title} (measure{'s' if len(measures) > 1 else ''} {', '.join(map(str, measures))})"


def error_group(exc: ScenarioError, default: str) -> str:
    """Group whose message box shows ``exc``: that of the first key it is about that has
    a control (:attr:`ScenarioError.keys`), else ``default``."""
    keys = [k for k in exc.keys if k in control_keys()]
    return group_of(keys[0]) if keys else default


def is_money(p: Parameter) -> bool:
    """Money amounts are entered in 100 million yuan (亿元) in a number field."""
    return p.kind == "float" and p.unit.startswith("yuan")


def _num(x: float) -> str:
    return f"{x:,.10g}" if abs(x) >= 1e4 else f"{x:.10g}"


def label_of(p: Parameter) -> str:
    """Control label: the dotted key, the unit (money in 100 million yuan) and the range."""
    scale = YI if is_money(p) else 1.0
    unit = "100 million yuan" + p.unit[len("yuan") :] if is_money(p) else p.unit
    parts = [unit] if unit else []
    if p.low is not None and p.high is not None:
        parts.append(f"{_num(p.low / scale)} to {_num(p.high / scale)}")
    return f"{p.key} ({', '.join(parts)})" if parts else p.key


def slider_step(p: Parameter) -> float:
    """Slider resolution: whole percentage points for risk shares, else 1/1000 of the range."""
    if p.kind == "int":
        return 1
    if p.key in RISK_SHARE_KEYS:
        return SHARE_STEP
    return 10.0 ** math.floor(math.log10(p.high - p.low) - 3)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


# --------------------------------------------------------------------------- the model
class DashboardMarket(GuaranteeMarket):
    """:class:`GuaranteeMarket` that starts at month 0 of the reported horizon.

    The burn-in months are run here, outside Mesa's step counter, so
    ``model.steps`` and ``model.time`` count reported months. Stepping past the
    horizon does nothing. Mesa's Reset builds a new one from the same ``settings``
    (the :class:`Session`, which holds the last valid scenario and seed).

    Parameters
    ----------
    settings : object with ``scenario`` and ``seed``, optional
        Defaults to the registry defaults at the dashboard size, seed 0.
    """

    def __init__(self, settings=None):
        if settings is None:
            scenario, seed = default_scenario().with_overrides({N_SMES_KEY: DEFAULT_N_SMES}), 0
        else:
            scenario, seed = settings.scenario, settings.seed
        super().__init__(scenario, rng=seed)
        for _ in range(self.burn_in):
            super().step()

    def step(self) -> None:
        if self.month >= self.burn_in + self.horizon:
            self.running = False
            return
        super().step()


# --------------------------------------------------------------------------- session state
def scenario_dir(scenario_file: str | os.PathLike | None = None) -> Path:
    """Folder the scenario picker lists: the starting file's, else
    :func:`sim.scenario.scenario_folder` (./scenarios, else those installed with gsim)."""
    return Path(scenario_file).resolve().parent if scenario_file else scenario_folder()


def default_scenario_file() -> Path | None:
    """``baseline_2021.toml`` of :func:`scenario_dir`, if there is one."""
    path = scenario_dir() / "baseline_2021.toml"
    return path if path.is_file() else None


class Session:
    """State of one browser session: scenario file, control values, applied scenario, model.

    Parameters
    ----------
    scenario_file : path, optional
        Starting scenario; ``None`` for :func:`default_scenario_file` (or the
        registry defaults when there is none).
    n_smes : int
        Simulated SMEs (``run.n_smes``) of the dashboard's models.
    seed : int
        Root seed of the models.
    ensemble : path, optional
        Calibrated ensemble of the band (``gsim calibrate --ensemble``); default
        :data:`sim.experiments.members.DEFAULT_ENSEMBLE`.
    members : int
        Ensemble members the band is computed over.

    Attributes
    ----------
    values : solara.Reactive[dict]
        Current value of every control, keyed by registry key (plus ``"seed"``);
        may be invalid. ``controls[key]`` holds the same value as a reactive of its own.
    error : solara.Reactive[tuple[str, str] | None]
        ``(message, group title)`` of the last rejected change.
    model : solara.Reactive[DashboardMarket]
        The model shown; replaced only by a valid change or Mesa's Reset.
    scenario : Scenario
        The last valid scenario (the file plus the dashboard's overrides).
    show_bands : solara.Reactive[bool]
        Whether the plots show the ensemble band.
    bands : solara.Reactive[dict | None]
        With ``show_bands``: ``timeseries`` (the ensemble run of :attr:`scenario`, one
        replication per member, a ``member`` column), ``members``, ``file`` and
        ``seconds`` (time to compute).
    """

    def __init__(
        self,
        scenario_file=None,
        *,
        n_smes: int = DEFAULT_N_SMES,
        seed: int = 0,
        ensemble: str | os.PathLike | None = None,
        members: int = ENSEMBLE_MEMBERS,
    ):
        from sim.experiments.members import DEFAULT_ENSEMBLE

        self.ensemble = Path(DEFAULT_ENSEMBLE if ensemble is None else ensemble)
        self.members = members
        self.show_bands = solara.reactive(False)
        self.bands: solara.Reactive[dict | None] = solara.reactive(None)
        if scenario_file is None:
            scenario_file = default_scenario_file()
        self.folder = scenario_dir(scenario_file)
        self.error: solara.Reactive[tuple[str, str] | None] = solara.reactive(None)
        self.file = solara.reactive(DEFAULTS_LABEL)
        self.base = default_scenario()
        if scenario_file is not None:
            try:
                self.base = load_scenario(scenario_file)
                self.file.value = Path(scenario_file).name
            except ScenarioError as exc:
                self.error.value = (f"{exc}; showing the registry defaults", SCENARIO_GROUP)
        self.values = solara.reactive(self._values_of(self.base, n_smes, seed))
        #: one reactive per control, so that a change re-renders only the controls it moves
        self.controls = {k: solara.reactive(v) for k, v in self.values.value.items()}
        self.seed = seed
        self.scenario = self.base.with_overrides({N_SMES_KEY: n_smes}, source="dashboard")
        self.model = solara.reactive(DashboardMarket(self))
        #: a model installed by a change while Mesa's controller had seen the run finish
        self._blocked: DashboardMarket | None = None

    # ---- reading
    @property
    def needs_reset(self) -> bool:
        """Whether Mesa's Step and ▶ are disabled: its controller keeps them off after a
        finished run until its Reset (which builds from these settings) replaces the model."""
        return self._blocked is not None and self._blocked is self.model.value

    def files(self) -> list[str]:
        """Choices of the scenario picker."""
        names = sorted(p.name for p in self.folder.glob("*.toml") if p.is_file())
        if self.file.value not in names and self.file.value != DEFAULTS_LABEL:
            names.append(self.file.value)
        return [*names, DEFAULTS_LABEL]

    def overrides(self, values: dict | None = None) -> dict[str, Any]:
        """Overrides of the scenario file that the control values amount to."""
        values = self.values.value if values is None else values
        base = self.base
        out = {
            k: v
            for k, v in values.items()
            if k in REGISTRY
            and k not in RISK_SHARE_KEYS
            and k != PRESET_KEY
            and not _same(v, base[k])
        }
        preset = values[PRESET_KEY]
        if preset != "custom":
            if preset != base[PRESET_KEY]:
                out[PRESET_KEY] = preset
        elif base[PRESET_KEY] != "custom" or any(
            not _same(values[k], base[k]) for k in RISK_SHARE_KEYS
        ):
            out.update({k: values[k] for k in RISK_SHARE_KEYS})
        return out

    # ---- changing
    def set_value(self, key: str, value: Any) -> bool:
        """Change one control; apply it if the result is valid. Returns whether it was applied."""
        values = dict(self.values.value)
        p = REGISTRY.get(key)
        if p is not None and p.kind == "float" and isinstance(value, int | float):
            if not is_money(p):  # no float noise below the slider's resolution
                value = round(float(value), max(0, -math.floor(math.log10(slider_step(p)))) + 2)
        values[key] = value
        if key in RISK_SHARE_KEYS:
            values[PRESET_KEY] = "custom"
        elif key == PRESET_KEY and value in PRESETS:
            values.update(zip(RISK_SHARE_KEYS, PRESETS[value], strict=True))
        self._set_values(values)
        return self.apply(group_of(key) if key in REGISTRY else SCENARIO_GROUP)

    def share_remainder_to_guarantor(self) -> bool:
        """Set the guarantor share to 1 minus the other four shares."""
        rest = math.fsum(self.values.value[k] for k in RISK_SHARE_KEYS[1:])
        return self.set_value(RISK_SHARE_KEYS[0], round(1.0 - rest, 6))

    def select_file(self, name: str) -> bool:
        """Load another scenario file (or the registry defaults) and reset the controls to it."""
        try:
            base = (
                default_scenario() if name == DEFAULTS_LABEL else load_scenario(self.folder / name)
            )
        except ScenarioError as exc:
            self.error.value = (f"{exc}; keeping {self.file.value}", SCENARIO_GROUP)
            return False
        self.base = base
        self.file.value = name
        values = self.values.value
        self._set_values(self._values_of(base, values[N_SMES_KEY], values[SEED_KEY]))
        return self.apply(SCENARIO_GROUP)

    def restore_file_values(self) -> bool:
        """Set every lever back to the scenario file's value."""
        return self.select_file(self.file.value)

    def apply(self, group: str = SCENARIO_GROUP) -> bool:
        """Validate the control values; on success rebuild the model, else record why not
        in :attr:`error`, placed by the keys the error names (:func:`error_group`)."""
        values = self.values.value
        old = (self.scenario, self.seed)
        try:
            seed = values[SEED_KEY]
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
                raise ScenarioError(
                    f"dashboard: seed = {seed!r}: expected an integer >= 0", keys=(SEED_KEY,)
                )
            self.scenario = self.base.with_overrides(self.overrides(values), source="dashboard")
            self.seed = seed
            model = DashboardMarket(self)
        except ScenarioError as exc:
            self.scenario, self.seed = old
            self.error.value = (str(exc), error_group(exc, group))
            return False
        except Exception as exc:  # a model that cannot be built: report, keep the old one
            self.scenario, self.seed = old
            self.error.value = (f"cannot build the model: {type(exc).__name__}: {exc}", group)
            return False
        self.error.value = None
        self._blocked = model if self.needs_reset or not self.model.value.running else None
        self.model.value = model
        if self.show_bands.value:
            self.compute_bands()
        return True

    def set_show_bands(self, on: bool) -> bool:
        """Show (computing it) or hide the ensemble band; False if it cannot be computed."""
        self.show_bands.value = bool(on)
        if not on:
            self.bands.value = None
            return True
        return self.compute_bands()

    def compute_bands(self) -> bool:
        """Run :attr:`scenario` once for each ensemble member (common random numbers,
        :func:`sim.experiments.run_ensemble`) and keep the runs' ``timeseries``."""
        from sim.experiments.members import EnsembleError, read_members
        from sim.experiments.replications import run_ensemble

        t0 = time.perf_counter()
        try:
            frame = read_members(self.ensemble, self.members)
            ts = run_ensemble([self.scenario], frame, 1, self.seed).timeseries
        except EnsembleError as exc:
            self.error.value = (f"ensemble band: {exc}", SCENARIO_GROUP)
            self.show_bands.value = False
            self.bands.value = None
            return False
        self.bands.value = {
            "timeseries": ts,
            "members": int(ts["member"].nunique()),
            "file": self.ensemble.name,
            "seconds": time.perf_counter() - t0,
        }
        return True

    def run_to_end(self) -> None:
        """Step the model to the end of the horizon."""
        model = self.model.value
        while model.running:
            model.step()
        force_update()

    def _set_values(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self.controls[key].value = value  # notifies only when the value changed
        self.values.value = values

    @staticmethod
    def _values_of(scenario: Scenario, n_smes: int, seed: int) -> dict[str, Any]:
        values = {k: copy_value(scenario[k]) for k in control_keys()}
        values[N_SMES_KEY] = n_smes
        values[SEED_KEY] = seed
        return values
