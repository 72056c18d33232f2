"""The dashboard (``gsim viz``: sim/interfaces/app.py, dashboard_session.py and
dashboard_server.py).

Component tests render the Solara components without a browser (``solara.render``)
and drive their ipyvuetify widgets. Browser tests start ``gsim viz`` as a
subprocess and drive Debian's ``/usr/bin/chromium`` with Playwright; they skip
only when that browser is missing and ``GSIM_REQUIRE_BROWSER`` is not set (CI
sets it). The screenshot goes to ``tests/artifacts/`` (or ``$GSIM_ARTIFACTS_DIR``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import ipyvuetify as v
import ipywidgets as widgets
import pytest
import solara

from sim.interfaces import app, dashboard_server
from sim.interfaces import dashboard_session as ds
from sim.parameters import REGISTRY, RISK_SHARE_KEYS, SECTORS
from sim.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BEIJING = SCENARIOS / "beijing_2022.toml"
RISK_GROUP = ds.GROUPS[0][0]


# --------------------------------------------------------------------------- helpers
def walk(widget):
    """Every widget below ``widget`` (children, slots, nested lists and dicts)."""
    seen, stack = set(), [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, widgets.Widget):
            if id(w) in seen:
                continue
            seen.add(id(w))
            yield w
            stack.extend(getattr(w, k) for k in w.keys)
        elif isinstance(w, list | tuple):
            stack.extend(w)
        elif isinstance(w, dict):
            stack.extend(w.values())


def with_class(root, cls: str) -> list:
    return [w for w in walk(root) if cls in (getattr(w, "class_", None) or "").split()]


def control(root, key: str):
    """The (first) container of the control of ``key``."""
    found = with_class(root, app.css_class(key))
    assert found, f"no control for {key}"
    return found[0]


def inner(root, key: str, cls):
    """The ipyvuetify input of type ``cls`` in the control of ``key``."""
    found = [w for w in walk(control(root, key)) if isinstance(w, cls)]
    assert len(found) == 1, (key, cls, found)
    return found[0]


def type_into(field: v.TextField, text: str) -> None:
    """Type ``text`` into a number field and press Enter (the fields update on Enter/blur)."""
    field.v_model = text
    field.fire_event("keyup.enter", None)


def texts(root) -> str:
    out = []
    for w in walk(root):
        for c in getattr(w, "children", []) or []:
            if isinstance(c, str):
                out.append(c)
    return "\n".join(out)


def alerts(root, kind: str = "error") -> list[str]:
    """Texts of the alerts of type ``kind`` (solara.Error: "error", solara.Warning: "warning")."""
    return [texts(a) for a in walk(root) if isinstance(a, v.Alert) and a.type == kind]


def click(root, label: str) -> None:
    buttons = [b for b in walk(root) if isinstance(b, v.Btn) and b.children == [label]]
    assert buttons, f"no button {label!r}"
    buttons[0].click()


@pytest.fixture
def session():
    return ds.Session(BEIJING)


@pytest.fixture
def sidebar(session):
    box, rc = solara.render(app.SidebarControls(session), handle_error=False)
    yield box
    rc.close()


# --------------------------------------------------------------------------- ensemble band
def test_the_ensemble_band_is_drawn_behind_the_plots(tmp_path):
    """The checkbox runs the scenario for each ensemble member and shades every plot's
    5-95% band (one band per series, none for reference lines); a lever change recomputes
    it for the new scenario; a broken ensemble file is an error and leaves the band off."""
    import pandas as pd

    path = tmp_path / "ens.parquet"
    pd.DataFrame({"credit.pd": [0.035, 0.045, 0.055], "weight": 1.0}).to_parquet(path)
    session = ds.Session(BEIJING, n_smes=2000, ensemble=path, members=3)
    box, rc = solara.render(solara.AppLayout(children=[app.Dashboard(session=session)]))
    before = [w.value for w in walk(box) if isinstance(w, widgets.Image)]
    boxes = [w for w in walk(with_class(box, "gsim-bands")[0]) if isinstance(w, v.Checkbox)]
    assert len(boxes) == 1 and "3 members of ens.parquet" in boxes[0].label
    boxes[0].v_model = True
    bands = session.bands.value
    assert bands is not None and bands["members"] == 3
    by_month = bands["timeseries"].groupby("month")["new_guaranteed"]
    q05, q50, q95 = (by_month.quantile(q).to_numpy() for q in (0.05, 0.5, 0.95))
    assert len(q50) == session.model.value.horizon and (q05 <= q50).all() and (q50 <= q95).all()
    assert (q95 > q05).any()  # members differ in credit.pd: the band has a width
    after = [w.value for w in walk(box) if isinstance(w, widgets.Image)]
    assert all(a != b for a, b in zip(after, before, strict=True))
    assert "Shaded: 5-95% over 3 parameter sets of ens.parquet" in texts(box)
    fig = app.make_figure(session.model.value, "lending", bands)
    assert len(fig.axes[0].collections) == 2 and "3 ensemble members" in fig.axes[0].get_title()
    assert len(app.make_figure(session.model.value, "leverage", bands).axes[0].collections) == 1

    inner(box, "information.sharing", v.Slider).v_model = 1.0
    assert session.bands.value is not bands and session.bands.value["members"] == 3
    rc.close()

    pd.DataFrame({"credit.pdd": [0.04]}).to_parquet(path)
    broken = ds.Session(BEIJING, n_smes=2000, ensemble=path, members=3)
    assert not broken.set_show_bands(True)
    assert broken.bands.value is None and not broken.show_bands.value
    assert "credit.pdd" in broken.error.value[0]


# --------------------------------------------------------------------------- the model
def test_burn_in_runs_when_the_model_is_built(session):
    """The dashboard model starts at month 0 of the horizon: burn-in done, nothing collected,
    Mesa's step counter counts reported months, and stepping stops at the horizon."""
    m = session.model.value
    assert isinstance(m, ds.DashboardMarket)
    assert m.month == m.burn_in == 36 and m.horizon_month == 0
    assert m.steps == 0 and m.time == 0
    assert m.spec["run.n_smes"] == ds.DEFAULT_N_SMES
    assert len(m.datacollector.get_model_vars_dataframe()) == 0
    m.step()
    df = m.datacollector.get_model_vars_dataframe()
    assert list(df["month"]) == [1.0] and m.steps == 1
    session.run_to_end()
    assert m.horizon_month == m.horizon and not m.running
    m.step()
    assert len(m.datacollector.get_model_vars_dataframe()) == m.horizon


