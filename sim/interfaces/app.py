"""The interactive dashboard (``gsim viz``): a Mesa SolaraViz page.

Mesa's :func:`~mesa.visualization.SolaraViz` gives the Step, ▶/❚❚ and Reset controls
and the grid of plot components (:func:`sim.interfaces.plots.horizon_panel`); the sidebar below
holds the scenario picker, model size and seed, and a control per main policy lever,
shock parameter and compensation-fund budget, generated from the parameter registry.
The session state and validation are :class:`sim.interfaces.dashboard_session.Session`; the
server is :func:`sim.interfaces.dashboard_server.main` (``gsim viz [--scenario FILE] [--port P]``).
"""

from __future__ import annotations

import math
import os

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.outcome_registry import OUTCOMES
from sim.parameters import REGISTRY, RISK_SHARE_KEYS, SECTORS
from sim.scenario import show

from . import dashboard_session as ds
from .dashboard_session import SCENARIO_GROUP, Session
from .plots import PARTIES, YI, horizon_panel

__all__ = ["PLOTS", "SCENARIO_ENV", "Dashboard", "Page", "caption", "css_class", "make_figure"]

#: Environment variable through which :func:`sim.interfaces.dashboard_server.main` tells
#: the server's pages the starting scenario.
SCENARIO_ENV = "GSIM_VIZ_SCENARIO"
#: The plots: arguments of :func:`sim.interfaces.plots.horizon_panel`; ``lever``: a parameter drawn
#: as a constant line. Captions show the latest month (sums since month 1 if cumulative).
PLOTS: dict[str, dict] = {
    "lending": {"title": "New lending by channel", "ylabel": "New lending per month",
                "series": ("new_guaranteed", "new_direct")},
    "defaults": {"title": "Defaults and compensation", "ylabel": "Defaults per month",
                 "series": ("defaults_guaranteed", "defaults_direct"), "right": ("compensation",)},
    "losses": {"title": "Losses by party, net of recoveries", "ylabel": "Cumulative loss",
               "series": tuple(f"loss_{p}" for p in PARTIES), "cumulative": True},
    "leverage": {"title": "Guarantor leverage against the cap", "series": ("leverage",),
                 "ylabel": "Liability / net assets", "reference": ("leverage_cap",)},
    "fee": {"title": "Average guarantee fee", "ylabel": "Fee on new guarantees",
            "series": ("avg_guarantee_fee",), "lever": "guarantor.fee_cap"},
}  # fmt: skip


HEADING = {"font-weight": "bold", "margin-top": "8px", "display": "block"}


def css_class(key: str) -> str:
    """CSS class of the control of ``key`` (``gsim-key-guarantor-fee_cap``)."""
    return "gsim-key-" + key.replace(".", "-")


# --------------------------------------------------------------------------- controls
@solara.component
def ParameterControl(session: Session, key: str):
    """The control of one registry parameter, chosen by its kind; the label (key, unit,
    range; the value of a slider) sits above the input so sliders keep their width."""
    p = REGISTRY[key]
    value = session.controls[key].value
    label = ds.label_of(p)

    def on_value(v):
        session.set_value(key, v)

    measure = f" Measure {p.measure} of the 2022 package." if p.measure else ""
    with solara.Tooltip(f"{p.description}. Allowed: {p.allowed()}.{measure}"):
        with solara.Column(gap="0px", classes=["gsim-control", css_class(key)]):
            if p.kind == "bool":
                solara.Checkbox(label=label, value=bool(value), on_value=on_value)
                return
            if p.kind in ("int", "float") and not ds.is_money(p):
                label = label.replace(" (", f" = {show(value)} (", 1)
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
            elif ds.is_money(p):
                solara.InputFloat(
                    "",
                    value=value / YI if isinstance(value, int | float) else value,
                    on_value=lambda v: on_value(v if v is None else round(v * YI, 2)),
                    continuous_update=False,
                    dense=True,
                )
            elif p.kind == "int":
                solara.SliderInt("", value=int(value), min=p.low, max=p.high, on_value=on_value)
            else:
                step = ds.slider_step(p)
                solara.SliderFloat(
                    "", value=float(value), min=p.low, max=p.high, step=step, on_value=on_value
                )


