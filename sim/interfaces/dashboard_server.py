"""Serving the dashboard (``gsim viz``): Solara's server for the page
:func:`sim.interfaces.app.Page`.

The server binds to 127.0.0.1 unless told otherwise and loads nothing from the internet:
the front-end files come from ``solara-assets`` (installed with the ``viz`` extra), and
one that it lacks is not fetched, because Solara's public ``assets.cdn`` setting
(``SOLARA_ASSETS_CDN``) points nowhere; the browser gets an error for that file and the
server log a line.
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from pathlib import Path

from sim.scenario import load_scenario

from .app import SCENARIO_ENV

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "NO_CDN", "ServeError", "main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Where the server would fetch a front-end file that solara-assets lacks: nowhere.
NO_CDN = "offline://not-in-solara-assets/"


class ServeError(ValueError):
    """The server cannot start (host or port unusable)."""


def check_address(host: str, port: int) -> None:
    """Raise :class:`ServeError` unless ``host`` resolves and ``port`` is free on it."""
    try:
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: cannot resolve: {exc.strerror}") from None
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise ServeError(f"--port {port}: cannot listen on {host}: {exc.strerror}") from None


def main(
    scenario: str | os.PathLike | None = None,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
) -> None:
    """Serve the dashboard at http://HOST:PORT/ until interrupted.

    Runs Solara's Starlette app under uvicorn in this process, in production mode,
    without telemetry and without fetching anything from the internet.

    Parameters
    ----------
    scenario : path, optional
        Starting scenario (default: ``baseline_2021.toml`` of ./scenarios or of the
        scenario files installed with gsim).
    port : int
        Port to listen on.
    host : str
        Interface to listen on; any other than 127.0.0.1 exposes the dashboard.

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
    check_address(host, port)
    os.environ.update(
        SOLARA_APP="sim.interfaces.app:Page",
        SOLARA_TELEMETRY_MIXPANEL_ENABLE="False",
        SOLARA_ASSETS_CDN=NO_CDN,
        SERVER_NAME=host,
        SERVER_PORT=str(port),
    )
    import solara.server.settings
    import uvicorn

    solara.server.settings.main.mode = "production"
    solara.server.settings.telemetry.mixpanel_enable = False
    solara.settings.assets.cdn = NO_CDN
    # Solara warns on every plain-http host other than "localhost"; its fallback
    # (SameSite=lax session cookies) is what a dashboard that is not embedded needs.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"gsim viz: warning: listening on {host} without authentication", file=sys.stderr)
    url_host = f"[{host}]" if ":" in host else host
    print(f"gsim viz: dashboard at http://{url_host}:{port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")


if __name__ == "__main__":  # python -m sim.interfaces.dashboard_server [SCENARIO] [PORT]
    main(*sys.argv[1:2], *(int(a) for a in sys.argv[2:3]))