# --------------------------------------------------------------------------- controls
def test_controls_cover_every_lever_with_unit_and_range(sidebar):
    """A control per main lever, shock parameter and compensation-fund budget, of the widget
    type its kind calls for, labelled with the registry's unit and range."""
    keys = ds.control_keys()
    assert {k for k, p in REGISTRY.items() if p.lever} <= set(keys)
    assert {k for k in REGISTRY if k.startswith("shock.")} <= set(keys)
    assert {"comp_fund.city_budget", "comp_fund.district_budget"} <= set(keys)
    for key in keys:
        p = REGISTRY[key]
        if p.kind == "bool":
            widget = inner(sidebar, key, v.Checkbox)
            assert widget.label == key
            continue
        label = texts(control(sidebar, key))
        assert label.startswith(key)
        if p.kind in ("choice", "sectors"):
            widget = inner(sidebar, key, v.Select)
            assert widget.items == list(p.choices if p.kind == "choice" else SECTORS)
        elif ds.is_money(p):
            inner(sidebar, key, v.TextField)
            assert "100 million yuan" in label and "0 to 10,000" in label
        else:
            slider = inner(sidebar, key, v.Slider)
            assert (slider.min, slider.max) == (p.low, p.high)
            assert p.unit in label
            assert f"{p.low:g} to {p.high:g}" in label


