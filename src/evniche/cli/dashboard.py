"""``evniche dashboard``: serve the local web app (see :mod:`evniche.dashboard`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvnicheError
from .model_commands import console


def dashboard(
    host: Annotated[str, typer.Option(
        help="Interface to listen on. The default, 127.0.0.1, serves this machine only; "
             "any other address lets others reach the app (a warning says so).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8050,
    registry: Annotated[Path | None, typer.Option(
        help="Run registry to show and to save the page's runs in (a folder or a .sqlite "
             "file; default $EVNICHE_REGISTRY, else ~/.evniche/runs.sqlite). The page's runs "
             "are written under its folder, in dashboard-runs/.")] = None,
    results: Annotated[list[Path] | None, typer.Option(
        "--results", metavar="DIR",
        help="A cohort folder (evniche cohort --out) or calibration folder (evniche "
             "calibrate --out) to show in the 'Cohorts & posteriors' view (repeatable).")
    ] = None,
) -> None:
    """Serve the dashboard: runs, explore a model, who talks to whom, the knowledge base,
    the scenario catalog, and cohorts and posteriors. Stop it with Ctrl-C."""
    from ..dashboard.app import build_app, check_host, serve

    if not 0 <= port <= 65535:
        raise EvnicheError(f"--port must be in 0…65535, got {port}")
    warning = check_host(host)
    if warning:
        sys.stderr.write(warning + "\n")
    app = build_app(registry, results)
    try:
        server = serve(app, host, port)
    except OSError as exc:
        raise EvnicheError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    console.print(f"evniche dashboard on http://{host}:{server.port}/ (Ctrl-C stops it)",
                  highlight=False)
    try:
        while True:
            time.sleep(1.0)
    finally:
        server.shutdown()
        app.evniche_jobs.shutdown()


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
