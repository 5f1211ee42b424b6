"""``dfc init`` and ``dfc se``: set-up and the storage-element registry."""

from __future__ import annotations

from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json

se_app = typer.Typer(
    cls=FastGroup,
    help="Register, list and remove storage elements.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(se_app, name="se")


@app.command()
def init(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Create the configuration and the catalogue, or upgrade an older catalogue.

    Safe to run again: nothing existing is overwritten.

    Example: dfc init
    """
    result = state(ctx).api().init()
    if json:
        emit_json(result)
        return
    if result.config_created:
        print(f"created {result.config_file}")
    print(f"catalogue ready: {result.catalog_url}")


@se_app.command("add")
def se_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="SE name, e.g. IHEP-DISK.")],
    url: Annotated[str, typer.Argument(help="Base URL, e.g. file:///data/ihep.")],
    site: Annotated[str, typer.Option("--site", help="The site hosting it.")] = "",
    json: JsonOpt = False,
) -> None:
    """Register a storage element.

    Example: dfc se add IHEP-DISK file:///data/ihep --site IHEP
    """
    info = state(ctx).api().se_add(name, url, site=site)
    if json:
        emit_json(info)
    else:
        print(f"added {info.name} {info.url}" + (f" at {info.site}" if info.site else ""))


@se_app.command("list")
def se_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List storage elements with site, protocol and status.

    Example: dfc se list
    """
    ses = state(ctx).api().se_list()
    if json:
        emit_json(
            [
                {
                    "name": s.name,
                    "url": s.url,
                    "site": s.site,
                    "protocol": s.protocol,
                    "read": s.read,
                    "write": s.write,
                }
                for s in ses
            ]
        )
        return
    for s in ses:
        status = (
            "ok"
            if s.read and s.write
            else (
                "banned" if not (s.read or s.write) else ("read-only" if s.read else "write-only")
            )
        )
        print(f"{s.name:<20} {s.site or '-':<10} {s.protocol:<6} {status:<10} {s.url}")


@se_app.command("rm")
def se_rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="SE name.")],
) -> None:
    """Unregister a storage element that holds no replicas.

    Example: dfc se rm OLD-DISK
    """
    state(ctx).api().se_remove(name)
    print(f"removed {name}")


Read = Annotated[bool, typer.Option("--read", help="Only reading.")]
Write = Annotated[bool, typer.Option("--write", help="Only writing.")]


@se_app.command("ban")
def se_ban(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="SE name.")],
    read: Read = False,
    write: Write = False,
) -> None:
    """Ban a storage element for reading and/or writing (both if neither is given).

    Banned SEs are skipped by get, put and replicate, with a message.

    Example: dfc se ban CNAF-DISK --write
    """
    both = not (read or write)
    info = state(ctx).api().se_ban(name, read=read or both, write=write or both)
    print(
        f"{info.name}: read {'allowed' if info.read else 'banned'}, "
        f"write {'allowed' if info.write else 'banned'}"
    )


@se_app.command("allow")
def se_allow(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="SE name.")],
    read: Read = False,
    write: Write = False,
) -> None:
    """Lift a ban on a storage element (reading and/or writing; both if neither is given).

    Example: dfc se allow CNAF-DISK
    """
    both = not (read or write)
    info = state(ctx).api().se_allow(name, read=read or both, write=write or both)
    print(
        f"{info.name}: read {'allowed' if info.read else 'banned'}, "
        f"write {'allowed' if info.write else 'banned'}"
    )


@se_app.command("test")
def se_test(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="SE name.")],
    json: JsonOpt = False,
) -> None:
    """Probe a storage element: write, stat, read back, checksum and remove a 1 MiB file.

    Example: dfc se test IHEP-DISK
    """
    result = state(ctx).api().se_test(name)
    if json:
        emit_json(result)
    else:
        for step, seconds in result.timings.items():
            print(f"{step:<9} ok  {seconds * 1000:8.1f} ms")
        print(f"{result.se}: {'OK' if result.ok else 'FAILED: ' + (result.error or '')}")
    if not result.ok:
        raise typer.Exit(5)
