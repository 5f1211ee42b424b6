"""``dfc meta``: declare metadata fields, set, get and remove values, list tags."""

from __future__ import annotations

import json as jsonlib
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dfc.cli._app import CONTEXT, JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json, report_failures

if TYPE_CHECKING:
    from collections.abc import Iterable

meta_app = typer.Typer(
    cls=FastGroup,
    help="Metadata: typed fields on directories (inherited below) and files.",
    no_args_is_help=True,
    context_settings=CONTEXT,
)
app.add_typer(meta_app, name="meta")

PathArg = Annotated[str, typer.Argument(help="A file or directory LFN.", metavar="PATH")]


def split_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{k: v}``.

    Raises:
        typer.BadParameter: an item has no ``=`` or an empty name.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


def read_meta_file(path: str) -> list[tuple[str, dict[str, Any]]]:
    """Read ``PATH k=v ...`` lines (shell quoting, ``#`` comments) or a JSON object.

    Raises:
        typer.BadParameter: the file cannot be read or a line is malformed.
    """
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            data = jsonlib.loads(text)
        except ValueError as exc:
            raise typer.BadParameter(f"{path}: invalid JSON: {exc}") from None
        return [(str(k), dict(v)) for k, v in data.items()]
    items: list[tuple[str, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise typer.BadParameter(f"{path}:{number}: {exc}") from None
        if words:
            items.append((words[0], dict(split_pairs(words[1:]))))
    return items


@meta_app.command("index")
def meta_index(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Field name.")],
    type_name: Annotated[
        str | None,
        typer.Argument(help="int, float, string or date.", metavar="[TYPE]"),
    ] = None,
    directory: Annotated[bool, typer.Option("-d", "--dir", help="A directory field.")] = False,
    file: Annotated[bool, typer.Option("-f", "--file", help="A file field.")] = False,
    remove: Annotated[
        bool, typer.Option("-r", "--remove", help="Remove the field and all its values.")
    ] = False,
) -> None:
    """Declare a metadata field (directory level by default) or remove one.

    A name is a directory field (inherited by everything below the directory
    that sets it) or a file field, never both.

    Examples: dfc meta index -d softwareVersion string ; dfc meta index -f runH int ;
    dfc meta index -r runH
    """
    api = state(ctx).api()
    if remove:
        api.meta_unindex(name)
        print(f"removed metadata field {name}")
        return
    if type_name is None or (directory and file):
        raise typer.BadParameter("give one of -d/-f and a TYPE (int, float, string, date)")
    if api.meta_index(name, type_name, level="file" if file else "dir"):
        print(f"Added new metadata: {name} ({'file' if file else 'directory'} field)")
    else:
        print(f"{name}: already exists")


@meta_app.command("set")
def meta_set(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="A file or directory LFN.")] = None,
    pairs: Annotated[
        list[str] | None, typer.Argument(help="NAME=VALUE pairs.", metavar="[NAME=VALUE]...")
    ] = None,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="Bulk: lines 'PATH k=v ...' or a JSON object {path: {k: v}} ('-': stdin).",
        ),
    ] = None,
) -> None:
    """Set metadata values, checked against the field types; bulk with --from-file.

    Setting a directory field where an ancestor or a subdirectory sets it
    already is refused (metadata conflict).

    Examples: dfc meta set /juno/prd/J22 softwareVersion=J22.1.0 process=Muon ;
    dfc meta set --from-file runs.txt
    """
    if from_file is not None:
        if path is not None:
            raise typer.BadParameter("give PATH NAME=VALUE... or --from-file, not both")
        items = read_meta_file(from_file)
    elif path is None or not pairs:
        raise typer.BadParameter("give PATH and NAME=VALUE pairs, or --from-file FILE")
    else:
        items = [(path, dict(split_pairs(pairs)))]
    result = state(ctx).api().meta_set(items)
    if from_file is not None:
        print(f"metadata set on {len(result.succeeded)} path(s)", file=sys.stderr)
    raise typer.Exit(report_failures(result))


@meta_app.command("get")
def meta_get(ctx: typer.Context, path: PathArg, json: JsonOpt = False) -> None:
    """Show the metadata of a file or directory: '!' own values, '*' inherited ones.

    Example: dfc meta get /juno/prd/J22/muon/detsim-1.root
    """
    values = state(ctx).api().meta_get(path)
    if json:
        emit_json(
            {
                name: {
                    "value": v.value,
                    "type": v.type,
                    "level": v.level,
                    "owner": v.owner,
                    "inherited": v.inherited,
                }
                for name, v in values.items()
            }
        )
        return
    for name, v in values.items():
        origin = f"   (from {v.owner})" if v.inherited else ""
        print(f"{'*' if v.inherited else '!'}{name:<20} {v}{origin}")


@meta_app.command("rm")
def meta_rm(
    ctx: typer.Context,
    path: PathArg,
    names: Annotated[list[str], typer.Argument(help="Field names.", metavar="NAME...")],
) -> None:
    """Remove metadata values from a file or directory (not set there: fine).

    Example: dfc meta rm /juno/prd/J22 process
    """
    result = state(ctx).api().meta_rm([(path, names)])
    raise typer.Exit(report_failures(result))


@meta_app.command("show")
def meta_show(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List the declared metadata fields: name, level (directory or file), type.

    Example: dfc meta show
    """
    fields = state(ctx).api().meta_show()
    if json:
        emit_json(fields)
        return
    for f in fields:
        print(f"{f.name:<24} {'directory' if f.level == 'dir' else 'file':<10} {f.type}")


@meta_app.command("tags")
def meta_tags(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Directory to search below.")],
    name: Annotated[str, typer.Argument(help="The field whose values to list.", metavar="FIELD")],
    query: Annotated[
        list[str] | None,
        typer.Argument(help="Query terms, e.g. process=Muon.", metavar="[QUERY]..."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List the distinct values of FIELD among the files matching QUERY below PATH.

    Example: dfc meta tags /juno/prd runH process=Muon
    """
    values = state(ctx).api().meta_tags(path, name, query or [])
    if json:
        emit_json(values)
        return
    for value in values:
        print(value.isoformat() if hasattr(value, "isoformat") else value)
