"""``dfc server``: run the catalogue server (HTTPS with mutual TLS)."""

from __future__ import annotations

import os
import sys
from pathlib import Path  # noqa: TC003 - typer reads the annotations at run time
from typing import Annotated

import typer

from dfc.cli._app import app


@app.command()
def server(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="The server configuration (TOML).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    host: Annotated[str | None, typer.Option("--host", help="Override the listen address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Override the port.")] = None,
) -> None:
    """Run the catalogue server until interrupted (SIGINT or SIGTERM).

    HTTPS with mutual TLS: grid proxies with VOMS attributes (or bearer tokens)
    authenticate clients; every operation is authorised as in embedded mode.
    Clients use it with `dfc --catalog https://HOST:PORT ...`.

    Example: dfc server --config /etc/dfc/server.toml
    """
    # The server is its own program (an adapter of its own): replace this process.
    args = [sys.executable, "-m", "dfc.server", "--config", str(config)]
    if host is not None:
        args += ["--host", host]
    if port is not None:
        args += ["--port", str(port)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)
