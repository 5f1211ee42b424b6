"""``dfc mkdir``, ``ls``, ``stat``, ``replicas`` and ``mv``: the namespace."""

from __future__ import annotations

from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._output import emit_json, entry_json, fmt_time, ls_line, mode_string, report_failures

LFNs = Annotated[list[str], typer.Argument(help="Logical file names.", metavar="LFN...")]


@app.command()
def mkdir(
    ctx: typer.Context,
    paths: LFNs,
    parents: Annotated[
        bool, typer.Option("-p", "--parents", help="Create missing parents too.")
    ] = False,
) -> None:
    """Create directories (an existing directory is fine).

    Example: dfc mkdir -p /juno/user/a/alice/run1
    """
    result = state(ctx).api().mkdir(paths, parents=parents)
    raise typer.Exit(report_failures(result))


@app.command()
def ls(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None, typer.Argument(help="LFNs (default /).", metavar="[LFN]...")
    ] = None,
    long: Annotated[bool, typer.Option("-l", "--long", help="Long listing.")] = False,
    recursive: Annotated[
        bool, typer.Option("-R", "--recursive", help="List subdirectories.")
    ] = False,
    directory: Annotated[
        bool, typer.Option("-d", "--directory", help="List directories themselves.")
    ] = False,
    human: Annotated[bool, typer.Option("-H", "--human", help="Sizes like 1.5M.")] = False,
    json: JsonOpt = False,
) -> None:
    """List directories (files and subdirectories, sorted by name).

    Examples: dfc ls -l /juno/user/a/alice/run1 ; dfc ls -R /juno ; dfc ls --json /juno
    """
    api = state(ctx).api()
    targets = paths or ["/"]
    entries_json: list[dict[str, object]] = []
    code = 0
    from dfc import DFCError

    for i, path in enumerate(targets):
        try:
            if directory:
                st = api.stat([path])
                code = report_failures(st) or code
                listing = list(st.succeeded.values())
            elif recursive:
                top = api.stat([path])
                if top.failed:
                    code = report_failures(top) or code
                    continue
                entry = top.succeeded[path]
                listing = list(api.walk(path)) if entry.is_dir else [entry]
            else:
                listing = list(api.ls(path, with_replicas=long))
            if not json and len(targets) > 1 and not directory:
                print(("\n" if i else "") + f"{path}:")
            for entry in listing:
                if json:
                    entries_json.append(entry_json(entry, full=False))
                    continue
                name = (
                    entry.lfn if (recursive or directory) else entry.lfn.rsplit("/", 1)[-1] or "/"
                )
                print(ls_line(entry, name, human=human) if long else name)
        except DFCError as exc:
            import sys

            from dfc.cli._output import error_line

            print(error_line(path, exc), file=sys.stderr)
            code = code or (min(exc.errno, 255) or 1)
    if json:
        emit_json(entries_json)
    raise typer.Exit(code)


@app.command()
def stat(
    ctx: typer.Context,
    lfns: Annotated[
        list[str] | None, typer.Argument(help="Logical file names.", metavar="[LFN]...")
    ] = None,
    guid: Annotated[
        str | None, typer.Option("--guid", help="Find the file registered with this GUID.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Show everything the catalogue knows about files and directories.

    Examples: dfc stat /juno/user/a/alice/run1/detsim-001.root ;
    dfc stat --guid 925A4D39-41F0-49DF-9E52-115CD967BB5C
    """
    api = state(ctx).api()
    if guid is None and not lfns:
        raise typer.BadParameter("give LFNs or --guid GUID")
    result = api.stat(lfns or [])
    if guid is not None:
        found = api.stat_guid(guid)
        result.succeeded = {found.lfn: found, **result.succeeded}
    if json:
        emit_json([entry_json(e) for e in result.succeeded.values()])
    else:
        for e in result.succeeded.values():
            print(f"  LFN: {e.lfn}")
            print(f" Type: {e.type}")
            if not e.is_dir:
                print(f" Size: {e.size}")
                print(f"adler32: {e.adler32}   xxh3: {e.xxh3}")
                print(f" GUID: {e.guid}")
                print(f"Status: {e.status}")
            print(f"Owner: {e.owner}:{e.group}   Mode: {e.mode:04o} ({mode_string(e)})")
            print(f"Created: {fmt_time(e.ctime)}   Modified: {fmt_time(e.mtime)}")
            for r in e.replicas:
                print(f"Replica: {r.se:<16} {r.status:<5} {r.pfn}")
            print()
    raise typer.Exit(report_failures(result))


@app.command()
def replicas(
    ctx: typer.Context,
    lfns: LFNs,
    json: JsonOpt = False,
) -> None:
    """Show where the copies of files are (SE, status, PFN).

    Example: dfc replicas /juno/user/a/alice/run1/detsim-001.root
    """
    result = state(ctx).api().replicas(lfns)
    if json:
        emit_json(
            {
                lfn: [{"se": r.se, "pfn": r.pfn, "status": r.status} for r in reps]
                for lfn, reps in result.succeeded.items()
            }
        )
    else:
        for lfn, reps in result.succeeded.items():
            print(lfn)
            for r in reps:
                print(f"  {r.se:<16} {r.status:<5} {r.pfn}")
    raise typer.Exit(report_failures(result))


@app.command()
def mv(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="Existing LFN.")],
    dst: Annotated[str, typer.Argument(help="New LFN, or an existing directory.")],
) -> None:
    """Rename a file or directory in the catalogue (no data moves).

    Example: dfc mv /juno/user/a/alice/run1 /juno/user/a/alice/run1-old
    """
    state(ctx).api().mv(src, dst)
