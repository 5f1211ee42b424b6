"""``dfc chmod``, ``dfc chown`` and ``dfc chgrp``: owner, group and mode of entries."""

from __future__ import annotations

from typing import Annotated

import typer

from dfc.cli._app import app, state
from dfc.cli._output import report_failures

LFNs = Annotated[list[str], typer.Argument(help="Logical file names.", metavar="LFN...")]
Recursive = Annotated[
    bool, typer.Option("-R", "--recursive", help="Also everything below directories.")
]


@app.command()
def chmod(
    ctx: typer.Context,
    mode: Annotated[str, typer.Argument(help="Octal mode, e.g. 755 or 0640.")],
    lfns: LFNs,
    recursive: Recursive = False,
) -> None:
    """Change the mode of files and directories (their owner, or an administrator).

    Example: dfc chmod 750 /juno/user/a/alice/private ; dfc chmod -R 755 /juno/user/a/alice/pub
    """
    try:
        bits = int(mode, 8)
    except ValueError:
        raise typer.BadParameter(f"{mode!r} is not an octal mode such as 755") from None
    result = state(ctx).api().chmod(lfns, bits, recursive=recursive)
    raise typer.Exit(report_failures(result))


@app.command()
def chown(
    ctx: typer.Context,
    owner: Annotated[
        str, typer.Argument(help="New owner, or OWNER:GROUP.", metavar="OWNER[:GROUP]")
    ],
    lfns: LFNs,
    recursive: Recursive = False,
) -> None:
    """Change the owner (and group) of files and directories (administrators only).

    Example: dfc chown alice:juno /juno/user/a/alice ; dfc chown -R bob /juno/user/b/bob
    """
    user, _, group = owner.partition(":")
    result = (
        state(ctx).api().chown(lfns, owner=user or None, group=group or None, recursive=recursive)
    )
    raise typer.Exit(report_failures(result))


@app.command()
def chgrp(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="New group.")],
    lfns: LFNs,
    recursive: Recursive = False,
) -> None:
    """Change the group of files and directories (administrators only).

    Example: dfc chgrp juno_prod /juno/production/muon ; dfc chgrp -R juno /juno/data
    """
    result = state(ctx).api().chown(lfns, group=group, recursive=recursive)
    raise typer.Exit(report_failures(result))
