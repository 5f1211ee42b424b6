"""``dfc web``: the web portal for the embedded catalogue, on this machine only."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from dfc.cli._app import app, state


@app.command()
def web(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Listen address (keep it local: 127.0.0.1).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8080,
) -> None:
    """Serve the web portal (catalogue, storage elements, transfers) until interrupted.

    Pages act as you, the local user, with your rights. The printed address
    carries an access token, so other users of this machine cannot use it.

    Example: dfc web --port 8080   (then open the printed http://127.0.0.1:8080/?token=... URL)
    """
    from dfc.portal import serve

    api = state(ctx).api()
    secret = secrets.token_urlsafe(24)

    def ready(url: str) -> None:
        print(f"dfc web: open {url}/?token={secret}", file=sys.stderr, flush=True)

    serve(lambda request: api, host=host, port=port, secret=secret, ready=ready)