def test_changing_levers_rebuilds_the_model(session, sidebar):
    """A checkbox, a slider and the preset select change the model's scenario at once."""
    old = session.model.value
    assert old.spec["guarantor.due_diligence_exemption"] is True
    inner(sidebar, "guarantor.due_diligence_exemption", v.Checkbox).v_model = False
    m = session.model.value
    assert m is not old and m.spec["guarantor.due_diligence_exemption"] is False
    assert m.horizon_month == 0

    inner(sidebar, "guarantor.fee_cap", v.Slider).v_model = 0.02
    assert session.model.value.spec["guarantor.fee_cap"] == 0.02
    assert "guarantor.fee_cap = 0.02" in texts(control(sidebar, "guarantor.fee_cap"))

    inner(sidebar, "risk_sharing.preset", v.Select).v_model = "anhui_4321"
    m = session.model.value
    assert m.spec.shares() == (0.4, 0.3, 0.0, 0.2, 0.1)
    assert inner(sidebar, "reguarantor.share", v.Slider).v_model == 0.3
    inner(sidebar, "shock.sectors", v.Select).v_model = ["catering", "transport"]
    assert session.model.value.spec["shock.sectors"] == ["transport", "catering"]
    type_into(inner(sidebar, "comp_fund.city_budget", v.TextField), "12.5")
    assert session.model.value.spec["comp_fund.city_budget"] == 12.5e8
    assert alerts(sidebar) == []
    assert alerts(sidebar, "warning") == [
        "national_fund share 0 is below the 20% floor of 国办发〔2019〕6号"
    ]  # the Anhui preset has no National Fund share
    assert "Changed from the file: " in texts(sidebar)


def test_invalid_risk_shares_show_an_error_and_keep_the_model(session, sidebar):
    """Shares that do not sum to 1 give a message next to the sliders, never an exception;
    the model stays; "give the remainder to the guarantor" repairs them."""
    old = session.model.value
    inner(sidebar, "bank.share", v.Slider).v_model = 0.35  # sum 1.15
    assert session.model.value is old
    msgs = alerts(sidebar)
    assert len(msgs) == 1 and "must sum to 1" in msgs[0] and "Not applied" in msgs[0]
    assert session.error.value[1] == RISK_GROUP
    assert "Sum of the five shares: 1.15 (must be 1)" in texts(sidebar)
    assert "A value under 'Risk sharing' was not applied" in texts(sidebar)  # top of sidebar
    assert inner(sidebar, "risk_sharing.preset", v.Select).v_model == "custom"

    click(sidebar, "Give the remainder to the guarantor")
    m = session.model.value
    assert m is not old and alerts(sidebar) == []
    assert "was not applied" not in texts(sidebar)
    assert m.spec.shares() == pytest.approx((0.15, 0.2, 0.2, 0.35, 0.1))
    assert sum(m.spec[k] for k in RISK_SHARE_KEYS) == pytest.approx(1.0)


def test_out_of_range_money_and_seed_show_errors(session, sidebar):
    old = session.model.value
    type_into(inner(sidebar, "comp_fund.district_budget", v.TextField), "-1")
    assert session.model.value is old
    (msg,) = alerts(sidebar)
    assert "comp_fund.district_budget" in msg and "out of range" in msg
    type_into(inner(sidebar, "comp_fund.district_budget", v.TextField), "3")
    assert alerts(sidebar) == [] and session.model.value.spec["comp_fund.district_budget"] == 3e8
    seed = [w for w in walk(with_class(sidebar, "gsim-scenario")[0]) if isinstance(w, v.TextField)]
    type_into(seed[0], "-4")
    (msg,) = alerts(sidebar)
    assert "seed" in msg
    type_into(seed[0], "7")
    assert alerts(sidebar) == [] and session.seed == 7


