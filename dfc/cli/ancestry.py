"""``dfc ancestry add``, ``dfc ancestors`` and ``dfc descendants``: provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dfc.cli._app import CONTEXT, JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json, report_failures

if TYPE_CHECKING:
    from dfc import BulkResult

ancestry_app = typer.Typer(
    cls=FastGroup,
    help="Provenance: record which files a file was made from.",
    no_args_is_help=True,
    context_settings=CONTEXT,
)
app.add_typer(ancestry_app, name="ancestry")

Depth = Annotated[
    int, typer.Option("--depth", min=1, max=1000, help="Levels to follow (default 1).")
]
LFNs = Annotated[list[str], typer.Argument(help="File LFNs.", metavar="LFN...")]


@ancestry_app.command("add")
def ancestry_add(
    ctx: typer.Context,
    lfn: Annotated[str, typer.Argument(help="The file made from the ancestors.")],
    ancestors: Annotated[
        list[str], typer.Argument(help="The files it was made from.", metavar="ANCESTOR...")
    ],
) -> None:
    """Record that LFN was made from the ANCESTOR files (depths follow transitively).

    Example: dfc ancestry add /juno/prd/rec/rec-1.root /juno/prd/calib/calib-1.root
    """
    raise typer.Exit(report_failures(state(ctx).api().ancestry_add([(lfn, ancestors)])))


def _show(result: BulkResult[dict[str, int]], json: bool) -> None:
    if json:
        emit_json(result.succeeded)
    else:
        for lfn, relatives in result.succeeded.items():
            print(lfn)
            for other, depth in relatives.items():
                print(f"{'  ' * depth}{other}")
    raise typer.Exit(report_failures(result))


@app.command()
def ancestors(ctx: typer.Context, lfns: LFNs, depth: Depth = 1, json: JsonOpt = False) -> None:
    """Show the files LFN was made from, indented by depth (1: direct ancestors).

    Example: dfc ancestors --depth 3 /juno/prd/rec/rec-1.root
    """
    _show(state(ctx).api().ancestors(lfns, depth=depth), json)


@app.command()
def descendants(ctx: typer.Context, lfns: LFNs, depth: Depth = 1, json: JsonOpt = False) -> None:
    """Show the files made from LFN, indented by depth (1: made directly from it).

    Example: dfc descendants --depth 2 /juno/prd/detsim/detsim-1.root
    """
    _show(state(ctx).api().descendants(lfns, depth=depth), json)