@solara.component
def ErrorMessage(session: Session, group: str):
    """The last rejected change's message, in its group (the scenario card: a pointer)."""
    error = session.error.value
    if error is not None and error[1] == group:
        solara.Error(
            f"Not applied: {error[0]}. The model and plots keep the last valid settings.",
            classes=["gsim-error"],
        )
    elif error is not None and group == SCENARIO_GROUP:
        solara.Text(
            f"A value under '{error[1]}' was not applied (see the message there); "
            "the model and plots keep the last valid settings.",
            classes=["gsim-error-pointer"],
            style={"color": "#b00020", "font-size": "0.85em", "display": "block"},
        )


@solara.component
def RiskShareStatus(session: Session):
    total = math.fsum(session.values.value[k] for k in RISK_SHARE_KEYS)
    ok = math.isclose(total, 1.0, abs_tol=1e-9)
    text = f"Sum of the five shares: {total:.2f}" + ("" if ok else " (must be 1)")
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
    model, sc, small = session.model.value, session.scenario, {"font-size": "0.85em"}
    month = f"Month {model.horizon_month} of {model.horizon}"
    solara.Text(month, classes=["gsim-month"], style=HEADING)
    solara.Text(
        f"{sc.name}: {model.params[ds.N_SMES_KEY]:,} simulated SMEs, seed {session.seed}; "
        f"the {model.burn_in} burn-in months ran when the model was built.",
        style=small,
    )
    changed = {k: v for k, v in session.overrides().items() if k != ds.N_SMES_KEY}
    if changed and session.error.value is None:
        listing = ", ".join(f"{k} = {show(v)}" for k, v in changed.items())
        solara.Text(f"Changed from the file: {listing}", style=small)
    if session.needs_reset:
        solara.Info(
            "Mesa's Step and ▶ stay disabled after a finished run: press Reset "
            "(it keeps these settings).",
            dense=True,
        )
    elif not model.running:
        solara.Text("End of the horizon: Reset or change a lever for a new run.", style=small)
    for w in sc.warnings:
        solara.Warning(w, dense=True)


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
    if bands := session.bands.value:
        solara.Text(
            f"Shaded: 5-95% over {bands['members']} parameter sets of {bands['file']} "
            f"(parameter and stochastic uncertainty), one run each, this scenario and seed; "
            f"lines: the model you step ({bands['seconds']:.1f} s to compute).",
            style={"font-size": "0.8em"},
        )


@solara.component
def SidebarControls(session: Session):
    """The scenario card and the registry-generated lever controls, grouped."""
    values = session.values.value
    with solara.Card("Scenario", classes=["gsim-scenario"]):
        solara.Select("Scenario file", session.files(), session.file.value, session.select_file)
        solara.Select(
            f"{ds.N_SMES_KEY} (simulated firms; model size)",
            values=list(ds.N_SMES_CHOICES),
            value=values[ds.N_SMES_KEY],
            on_value=lambda v: session.set_value(ds.N_SMES_KEY, v),
        )
        solara.InputInt(
            "Seed (integer >= 0)",
            value=values[ds.SEED_KEY],
            on_value=lambda v: session.set_value(ds.SEED_KEY, v),
            continuous_update=False,
        )
        EnsembleBandControl(session)
        ErrorMessage(session, SCENARIO_GROUP)
        RunStatus(session)
        with solara.Row():
            solara.Button("Run to end", on_click=session.run_to_end, color="primary")
            solara.Button("Restore file values", on_click=session.restore_file_values, text=True)
    with solara.Card("Policy levers", classes=["gsim-levers"]):
        solara.Text(
            "A change rebuilds the model at month 0 (same seed); hover a control for its meaning.",
            style={"font-size": "0.85em", "display": "block"},
        )
        for title, keys in ds.control_groups().items():
            # (not solara.Markdown: it loads KaTeX, which solara-assets does not hold)
            solara.Text(ds.group_heading(title, keys), style=HEADING)
            for key in keys:
                ParameterControl(session, key)
            if title == ds.GROUPS[0][0]:
                RiskShareStatus(session)
            ErrorMessage(session, title)


