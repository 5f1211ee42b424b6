"""``dfc du`` and ``dfc dump``: storage usage from counters, and recursive dumps."""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._output import emit_json, human_size


@app.command()
def du(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Directory or file (default /).")] = "/",
    long: Annotated[bool, typer.Option("-l", "--long", help="Per-SE replicas and bytes.")] = False,
    own: Annotated[
        bool, typer.Option("--own", help="Only the files directly in the directory.")
    ] = False,
    recount: Annotated[
        bool, typer.Option("--recount", help="Rebuild the counters below PATH first.")
    ] = False,
    from_files: Annotated[
        bool, typer.Option("--from-files", help="Count from the file tables (slow; a check).")
    ] = False,
    human: Annotated[bool, typer.Option("-H", "--human", help="Sizes like 1.5G.")] = False,
    json: JsonOpt = False,
) -> None:
    """Show logical files and bytes below PATH (recursive), and per SE with -l.

    Answered from counters kept in the same transaction as every change, not
    by scanning; --recount rebuilds them.

    Examples: dfc du /juno/production ; dfc du -l -H /juno ; dfc du --own /juno/user/a/alice
    """
    api = state(ctx).api()
    usage = api.du_recount(path) if recount else api.du(path, own=own, from_files=from_files)
    if json:
        emit_json(usage)
        return

    def size(n: int) -> str:
        return human_size(n) if human else str(n)

    print(
        f"{usage.path}: Logical Size: {size(usage.bytes)} Files: {usage.files} "
        f"Directories: {usage.directories}"
    )
    if long:
        print(f"{'StorageElement':<20} {'Size':>14} {'Replicas':>10}")
        for se, u in usage.ses.items():
            print(f"{se:<20} {size(u.bytes):>14} {u.files:>10}")
        print(f"{'Total':<20} {size(usage.physical_bytes):>14} {usage.replicas:>10}")


@app.command()
def dump(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Directory to dump (default /).")] = "/",
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line (JSON Lines).")
    ] = False,
) -> None:
    """Stream every file below PATH: LFN, size, adler32, xxh3 and replicas, in LFN order.

    Bounded memory for trees of millions of files. Text: tab-separated LFN,
    size, adler32, xxh3 ('-' if none) and the SEs holding replicas.

    Examples: dfc dump /juno/production > prod.tsv ; dfc dump --json /juno | gzip > juno.jsonl.gz
    """
    write = sys.stdout.write
    lines: list[str] = []
    for e in state(ctx).api().dump(path):
        if json:
            row = {
                "lfn": e.lfn,
                "size": e.size,
                "adler32": e.adler32,
                "xxh3": e.xxh3,
                "replicas": [{"se": se, "pfn": pfn} for se, pfn in e.replicas],
            }
            lines.append(jsonlib.dumps(row, ensure_ascii=False) + "\n")
        else:
            reps = e.replicas
            ses = reps[0][0] if len(reps) == 1 else ",".join([r[0] for r in reps])
            lines.append(f"{e.lfn}\t{e.size}\t{e.adler32}\t{e.xxh3 or '-'}\t{ses}\n")
        if len(lines) >= 1000:  # fewer, larger writes
            write("".join(lines))
            lines.clear()
    write("".join(lines))
