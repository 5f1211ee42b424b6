"""``dfc put``, ``get``, ``replicate`` and ``rm``: moving bytes."""

from __future__ import annotations

import itertools
from pathlib import Path  # noqa: TC003 - typer reads the annotations at run time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._output import emit_json, entry_json, progress, report_failures, warn

if TYPE_CHECKING:
    from collections.abc import Iterable

Recursive = Annotated[bool, typer.Option("-r", "--recursive", help="Copy directory trees.")]
Dataset = Annotated[
    str | None, typer.Option("--dataset", metavar="NAME", help="Also the files of this dataset.")
]
Query = Annotated[
    str | None,
    typer.Option(
        "--query",
        metavar="'PATH QUERY...'",
        help="Also the files matching this metadata query (PATH defaults to /).",
    ),
]


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
    args: Annotated[
        list[str] | None, typer.Argument(help="LFN... [DEST]", metavar="LFN... [DEST]")
    ] = None,
    se: Annotated[str | None, typer.Option("--se", help="Read only from this SE.")] = None,
    recursive: Recursive = False,
    dataset: Dataset = None,
    query: Query = None,
    json: JsonOpt = False,
) -> None:
    """Download files from their best replica, verified; never leaves a partial file.

    Replicas at your site come first; a failing or corrupt replica is reported
    and the next one tried. DEST defaults to the current directory. With
    --dataset or --query, a single argument is the DEST directory.

    Examples: dfc get /juno/user/a/alice/run1/detsim-001.root ./copy.root ;
    dfc get -r /juno/user/a/alice/run1 ./run1 ;
    dfc get --query '/juno/prd process=Muon runH>100' ./muon
    """
    args = args or []
    selected = dataset is not None or query is not None
    if selected and len(args) <= 1:
        lfns, dest = [], (args[0] if args else None)
    else:
        lfns, dest = (args[:-1], args[-1]) if len(args) > 1 else (args, None)
    if selected:
        lfns += state(ctx).api().resolve_inputs(dataset=dataset, query=query)
    elif not lfns:
        raise typer.BadParameter("give LFNs, --dataset or --query")
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
    to: Annotated[str, typer.Option("--to", help="Destination storage element.")],
    lfns: Annotated[
        list[str] | None, typer.Argument(help="LFNs to copy.", metavar="[LFN]...")
    ] = None,
    source: Annotated[str | None, typer.Option("--from", help="Copy only from this SE.")] = None,
    recursive: Recursive = False,
    dataset: Dataset = None,
    query: Query = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file", metavar="FILE", help="Also the LFNs in FILE, one per line (- is stdin)."
        ),
    ] = None,
    async_: Annotated[
        bool, typer.Option("--async", help="Queue a transfer job, print its id and return.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan (files and bytes per link) and copy nothing."
        ),
    ] = False,
    priority: Annotated[
        int, typer.Option("--priority", min=1, max=5, help="Job priority, 1 (low) to 5 (high).")
    ] = 3,
    json: JsonOpt = False,
) -> None:
    """Copy files to another storage element, verify and register the new replicas.

    A file that already has a replica there is left alone. The files form a
    transfer job: without --async it runs here until done (exit status non-zero
    if a file failed); with --async the `dfc fts agent` daemons copy it.

    Examples: dfc replicate /juno/user/a/alice/run1/detsim-001.root --to CNAF-DISK ;
    dfc replicate --dataset /juno/datasets/muon-J22 --to CNAF-DISK ;
    dfc replicate -r /juno/production/muon/prd001 --to CNAF-XROOTD --async
    """
    api = state(ctx).api()
    names: Iterable[str] = list(lfns or [])
    if dataset is not None or query is not None:
        names = [*names, *api.resolve_inputs(dataset=dataset, query=query)]
    if from_file is not None:
        from dfc.cli.fts import read_lfn_file

        names = itertools.chain(names, read_lfn_file(from_file))
    elif not lfns and dataset is None and query is None:
        raise typer.BadParameter("give LFNs, --from-file, --dataset or --query")
    if dry_run or async_:
        from dfc.cli.fts import show_plan, submit_job

        kw: dict[str, Any] = {"source": source, "recursive": recursive, "json": json}
        if dry_run:
            raise typer.Exit(show_plan(api, names, to, **kw))
        raise typer.Exit(submit_job(api, names, to, priority=priority, **kw))
    lfns = list(names)
    with progress("replicate") as cb:
        result = api.replicate(lfns, to, source=source, recursive=recursive, callback=cb)
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