def test_scenario_picker_reloads_the_file_values(session, sidebar):
    picker = [
        w for w in walk(sidebar) if isinstance(w, v.Select) and "beijing_2022.toml" in w.items
    ]
    (picker,) = picker
    assert set(picker.items) >= {p.name for p in SCENARIOS.glob("*.toml")}
    inner(sidebar, "guarantor.fee_cap", v.Slider).v_model = 0.01
    picker.v_model = "m08_batch_guarantees.toml"
    m = session.model.value
    assert m.params.name == "m08_batch_guarantees"
    assert m.spec["batch.mode"] == "bank_led"
    assert inner(sidebar, "batch.mode", v.Select).v_model == "bank_led"
    assert m.spec["guarantor.fee_cap"] == 0.03  # the file's value, not the old slider's
    assert m.spec["run.n_smes"] == ds.DEFAULT_N_SMES


def test_a_broken_scenario_file_shows_an_error(tmp_path):
    (tmp_path / "good.toml").write_text('description = "ok"\n[guarantor]\nfee_cap = 0.02\n')
    (tmp_path / "bad.toml").write_text("[guarantor]\nfee_cap = 7\n")
    session = ds.Session(tmp_path / "good.toml", n_smes=1000)
    box, rc = solara.render(app.SidebarControls(session), handle_error=False)
    old = session.model.value
    assert session.files() == ["bad.toml", "good.toml", ds.DEFAULTS_LABEL]
    assert session.select_file("bad.toml") is False
    (msg,) = alerts(box)
    assert "bad.toml: guarantor.fee_cap = 7" in msg
    assert session.model.value is old and session.file.value == "good.toml"
    rc.close()

    broken = ds.Session(tmp_path / "bad.toml", n_smes=1000)  # falls back to the defaults
    assert broken.file.value == ds.DEFAULTS_LABEL and broken.error.value is not None


def test_errors_are_placed_by_the_keys_they_are_about():
    """A rejected change is shown in the group of the first key its ScenarioError names
    (``keys``), whatever the message says; one about no control goes to the scenario card."""
    import pickle

    from sim.scenario import default_scenario

    with pytest.raises(ScenarioError) as info:
        default_scenario().with_overrides({"guarantor.fee_cap": 7})
    assert info.value.keys == ("guarantor.fee_cap",)
    assert pickle.loads(pickle.dumps(info.value)).keys == ("guarantor.fee_cap",)
    with pytest.raises(ScenarioError) as info:
        default_scenario().with_overrides({"bank.share": 0.5})
    assert info.value.keys == RISK_SHARE_KEYS
    assert (
        ds.error_group(ScenarioError("about bank.share", keys=("bank.share",)), "x") == RISK_GROUP
    )
    assert ds.error_group(ScenarioError("bank.share = 2: out of range"), "x") == "x"
    assert ds.error_group(ScenarioError("m", keys=("credit.rho",)), "x") == "x"  # no control

    session = ds.Session(BEIJING, n_smes=1000)
    assert not session.set_value("bank.share", 0.5)
    assert session.error.value[1] == RISK_GROUP and "must sum to 1" in session.error.value[0]
    assert session.share_remainder_to_guarantor() and session.error.value is None
    assert not session.set_value("comp_fund.city_budget", -1.0)
    assert session.error.value[1] == ds.group_of("comp_fund.city_budget") != RISK_GROUP
    assert not session.set_value(ds.SEED_KEY, -1)
    assert session.error.value[1] == ds.SCENARIO_GROUP


# --------------------------------------------------------------------------- plots
def test_plots_have_titles_labels_and_units(session):
    session.run_to_end()
    for which, plot in app.PLOTS.items():
        fig = app.make_figure(session.model.value, which)
        ax = fig.axes[0]
        assert ax.get_title() == plot["title"]
        assert ax.get_xlabel() == "Month of the horizon"
        assert ax.get_ylabel()
        assert len(ax.lines[0].get_xdata()) == session.model.value.horizon
    ylabels = {w: app.make_figure(session.model.value, w).axes[0].get_ylabel() for w in app.PLOTS}
    assert "100 million yuan" in ylabels["lending"] and "%" in ylabels["fee"]


