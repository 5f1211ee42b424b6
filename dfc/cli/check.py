"""``dfc check``: compare the catalogue with the storage elements."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state


@app.command()
def check(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="LFN to check below (default /).")] = "/",
    se: Annotated[str | None, typer.Option("--se", help="Check only this SE.")] = None,
    checksum: Annotated[
        bool, typer.Option("--checksum", help="Also read back and compare checksums.")
    ] = False,
    mark_bad: Annotated[
        bool, typer.Option("--mark-bad", help="Mark lost and corrupt replicas bad.")
    ] = False,
    register_dark: Annotated[
        bool, typer.Option("--register-dark", help="Register dark files under their path.")
    ] = False,
    remove_dark: Annotated[
        bool, typer.Option("--remove-dark", help="Delete dark files from the SE.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Find lost replicas, dark data and size/checksum mismatches; change nothing unless asked.

    Streams: one line (or one JSON object per line with --json) per problem,
    then a summary on stderr. Exit status 1 if any problem was found.

    Examples: dfc check /juno/production --se IHEP-DISK ; dfc check --checksum --mark-bad
    """
    counts: Counter[str] = Counter()
    issues = (
        state(ctx)
        .api()
        .check(
            path,
            se=se,
            checksum=checksum,
            mark_bad=mark_bad,
            register_dark=register_dark,
            remove_dark=remove_dark,
        )
    )
    for issue in issues:
        counts[issue.kind] += 1
        if json_out:
            row = {
                "kind": issue.kind,
                "se": issue.se,
                "path": issue.path,
                "lfn": issue.lfn,
                "detail": issue.detail,
                "action": issue.action,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            action = f"  [{issue.action}]" if issue.action else ""
            print(
                f"{issue.kind:<8} {issue.se:<14} {issue.lfn or issue.path}  {issue.detail}{action}"
            )
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no problems"
    print(f"dfc check: {summary}", file=sys.stderr)
    raise typer.Exit(1 if counts else 0)
