"""``dfc put``, ``get``, ``replicate`` and ``rm``: moving bytes."""

from __future__ import annotations

from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._output import emit_json, entry_json, progress, report_failures, warn

Recursive = Annotated[bool, typer.Option("-r", "--recursive", help="Copy directory trees.")]


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def put(
    ctx: typer.Context,
    args: Annotated[list[str], typer.Argument(help="LOCAL... DEST", metavar="LOCAL... DEST")],
    se: Annotated[str | None, typer.Option("--se", help="Storage element to write to.")] = None,
    recursive: Recursive = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing LFN.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Upload local files and register them (atomic per file, checksums verified).

    DEST is an LFN: an existing directory (or one ending in '/') receives the
    files under their names; with one file it may name the new LFN.

    Examples: dfc put ./detsim-001.root /juno/user/a/alice/run1/ --se IHEP-DISK ;
    dfc put -r ./run2 /juno/user/a/alice/
    """
    if len(args) < 2:
        raise typer.BadParameter("need at least one LOCAL file and a DEST LFN")
    *sources, dest = args
    with progress("put") as cb:
        result = (
            state(ctx)
            .api()
            .put(sources, dest, se=se, recursive=recursive, overwrite=overwrite, callback=cb)
        )
    if json:
        emit_json([entry_json(e) for e in result.succeeded.values()])
    else:
        for e in result.succeeded.values():
            print(f"{e.lfn}  {e.size} bytes  adler32:{e.adler32}  -> {e.replicas[0].se}")
    raise typer.Exit(report_failures(result))


@app.command()
def get(
    ctx: typer.Context,
    args: Annotated[list[str], typer.Argument(help="LFN... [DEST]", metavar="LFN... [DEST]")],
    se: Annotated[str | None, typer.Option("--se", help="Read only from this SE.")] = None,
    recursive: Recursive = False,
    json: JsonOpt = False,
) -> None:
    """Download files from their best replica, verified; never leaves a partial file.

    Replicas at your site come first; a failing or corrupt replica is reported
    and the next one tried. DEST defaults to the current directory.

    Examples: dfc get /juno/user/a/alice/run1/detsim-001.root ./copy.root ;
    dfc get -r /juno/user/a/alice/run1 ./run1
    """
    lfns, dest = (args[:-1], args[-1]) if len(args) > 1 else (args, None)
    with progress("get") as cb:
        result = state(ctx).api().get(lfns, dest, se=se, recursive=recursive, callback=cb)
    for r in result.succeeded.values():
        for bad_se, why in r.bad_replicas.items():
            warn(f"skipped replica of {r.lfn} at {bad_se}: {why}")
    if json:
        emit_json(
            [
                {
                    "lfn": r.lfn,
                    "path": str(r.path),
                    "se": r.se,
                    "size": r.size,
                    "bad_replicas": r.bad_replicas,
                }
                for r in result.succeeded.values()
            ]
        )
    else:
        for r in result.succeeded.values():
            print(f"{r.lfn} -> {r.path}  ({r.size} bytes from {r.se})")
    raise typer.Exit(report_failures(result))


@app.command()
def replicate(
    ctx: typer.Context,
    lfns: Annotated[list[str], typer.Argument(help="LFNs to copy.", metavar="LFN...")],
    to: Annotated[str, typer.Option("--to", help="Destination storage element.")],
    source: Annotated[str | None, typer.Option("--from", help="Copy only from this SE.")] = None,
    recursive: Recursive = False,
    json: JsonOpt = False,
) -> None:
    """Copy files to another storage element, verify and register the new replicas.

    A file that already has a replica there is left alone.

    Example: dfc replicate /juno/user/a/alice/run1/detsim-001.root --to CNAF-DISK
    """
    with progress("replicate") as cb:
        result = (
            state(ctx).api().replicate(lfns, to, source=source, recursive=recursive, callback=cb)
        )
    for r in result.succeeded.values():
        for bad_se, why in r.bad_replicas.items():
            warn(f"skipped replica of {r.lfn} at {bad_se}: {why}")
    if json:
        emit_json(list(result.succeeded.values()))
    else:
        for r in result.succeeded.values():
            if r.skipped:
                print(f"{r.lfn}: already at {r.se}")
            else:
                print(f"{r.lfn}: {r.source} -> {r.se}  ({r.size} bytes)")
    raise typer.Exit(report_failures(result))


@app.command()
def rm(
    ctx: typer.Context,
    lfns: Annotated[list[str], typer.Argument(help="LFNs to remove.", metavar="LFN...")],
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Remove directories and their contents.")
    ] = False,
    se: Annotated[
        str | None, typer.Option("--se", help="Remove only the replica at this SE.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Remove files: their replicas first, then the catalogue entry.

    With --se, remove one replica and keep the file (the last replica is refused).

    Examples: dfc rm /juno/user/a/alice/run1/detsim-001.root ;
    dfc rm --se IHEP-DISK /juno/user/a/alice/run1/detsim-001.root ; dfc rm -r /juno/user/a/alice/old
    """
    result = state(ctx).api().rm(lfns, recursive=recursive, se=se)
    if json:
        emit_json(list(result.succeeded.values()))
    else:
        for r in result.succeeded.values():
            if r.removed:
                print(f"removed {r.lfn}")
            elif r.removed_replicas:
                print(f"removed replica of {r.lfn} at {', '.join(r.removed_replicas)}")
            else:
                print(f"{r.lfn}: no replica at {se}")
    raise typer.Exit(report_failures(result))