def test_stepping_updates_the_plots(session):
    """Mesa's Step redraws all five plots (new image bytes, new caption); Reset rebuilds
    the model from the current settings."""
    box, rc = solara.render(solara.AppLayout(children=[app.Dashboard(session=session)]))
    images = [w for w in walk(box) if isinstance(w, widgets.Image)]
    assert len(images) == len(app.PLOTS)
    before = [img.value for img in images]
    assert texts(box).count("Month 0: no data yet") == len(app.PLOTS)
    click(box, "Step")
    click(box, "Step")
    assert session.model.value.horizon_month == 2
    after = [img.value for img in walk(box) if isinstance(img, widgets.Image)]
    assert all(a != b for a, b in zip(after, before, strict=True))
    text = texts(box)
    assert "Month 2 of 36" in text and "Month 2: new_guaranteed" in text
    assert "Months 1-2: loss_bank" in text

    inner(box, "information.sharing", v.Slider).v_model = 1.0
    m = session.model.value
    assert m.horizon_month == 0 and m.spec["information.sharing"] == 1.0
    click(box, "Step")
    click(box, "Reset")
    assert session.model.value is not m and session.model.value.horizon_month == 0
    assert session.model.value.spec["information.sharing"] == 1.0

    def step_button():
        return [b for b in walk(box) if isinstance(b, v.Btn) and b.children == ["Step"]][0]

    click(box, "Run to end")
    click(box, "Step")  # past the horizon: Mesa's controller disables Step and ▶
    assert step_button().disabled and "End of the horizon" in texts(box)
    inner(box, "information.sharing", v.Slider).v_model = 0.5  # a new model, Step still off
    assert session.model.value.horizon_month == 0 and step_button().disabled
    assert "press Reset (it keeps these settings)" in texts(box)
    click(box, "Reset")
    assert not step_button().disabled and "press Reset" not in texts(box)
    assert session.model.value.spec["information.sharing"] == 0.5
    click(box, "Step")
    assert session.model.value.horizon_month == 1
    assert alerts(box) == []
    rc.close()


# --------------------------------------------------------------------------- serving
def test_main_checks_scenario_and_port_before_serving(tmp_path):
    with pytest.raises(ScenarioError):
        dashboard_server.main(tmp_path / "missing.toml", port=free_port())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(dashboard_server.ServeError, match="cannot listen"):
            dashboard_server.main(BEIJING, port=s.getsockname()[1])


def test_gsim_viz_rejects_a_bad_scenario(tmp_path):
    (tmp_path / "bad.toml").write_text("[guarantor]\nfee_cap = 7\n")
    res = viz_command(["--scenario", str(tmp_path / "bad.toml"), "--port", str(free_port())])
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("gsim: error: ") and "guarantor.fee_cap = 7" in res.stderr


