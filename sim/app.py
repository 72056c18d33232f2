"""The interactive dashboard (``gsim viz``): a Mesa SolaraViz app.

The page is Mesa's :func:`~mesa.visualization.SolaraViz` (its Step, ▶/❚❚ and
Reset controls, play interval, and a grid of plot components) plus a sidebar of
controls generated from the parameter registry (:mod:`sim.parameters`):

- a scenario picker listing the ``*.toml`` files next to the starting scenario;
  picking one reloads every control from that file;
- the model size (``run.n_smes``, small by default so that stepping is fast)
  and the seed;
- every main policy lever (``Parameter.lever``), the shock parameters and the
  compensation-fund budgets: a slider for a bounded number (the registry's range
  and unit in its label), a number field in 100 million yuan for money (their
  ranges span eight orders of magnitude), a checkbox for a switch, a select for
  a choice, a multi-select for a list of sectors. The five risk shares are
  sliders plus the ``risk_sharing.preset`` select, with the sum-to-1 rule.

A change is validated at once with :meth:`Scenario.with_overrides`. A valid
change rebuilds the model (month 0 of the horizon, same seed, so runs can be
compared); an invalid one (shares not summing to 1, a number out of range)
shows the validation message and keeps the previous model and plots.

Burn-in: the model collects data only over the reported horizon. The dashboard
runs the burn-in months when it creates a model (a few milliseconds at the
default size), so the plots start at month 1 of the horizon, exactly like the
``timeseries`` of ``gsim run``, and Mesa's step counter and time count reported
months. Plotting the burn-in would mostly show the loan book filling up from
empty.

Run with ``gsim viz [--scenario FILE] [--port P] [--host H]``; the server binds
to 127.0.0.1 unless told otherwise. Offline use needs ``solara-assets`` (the
front-end files Solara would otherwise fetch from a CDN) and ``ipyvuetify<3``.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from .model import GuaranteeMarket
from .outcome_registry import DISPLAYS, OUTCOMES
from .parameters import REGISTRY, RISK_SHARE_KEYS, SECTORS, Parameter
from .plots import PARTIES, PARTY_LABELS, YI
from .risk_sharing import PRESETS
from .scenario import (
    PRESET_KEY,
    Scenario,
    ScenarioError,
    copy_value,
    default_scenario,
    load_scenario,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_N_SMES",
    "DEFAULT_PORT",
    "SCENARIO_ENV",
    "DashboardMarket",
    "Dashboard",
    "Page",
    "ServeError",
    "Session",
    "control_keys",
    "dashboard",
    "main",
]

#: Environment variable through which ``main`` tells the server's pages the starting scenario.
SCENARIO_ENV = "GSIM_VIZ_SCENARIO"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
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


def group_heading(title: str, keys: list[str]) -> str:
    """``title`` followed by the 2022 measures its parameters are levers of."""
    measures = sorted({REGISTRY[k].measure for k in keys if REGISTRY[k].measure})
    if not measures:
        return title
    return f"{title} (measure{'s' if len(measures) > 1 else ''} {', '.join(map(str, measures))})"


def is_money(p: Parameter) -> bool:
    """Money amounts are entered in 100 million yuan (亿元) in a number field."""
    return p.kind == "float" and p.unit.startswith("yuan")


def display_unit(p: Parameter) -> str:
    return "100 million yuan" + p.unit[len("yuan") :] if is_money(p) else p.unit


def _num(x: float) -> str:
    return f"{x:,.10g}" if abs(x) >= 1e4 else f"{x:.10g}"


def label_of(p: Parameter) -> str:
    """Control label: the dotted key, the unit and the allowed range."""
    scale = YI if is_money(p) else 1.0
    parts = [display_unit(p)] if display_unit(p) else []
    if p.low is not None and p.high is not None:
        parts.append(f"{_num(p.low / scale)} to {_num(p.high / scale)}")
    return f"{p.key} ({', '.join(parts)})" if parts else p.key


def help_of(p: Parameter) -> str:
    measure = f" Measure {p.measure} of the 2022 package." if p.measure else ""
    return f"{p.description}. Allowed: {p.allowed()}.{measure}"


def slider_step(p: Parameter) -> float:
    """Slider resolution: whole percentage points for risk shares, else 1/1000 of the range."""
    if p.kind == "int":
        return 1
    if p.key in RISK_SHARE_KEYS:
        return SHARE_STEP
    return 10.0 ** math.floor(math.log10(p.high - p.low) - 3)


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step)))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


# --------------------------------------------------------------------------- the model
class DashboardMarket(GuaranteeMarket):
    """:class:`GuaranteeMarket` that starts at month 0 of the reported horizon.

    The burn-in months are run here, outside Mesa's step counter, so
    ``model.steps`` and ``model.time`` count reported months. Stepping past the
    horizon does nothing. Mesa's Reset builds a new one from the same
    ``settings`` (the dashboard :class:`Session`, which holds the last valid
    scenario and seed).

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
        if isinstance(settings, Session) and not settings._building:  # Mesa's Reset
            settings.needs_reset.value = False

    def step(self) -> None:
        if self.month >= self.burn_in + self.horizon:
            self.running = False
            return
        super().step()