# --------------------------------------------------------------------------- plots
def make_figure(model, which: str, bands: dict | None = None):
    """Figure of plot ``which`` (a key of :data:`PLOTS`) for ``model``, with the ensemble
    band of :meth:`Session.compute_bands` behind the lines if given."""
    kwargs = dict(PLOTS[which])
    if lever := kwargs.pop("lever", None):
        kwargs["hline"] = (f"{lever} (lever)", model.params[lever])
    ts = model.datacollector.get_model_vars_dataframe()
    ensemble = bands["timeseries"] if bands else None
    return horizon_panel(ts, horizon=model.horizon, ensemble=ensemble, **kwargs)


def caption(model, which: str) -> str:
    """The latest month's values of plot ``which`` (flows: the month's; for a cumulative
    plot, the sums since month 1)."""
    if model.horizon_month < 1:
        return "Month 0: no data yet"
    plot = PLOTS[which]
    source = model.totals if plot.get("cumulative") else model.record
    keys = plot["series"] + plot.get("reference", ()) + plot.get("right", ())

    def shown(key):  # in the figures' units (ASCII: 100 million yuan, not 亿元)
        o, v = OUTCOMES[key], source[key]
        return "n/a" if v != v else f"{o.style.scaled(v):{o.style.spec}} {o.figure_unit()}"

    body = "; ".join(f"{k} {shown(k)}" for k in keys)
    return f"{'Months 1-' if plot.get('cumulative') else 'Month '}{model.horizon_month}: {body}"


@solara.component
def SeriesPlot(model, which: str, session: Session):
    """One live plot, redrawn on a step (Mesa's update counter), a new model or band."""
    update_counter.get()
    bands, deps = session.bands.value, [model, model.steps, which, id(session.bands.value)]
    fig = solara.use_memo(lambda: make_figure(model, which, bands), deps)
    with solara.Column(gap="0px", classes=[f"gsim-plot-{which}"]):
        solara.FigureMatplotlib(fig, format="png", dependencies=deps)
        solara.Text(caption(model, which), classes=["gsim-caption"], style={"font-size": "0.8em"})


# --------------------------------------------------------------------------- the page
@solara.component
def LowerSidebar(session: Session, depth: int = 4):
    """:class:`SidebarControls` in the sidebar below SolaraViz's cards (Step, ▶, Reset):
    :func:`solara.Sidebar` orders content by its caller's depth in the component tree,
    and this calls it ``depth`` components below :func:`SolaraViz`'s parent."""
    if depth:
        LowerSidebar(session, depth - 1)
    else:
        with solara.Sidebar():
            SidebarControls(session)


@solara.component
def Dashboard(scenario_file: str | None = None, session: Session | None = None):
    """The dashboard for ``scenario_file`` (or for an existing ``session``)."""
    session = solara.use_memo(lambda: session or Session(scenario_file), [])
    LowerSidebar(session)
    SolaraViz(
        session.model,
        components=[(lambda m, w=w: SeriesPlot(m, w, session), 0) for w in PLOTS],
        model_params={"settings": session},
        name=f"gsim dashboard: {session.file.value}",
        play_interval=150,
    )


@solara.component
def Page():
    """Solara entry point: the dashboard for the scenario in ``$GSIM_VIZ_SCENARIO``."""
    Dashboard(scenario_file=os.environ.get(SCENARIO_ENV) or None)