def viz_command(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.interfaces.cli", "viz", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- browser
CHROMIUM = Path(os.environ.get("GSIM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--proxy-server=http://127.0.0.1:9",  # loopback itself is never proxied
]
ARTIFACTS = Path(os.environ.get("GSIM_ARTIFACTS_DIR") or REPO / "tests" / "artifacts")
TIMEOUT_MS = 60_000
#: Any request to the internet (by the server or the browser) fails at once through this proxy.
DEAD_PROXY = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


def require_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("GSIM_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"GSIM_REQUIRE_BROWSER is set but {CHROMIUM} does not exist")
    pytest.skip(
        f"{CHROMIUM} not installed (apt-get install chromium; CI sets GSIM_REQUIRE_BROWSER)"
    )


@pytest.fixture(scope="module")
def viz_server(tmp_path_factory):
    """``gsim viz`` on a free port of 127.0.0.1; yields its URL; killed afterwards."""
    require_browser()
    port = free_port()
    log = tmp_path_factory.mktemp("viz") / "server.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.interfaces.cli", "viz", "--scenario", str(BEIJING)]
            + ["--port", str(port)],
            cwd=REPO,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **DEAD_PROXY},
        )
    url = f"http://127.0.0.1:{port}/"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_PROXY
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gsim viz exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with direct.open(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gsim viz did not answer at {url}:\n{log.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "not downloading" not in text and "Could not load URL" not in text, text


@pytest.fixture(scope="module")
def chromium_context(viz_server, tmp_path_factory):
    """Headless Debian chromium with a fresh profile (no browser download, no network)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1400},
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def dash_page(chromium_context, viz_server):
    """A fresh dashboard page (a new Solara session); records every request it makes."""
    page = chromium_context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("websocket", lambda ws: page.requests.append(ws.url))
    page.goto(viz_server)
    page.locator(".gsim-month").wait_for()
    page.get_by_text("Month 0 of 36").wait_for()
    yield page
    page.close()


def assert_no_error_shown(page) -> None:
    errors = page.locator("[role=alert].error--text:visible, [role=alert].error:visible")
    assert errors.count() == 0, errors.all_inner_texts()
    body = page.inner_text("body")
    assert "Traceback" not in body and "Not applied" not in body


def assert_local_only(page, server: str) -> None:
    origin = urlsplit(server).netloc
    assert page.requests, "no request recorded"
    remote = [
        u
        for u in page.requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != origin
    ]
    assert remote == [], f"requests left {origin}: {remote}"


def plot_src(page, which: str) -> str:
    return page.locator(f".gsim-plot-{which} img").get_attribute("src")


def step(page, times: int, start: int) -> None:
    button = page.get_by_role("button", name="Step", exact=True)
    for i in range(1, times + 1):
        button.click()
        page.get_by_text(f"Month {start + i} of 36").wait_for()


def test_dashboard_in_a_browser(dash_page, viz_server):
    """Load the page, toggle a lever and move a slider, step, and see the plots change."""
    page = dash_page
    for which in app.PLOTS:
        page.locator(f".gsim-plot-{which} img").wait_for()
    captions = page.locator(".gsim-caption")
    assert captions.count() == len(app.PLOTS)
    before = {w: plot_src(page, w) for w in app.PLOTS}

    page.locator(f".{app.css_class('guarantor.due_diligence_exemption')} label").click()
    page.get_by_text("Changed from the file: guarantor.due_diligence_exemption = false").wait_for()
    sharing = page.locator(f".{app.css_class('information.sharing')}")
    sharing.locator("[role=slider]").focus()
    page.keyboard.press("End")
    sharing.get_by_text("information.sharing = 1.0 (fraction").wait_for()

    step(page, 3, start=0)
    page.get_by_text("Month 3: new_guaranteed").wait_for()
    after = {w: plot_src(page, w) for w in app.PLOTS}
    assert all(after[w] and after[w] != before[w] for w in app.PLOTS), (before, after)
    assert "Month 0: no data yet" not in captions.all_inner_texts()
    assert_no_error_shown(page)
    assert_local_only(page, viz_server)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))


def test_invalid_shares_in_a_browser(dash_page, viz_server):
    """A share slider pushed past a sum of 1 shows the message and keeps the model."""
    page = dash_page
    bank = page.locator(f".{app.css_class('bank.share')}")
    bank.locator("[role=slider]").focus()
    page.keyboard.press("ArrowRight")
    error = page.locator(".gsim-error")
    error.wait_for()
    assert "must sum to 1" in error.inner_text()
    assert page.locator(".gsim-error-pointer").is_visible()
    assert "Traceback" not in page.inner_text("body")
    step(page, 1, start=0)  # the previous model still runs
    page.get_by_role("button", name="Give the remainder to the guarantor").click()
    page.locator(f".{app.css_class('guarantor.share')}").get_by_text(
        "guarantor.share = 0.29"
    ).wait_for()
    page.get_by_text("Month 0 of 36").wait_for()  # rebuilt with the repaired shares
    assert_no_error_shown(page)
    assert_local_only(page, viz_server)
