"""``dfc find``: files by metadata, in DIRAC's query language."""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._output import emit_json, warn


@app.command()
def find(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Directory to search below.")],
    query: Annotated[
        list[str] | None,
        typer.Argument(help="Terms 'name OP value', joined by AND.", metavar="QUERY..."),
    ] = None,
    dirs: Annotated[
        bool, typer.Option("-D", "--dirs", help="Print the directories holding matches.")
    ] = False,
    count: Annotated[
        bool, typer.Option("--count", help="Print only the number of files and bytes.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Find files by metadata below PATH (DIRAC's query language), in LFN order.

    Terms 'name OP value' are joined by AND: OP is =, !=, <, >, <= or >=; a
    comma list means in / not in; Any and Missing test presence; * and ? are
    wildcards in strings. Directory fields are inherited by everything below.
    Standard attributes work too: Name, Size, SE, Owner, Group, Status, GUID,
    CreationDate, ModificationDate, Checksum. An empty query finds nothing.

    Examples: dfc find /juno process=Muon 'runH>100' ; dfc find -D /juno 'tag=v1,v2' ;
    dfc find --count /juno SE=IHEP-DISK 'Name=*.root'
    """
    api = state(ctx).api()
    terms = query or []
    if not terms:
        warn("an empty query matches nothing")
    if count:
        files, size = api.find_count(path, terms)
        if json:
            emit_json({"files": files, "bytes": size})
        else:
            print(f"{files} files, {size} bytes")
        return
    found = api.find(path, terms, directories=dirs)
    if not json:
        for lfn in found:
            print(lfn)
        return
    # A JSON list written as it streams: memory stays bounded.
    out = sys.stdout
    out.write("[")
    for i, lfn in enumerate(found):
        out.write(("," if i else "") + "\n  " + jsonlib.dumps(lfn, ensure_ascii=False))
    out.write("\n]\n")