# --------------------------------------------------------------------------- session state
def scenario_dir(scenario_file: str | os.PathLike | None = None) -> Path:
    """Folder the scenario picker lists: the starting file's, else ./scenarios, else the
    scenario files installed with gsim (:func:`sim.scenario.packaged_scenarios`)."""
    from .scenario import packaged_scenarios

    if scenario_file:
        return Path(scenario_file).resolve().parent
    here = Path.cwd() / "scenarios"
    return here if here.is_dir() else packaged_scenarios()


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
    bands : solara.Reactive[dict | None]
        With ``show_bands``: the 5-95% band and median of every plotted series over the
        first ``members`` members of ``ensemble`` for :attr:`scenario` (parameter and
        stochastic uncertainty, one replication per member), keyed by series name.
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
        from .ensemble import DEFAULT_ENSEMBLE

        #: the calibrated ensemble of the band (``gsim calibrate --ensemble``), if any
        self.ensemble = Path(ensemble) if ensemble is not None else Path(DEFAULT_ENSEMBLE)
        self.members = members
        #: whether the plots show the ensemble band, and the band (:meth:`compute_bands`)
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
                self.error.value = (f"{exc}; showing the registry defaults", "scenario")
        self.values = solara.reactive(self._values_of(self.base, n_smes, seed))
        #: one reactive per control, so that a change re-renders only the controls it moves
        self.controls = {k: solara.reactive(v) for k, v in self.values.value.items()}
        self.seed = seed
        self.scenario = self.base.with_overrides({N_SMES_KEY: n_smes}, source="dashboard")
        #: True after a change replaced a finished model: Mesa's controller keeps Step and ▶
        #: disabled until its Reset (which builds from these settings) is pressed
        self.needs_reset = solara.reactive(False)
        self._building = False
        self.model = solara.reactive(DashboardMarket(self))

    # ---- reading
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
            if not is_money(p):
                value = round(float(value), _decimals(slider_step(p)) + 2)
        values[key] = value
        if key in RISK_SHARE_KEYS:
            values[PRESET_KEY] = "custom"
        elif key == PRESET_KEY and value in PRESETS:
            values.update(zip(RISK_SHARE_KEYS, PRESETS[value], strict=True))
        self._set_values(values)
        return self.apply(group_of(key) if key in REGISTRY else "scenario")

    def share_remainder_to_guarantor(self) -> bool:
        """Set the guarantor share to 1 minus the other four shares."""
        values = self.values.value
        rest = math.fsum(values[k] for k in RISK_SHARE_KEYS[1:])
        return self.set_value(RISK_SHARE_KEYS[0], round(1.0 - rest, 6))

    def select_file(self, name: str) -> bool:
        """Load another scenario file (or the registry defaults) and reset the controls to it."""
        try:
            base = (
                default_scenario() if name == DEFAULTS_LABEL else load_scenario(self.folder / name)
            )
        except ScenarioError as exc:
            self.error.value = (f"{exc}; keeping {self.file.value}", "scenario")
            return False
        self.base = base
        self.file.value = name
        values = self.values.value
        self._set_values(self._values_of(base, values[N_SMES_KEY], values[SEED_KEY]))
        return self.apply("scenario")

    def restore_file_values(self) -> bool:
        """Set every lever back to the scenario file's value."""
        return self.select_file(self.file.value)

    def apply(self, group: str = "scenario") -> bool:
        """Validate the control values; on success rebuild the model, else show why not."""
        values = self.values.value
        try:
            seed = values[SEED_KEY]
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
                raise ScenarioError(f"dashboard: seed = {seed!r}: expected an integer >= 0")
            scenario = self.base.with_overrides(self.overrides(values), source="dashboard")
            old = (self.scenario, self.seed)
            self.scenario, self.seed = scenario, seed
            self._building = True
            try:
                model = DashboardMarket(self)
            except Exception:
                self.scenario, self.seed = old
                raise
            finally:
                self._building = False
        except ScenarioError as exc:
            self.error.value = (str(exc), _error_group(str(exc), group))
            return False
        except Exception as exc:  # a model that cannot be built: report, keep the old one
            self.error.value = (f"cannot build the model: {type(exc).__name__}: {exc}", group)
            return False
        self.error.value = None
        if not self.model.value.running:
            self.needs_reset.value = True
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
        """Run the scenario for each ensemble member and keep each series' band by month.

        Common random numbers across members (``sim.experiments.run_ensemble``); a
        cumulative plot's series are summed over months within each run before the
        quantiles are taken.
        """
        import time

        from .ensemble import EnsembleError, read_members
        from .experiments import run_ensemble

        t0 = time.perf_counter()
        try:
            frame = read_members(self.ensemble, self.members)
            ts = run_ensemble([self.scenario], frame, 1, self.seed).timeseries
        except EnsembleError as exc:
            self.error.value = (f"ensemble band: {exc}", "scenario")
            self.show_bands.value = False
            self.bands.value = None
            return False
        series: dict[str, tuple[np.ndarray, ...]] = {}
        for which, (_, _, entries) in PLOTS.items():
            for name in entries:
                wide = ts.pivot_table(index="month", columns="member", values=name)
                if which in CUMULATIVE:
                    wide = wide.cumsum()
                q = np.nanquantile(wide.to_numpy(float), [0.05, 0.5, 0.95], axis=1)
                series[name] = (wide.index.to_numpy(float), *q)
        self.bands.value = {
            "series": series,
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


def _error_group(message: str, default: str) -> str:
    """Group of the control a validation message names ("dashboard: KEY = ..." or shares)."""
    if "risk shares" in message:
        return GROUPS[0][0]
    head = message.removeprefix("dashboard: ").split(" ", 1)[0]
    return group_of(head) if head in control_keys() else default


# --------------------------------------------------------------------------- components
def css_class(key: str) -> str:
    """CSS class of the control of ``key`` (``gsim-key-guarantor-fee_cap``)."""
    return "gsim-key-" + key.replace(".", "-")


@solara.component
def ParameterControl(session: Session, key: str):
    """The control of one registry parameter, chosen by its kind.

    The label (key, unit, range; the value for sliders) sits on its own line above
    the input so that sliders keep their full width in the sidebar.
    """
    p = REGISTRY[key]
    value = session.controls[key].value
    label = label_of(p)

    def on_value(v, key=key):
        session.set_value(key, v)

    with solara.Tooltip(help_of(p)):
        with solara.Column(gap="0px", classes=["gsim-control", css_class(key)]):
            if p.kind == "bool":
                solara.Checkbox(label=label, value=bool(value), on_value=on_value)
                return
            if p.kind in ("int", "float") and not is_money(p):
                label = label.replace(" (", f" = {_show(value)} (", 1)
            solara.Text(label, classes=["gsim-label"], style={"font-size": "0.85em"})
            if p.kind == "choice":
                solara.Select(
                    "", values=list(p.choices), value=value, on_value=on_value, dense=True
                )
            elif p.kind == "sectors":
                solara.SelectMultiple(
                    "",
                    values=list(value),
                    all_values=list(SECTORS),
                    on_value=lambda v: on_value(sorted(v, key=SECTORS.index)),
                    dense=True,
                )
            elif is_money(p):
                shown = value / YI if isinstance(value, int | float) else value
                solara.InputFloat(
                    "",
                    value=shown,
                    on_value=lambda v: on_value(round(v * YI, 2) if v is not None else v),
                    continuous_update=False,
                    dense=True,
                )
            elif p.kind == "int":
                solara.SliderInt(
                    "", value=int(value), min=int(p.low), max=int(p.high), on_value=on_value
                )
            else:
                solara.SliderFloat(
                    "",
                    value=float(value),
                    min=p.low,
                    max=p.high,
                    step=slider_step(p),
                    on_value=on_value,
                )


@solara.component
def ErrorMessage(session: Session, group: str):
    """The validation message of the last rejected change, if it concerns ``group``."""
    error = session.error.value
    if error is not None and error[1] == group:
        solara.Error(
            f"Not applied: {error[0]}. The model and plots keep the last valid settings.",
            classes=["gsim-error"],
        )


@solara.component
def ErrorPointer(session: Session):
    """A line at the top of the sidebar naming the group whose message explains a rejection."""
    error = session.error.value
    if error is not None and error[1] != "scenario":
        solara.Text(
            f"A value under '{error[1]}' was not applied (see the message there); "
            "the model and plots keep the last valid settings.",
            classes=["gsim-error-pointer"],
            style={"color": "#b00020", "font-size": "0.85em", "display": "block"},
        )


@solara.component
def RiskShareStatus(session: Session):
    values = session.values.value
    total = math.fsum(values[k] for k in RISK_SHARE_KEYS)
    ok = math.isclose(total, 1.0, abs_tol=1e-9)
    text = f"Sum of the five shares: {total:.2f}" + (" (must be 1)" if not ok else "")
    solara.Text(text, classes=["gsim-share-sum"], style={} if ok else {"color": "#b00020"})
    if not ok:
        solara.Button(
            "Give the remainder to the guarantor",
            on_click=session.share_remainder_to_guarantor,
            text=True,
            color="primary",
        )


@solara.component
def RunStatus(session: Session):
    """Scenario, month of the horizon and run size; re-rendered on every step."""
    update_counter.get()
    model = session.model.value
    sc = session.scenario
    solara.Text(
        f"Month {model.horizon_month} of {model.horizon}",
        classes=["gsim-month"],
        style={"font-weight": "bold"},
    )
    solara.Text(
        f"{sc.name}: {model.params[N_SMES_KEY]:,} simulated SMEs, seed {session.seed}; "
        f"the {model.burn_in} burn-in months ran when the model was built.",
        style={"font-size": "0.85em"},
    )
    changed = {k: v for k, v in session.overrides(session.values.value).items() if k != N_SMES_KEY}
    if changed and session.error.value is None:
        listing = ", ".join(f"{k} = {_show(v)}" for k, v in changed.items())
        solara.Text(f"Changed from the file: {listing}", style={"font-size": "0.85em"})
    if session.needs_reset.value:
        solara.Info(
            "Mesa's Step and ▶ stay disabled after a finished run: press Reset "
            "(it keeps these settings).",
            dense=True,
        )
    elif not model.running:
        solara.Text(
            "End of the horizon: Reset or change a lever for a new run.",
            style={"font-size": "0.85em", "display": "block"},
        )
    for w in sc.warnings:
        solara.Warning(w, dense=True)


def _show(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return repr(v)


@solara.component
def EnsembleBandControl(session: Session):
    """Switch for the parameter-uncertainty band, and what the band is."""
    available = session.ensemble.is_file()
    with solara.Div(classes=["gsim-bands"]):
        solara.Checkbox(
            label=f"Ensemble band: {session.members} members of {session.ensemble.name}"
            if available
            else f"Ensemble band: no ensemble file ({session.ensemble})",
            value=session.show_bands.value,
            on_value=session.set_show_bands,
            disabled=not available,
        )
    bands = session.bands.value
    if bands:
        solara.Text(
            f"Shaded: 5-95% over {bands['members']} parameter sets of {bands['file']} "
            f"(parameter and stochastic uncertainty), one run each, this scenario and seed; "
            f"lines: the model you step ({bands['seconds']:.1f} s to compute).",
            style={"font-size": "0.8em"},
        )


@solara.component
def ScenarioControls(session: Session):
    values = session.values.value
    with solara.Card("Scenario", classes=["gsim-scenario"]):
        solara.Select(
            "Scenario file",
            values=session.files(),
            value=session.file.value,
            on_value=session.select_file,
        )
        solara.Select(
            f"{N_SMES_KEY} (simulated firms; model size)",
            values=list(N_SMES_CHOICES),
            value=values[N_SMES_KEY],
            on_value=lambda v: session.set_value(N_SMES_KEY, v),
        )
        solara.InputInt(
            "Seed (integer >= 0)",
            value=values[SEED_KEY],
            on_value=lambda v: session.set_value(SEED_KEY, v),
            continuous_update=False,
        )
        EnsembleBandControl(session)
        ErrorMessage(session, "scenario")
        ErrorPointer(session)
        RunStatus(session)
        with solara.Row():
            solara.Button("Run to end", on_click=session.run_to_end, color="primary")
            solara.Button("Restore file values", on_click=session.restore_file_values, text=True)


@solara.component
def LeverControls(session: Session):
    """Registry-generated controls, grouped; every change is validated and applied at once."""
    by_group: dict[str, list[str]] = {}
    for key in control_keys():
        by_group.setdefault(group_of(key), []).append(key)
    with solara.Card("Policy levers", classes=["gsim-levers"]):
        solara.Text(
            "A change rebuilds the model at month 0 (same seed); hover a control for its meaning.",
            style={"font-size": "0.85em", "display": "block"},
        )
        for title in [t for t, _ in GROUPS] + [OTHER_GROUP]:
            keys = by_group.get(title, [])
            if not keys:
                continue
            # (not solara.Markdown: it loads KaTeX, which solara-assets does not hold)
            solara.Text(
                group_heading(title, keys),
                style={"font-weight": "bold", "margin-top": "8px", "display": "block"},
            )
            for key in sorted(keys, key=lambda k: k != PRESET_KEY):
                ParameterControl(session, key)
            if title == GROUPS[0][0]:
                RiskShareStatus(session)
            ErrorMessage(session, title)


@solara.component
def SidebarControls(session: Session):
    ScenarioControls(session)
    LeverControls(session)


# ---- plots
def _frame(model) -> dict[str, np.ndarray]:
    df = model.datacollector.get_model_vars_dataframe()
    return {c: df[c].to_numpy(dtype=float) for c in df.columns} if len(df) else {}


def _shown(key: str, values):
    """``values`` of outcome ``key`` in the unit its figures show (outcome registry)."""
    return OUTCOMES[key].style.scaled(values)


def _unit(key: str) -> str:
    """The unit figures show outcome ``key`` in (``100 million yuan``, ``% p.a.``, ...)."""
    return OUTCOMES[key].figure_unit()


def _lending(ax, d, model):
    ax.plot(d["month"], _shown("new_guaranteed", d["new_guaranteed"]), label="Guaranteed")
    ax.plot(d["month"], _shown("new_direct", d["new_direct"]), label="Direct (no guarantee)")
    ax.set_ylabel(f"{_unit('new_guaranteed')} per month")
    ax.set_ylim(bottom=0)


def _defaults(ax, d, model):
    ax.plot(d["month"], d["defaults_guaranteed"], label="Defaults, guaranteed loans")
    ax.plot(d["month"], d["defaults_direct"], label="Defaults, direct loans")
    ax.set_ylabel(f"Defaults per month ({_unit('defaults_guaranteed')})")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(
        d["month"],
        _shown("compensation", d["compensation"]),
        color="C3",
        ls="--",
        label="Compensation (right)",
    )
    ax2.set_ylabel(f"Compensation, {_unit('compensation')} per month")
    ax2.set_ylim(bottom=0)
    return ax2


def _losses(ax, d, model):
    for p in PARTIES:
        key = f"loss_{p}"
        ax.plot(d["month"], _shown(key, np.cumsum(d[key])), label=PARTY_LABELS[p])
    ax.set_ylabel(f"Cumulative, {_unit('loss_bank')}")


def _leverage(ax, d, model):
    ax.plot(d["month"], d["leverage"], label="Leverage (liability / net assets)")
    ax.plot(d["month"], d["leverage_cap"], ls="--", color="C3", label="Cap (mean over guarantors)")
    ax.set_ylabel(f"Ratio ({_unit('leverage')})")
    ax.set_ylim(bottom=0)


def _fee(ax, d, model):
    fee = _shown("avg_guarantee_fee", d["avg_guarantee_fee"])
    cap = _shown("avg_guarantee_fee", model.params["guarantor.fee_cap"])
    ax.plot(d["month"], fee, label="Average fee on new guarantees")
    ax.axhline(cap, ls="--", color="C3", label="Fee cap (lever)")
    ax.set_ylabel(f"Fee ({_unit('avg_guarantee_fee')} of the loan)")
    top = max(cap, float(np.nanmax(fee)) if np.isfinite(fee).any() else 0.0)
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)


#: Plots of cumulative sums over the horizon (the others show monthly values).
CUMULATIVE = frozenset({"losses"})
#: The plots: key -> (title, drawing function, the series its caption lists). The series'
#: units and scales are the outcome registry's (:data:`sim.outcome_registry.OUTCOMES`).
PLOTS: dict[str, tuple[str, Callable, tuple[str, ...]]] = {
    "lending": ("New lending by channel", _lending, ("new_guaranteed", "new_direct")),
    "defaults": (
        "Defaults and compensation",
        _defaults,
        ("defaults_guaranteed", "defaults_direct", "compensation"),
    ),
    "losses": (
        "Losses by party, net of recoveries",
        _losses,
        tuple(f"loss_{p}" for p in PARTIES),
    ),
    "leverage": ("Guarantor leverage against the cap", _leverage, ("leverage", "leverage_cap")),
    "fee": ("Average guarantee fee", _fee, ("avg_guarantee_fee",)),
}


#: Series drawn on a second axis or as a reference line: no band is drawn for them.
NO_BAND = frozenset({"compensation", "leverage_cap"})


def _draw_bands(ax, which: str, bands: dict) -> None:
    """The ensemble's 5-95% band of each series of plot ``which``, in the colour its line
    takes (the series are drawn in the order of :data:`PLOTS`, colours C0, C1, ...)."""
    for i, name in enumerate(PLOTS[which][2]):
        if name in NO_BAND or name not in bands["series"]:
            continue
        month, q05, _, q95 = bands["series"][name]
        ax.fill_between(
            month, _shown(name, q05), _shown(name, q95), color=f"C{i}", alpha=0.15, lw=0
        )


def make_figure(model, which: str, bands: dict | None = None) -> Figure:
    """The matplotlib figure of plot ``which`` (a key of :data:`PLOTS`) for ``model``,
    with the ensemble band of :meth:`Session.compute_bands` behind the lines if given."""
    title, draw, _ = PLOTS[which]
    fig = Figure(figsize=(6.4, 3.6), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    d = _frame(model)
    ax2 = None
    if bands:
        _draw_bands(ax, which, bands)
        title = f"{title}\nshaded: 5-95% over {bands['members']} ensemble members"
    if d:
        ax2 = draw(ax, d, model)
    else:
        ax.text(
            0.5,
            0.5,
            "No reported month yet: press Step or ▶",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.4",
        )
    ax.set_title(title)
    ax.set_xlabel("Month of the horizon")
    ax.set_xlim(0, max(model.horizon, 1) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if ax2 is not None:
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:
        ax.legend(handles, labels, fontsize="small", frameon=False, loc="best")
    return fig


def caption(model, which: str) -> str:
    """The latest month's values of plot ``which``, as text (flows are this month's)."""
    if model.horizon_month < 1:
        return "Month 0: no data yet"
    cumulative = which in CUMULATIVE
    source = model.totals if cumulative else model.record
    groups: list[tuple[str, list[str]]] = []
    for series in PLOTS[which][2]:
        o = OUTCOMES[series]
        value, unit = o.style.scaled(source[series]), o.figure_unit()
        if value != value:  # NaN: e.g. no new guarantee this month, so no average fee
            text = f"{series} n/a"
        else:
            whole = o.style is DISPLAYS["count"]
            text = f"{series} {value:,.0f}" if whole else f"{series} {value:,.2f}"
        if groups and groups[-1][0] == unit:
            groups[-1][1].append(text)
        else:
            groups.append((unit, [text]))
    body = "; ".join(f"{', '.join(texts)} ({unit})" for unit, texts in groups)
    return f"{'Months 1-' if cumulative else 'Month '}{model.horizon_month}: {body}"


@solara.component
def SeriesPlot(model, which: str, session: Session | None = None):
    """One live plot; redrawn when the model steps (Mesa's update counter) or is replaced,
    or when the session's ensemble band changes."""
    update_counter.get()
    steps = model.steps
    bands = session.bands.value if session is not None else None
    fig = solara.use_memo(
        lambda: make_figure(model, which, bands), [model, steps, which, id(bands)]
    )
    with solara.Column(gap="0px", classes=[f"gsim-plot-{which}"]):
        solara.FigureMatplotlib(fig, format="png", dependencies=[model, steps, which, id(bands)])
        solara.Text(caption(model, which), classes=["gsim-caption"], style={"font-size": "0.8em"})


def plot_components(session: Session | None = None) -> list:
    """Mesa components (callables of the model, page 0) of the five plots."""
    return [(lambda model, w=which: SeriesPlot(model, w, session), 0) for which in PLOTS]


# ---- the page
@solara.component
def LowerSidebar(children=[]):  # noqa: B006 (solara's children convention)
    """Like :func:`solara.Sidebar`, but below the cards SolaraViz puts in the sidebar.

    Sidebar content is ordered by an offset that grows with the depth of the
    calling component; a fixed large offset keeps Mesa's Step, ▶ and Reset at the top.
    """
    from solara.components.applayout import sidebar_portal

    sidebar_portal.use_portal_add(children, 1 << 20)
    return solara.Div(style="display: none")


@solara.component
def Dashboard(
    scenario_file: str | None = None,
    session: Session | None = None,
    n_smes: int = DEFAULT_N_SMES,
    seed: int = 0,
):
    """The dashboard for ``scenario_file`` (or for an existing ``session``)."""
    session = solara.use_memo(
        lambda: session or Session(scenario_file, n_smes=n_smes, seed=seed), []
    )
    with LowerSidebar():
        SidebarControls(session)
    SolaraViz(
        session.model,
        components=plot_components(session),
        model_params={"settings": session},
        name=f"gsim dashboard: {session.file.value}",
        play_interval=150,
    )


def dashboard(scenario_file: str | os.PathLike | None = None, **kwargs):
    """Build the dashboard page element for ``scenario_file`` (see :class:`Dashboard`)."""
    return Dashboard(scenario_file=None if scenario_file is None else str(scenario_file), **kwargs)


@solara.component
def Page():
    """Solara entry point: the dashboard for the scenario in ``$GSIM_VIZ_SCENARIO``."""
    Dashboard(scenario_file=os.environ.get(SCENARIO_ENV) or None)


# --------------------------------------------------------------------------- server
class ServeError(ValueError):
    """The server cannot start (host or port unusable)."""


def _check_port(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: cannot resolve: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise ServeError(f"--port {port}: cannot listen on {host}: {exc.strerror}") from None


def _serve_assets_offline() -> None:
    """Serve front-end files from solara-assets only; never download a missing one.

    Solara's server fetches a front-end file missing from its cache from a CDN
    (retrying for several seconds). The dashboard must work offline and load
    nothing from the internet, so a missing file is a 404 and a line on stderr.
    """
    from solara.server import cdn_helper

    def refuse(url):
        print(f"gsim viz: not downloading {url} (not in solara-assets)", file=sys.stderr)
        raise RuntimeError(f"{url}: not in solara-assets; not downloaded")

    cdn_helper.fetch_from_cdn = refuse


def main(
    scenario: str | os.PathLike | None = None,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
) -> None:
    """Serve the dashboard at http://HOST:PORT/ until interrupted.

    Runs Solara's Starlette app under uvicorn in this process, in production
    mode, without telemetry and without fetching anything from the internet
    (the front-end files come from ``solara-assets``; see
    :func:`_serve_assets_offline`).

    Raises
    ------
    ScenarioError
        ``scenario`` is not a valid scenario file.
    ServeError
        ``host`` or ``port`` cannot be used.
    """
    if scenario is not None:
        load_scenario(scenario)  # fail before starting the server
        os.environ[SCENARIO_ENV] = str(Path(scenario).resolve())
    else:
        os.environ.pop(SCENARIO_ENV, None)
    _check_port(host, port)
    os.environ["SOLARA_APP"] = "sim.app:Page"
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    import uvicorn
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    _serve_assets_offline()
    # Solara warns on every plain-http host other than "localhost"; its fallback
    # (SameSite=lax session cookies) is what a dashboard that is not embedded needs.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"gsim viz: warning: listening on {host} without authentication", file=sys.stderr)
    url_host = f"[{host}]" if ":" in host else host
    print(f"gsim viz: dashboard at http://{url_host}:{port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")


if __name__ == "__main__":  # python -m sim.app [SCENARIO] [PORT]
    main(*sys.argv[1:2], *(int(a) for a in sys.argv[2:3]))
