"""``dfc dataset``: named metadata queries, dynamic or frozen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dfc.cli._app import CONTEXT, JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json

if TYPE_CHECKING:
    from dfc.api import DatasetCheck, DatasetInfo

dataset_app = typer.Typer(
    cls=FastGroup,
    help="Datasets: named metadata queries, dynamic or frozen.",
    no_args_is_help=True,
    context_settings=CONTEXT,
)
app.add_typer(dataset_app, name="dataset")

Name = Annotated[str, typer.Argument(help="Dataset name: a full path.", metavar="NAME")]


def _line(ds: DatasetInfo) -> str:
    return f"{ds.name}  {ds.status}  {ds.files} files  {ds.bytes} bytes  {ds.query}"


def _check_line(c: DatasetCheck) -> str:
    if not c.changed:
        return f"{c.name}: unchanged ({c.new_files} files, {c.new_bytes} bytes)"
    return (
        f"{c.name}: files {c.old_files} -> {c.new_files}, bytes {c.old_bytes} -> {c.new_bytes}, "
        f"hash {c.old_hash} -> {c.new_hash}"
    )


def _check_json(c: DatasetCheck) -> dict[str, object]:
    return {
        "name": c.name,
        "changed": c.changed,
        "files": [c.old_files, c.new_files],
        "bytes": [c.old_bytes, c.new_bytes],
        "hash": [c.old_hash, c.new_hash],
    }


@dataset_app.command("add")
def dataset_add(
    ctx: typer.Context,
    name: Name,
    query: Annotated[
        list[str], typer.Argument(help="[PATH] then terms 'name OP value'.", metavar="QUERY...")
    ],
    json: JsonOpt = False,
) -> None:
    """Create a dynamic dataset: a named query, optionally led by the PATH to search.

    Example: dfc dataset add /juno/datasets/muon-J22 /juno/prd process=Muon softwareVersion=J22
    """
    ds = state(ctx).api().dataset_add(name, query)
    if json:
        emit_json(ds)
    else:
        print(f"added dataset {ds.name}: {ds.files} files, {ds.bytes} bytes")


@dataset_app.command("files")
def dataset_files(ctx: typer.Context, name: Name, json: JsonOpt = False) -> None:
    """List the files of a dataset (a dynamic one runs its query now).

    Example: dfc dataset files /juno/datasets/muon-J22
    """
    lfns = state(ctx).api().dataset_files(name)
    if json:
        emit_json(list(lfns))
        return
    for lfn in lfns:
        print(lfn)


@dataset_app.command("show")
def dataset_show(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A dataset (default: all).")] = None,
    json: JsonOpt = False,
) -> None:
    """Show datasets: name, status, files, bytes and query (all of them without NAME).

    Example: dfc dataset show /juno/datasets/muon-J22
    """
    found = state(ctx).api().dataset_show(name)
    if json:
        emit_json(found if name is None else found[0])
        return
    for ds in found:
        print(_line(ds))
        if name is not None:
            print(f"  hash: {ds.hash}  owner: {ds.owner}:{ds.group}")
            print(f"  created: {ds.ctime.isoformat()}  updated: {ds.mtime.isoformat()}")
            if ds.annotation:
                print(f"  annotation: {ds.annotation}")


@dataset_app.command("check")
def dataset_check(ctx: typer.Context, name: Name, json: JsonOpt = False) -> None:
    """Show what changed in a dataset since its last update: files, bytes, hash.

    Example: dfc dataset check /juno/datasets/muon-J22
    """
    c = state(ctx).api().dataset_check(name)
    emit_json(_check_json(c)) if json else print(_check_line(c))


@dataset_app.command("update")
def dataset_update(ctx: typer.Context, name: Name, json: JsonOpt = False) -> None:
    """Store a dataset's current file count, bytes and hash (what check compares with).

    Example: dfc dataset update /juno/datasets/muon-J22
    """
    c = state(ctx).api().dataset_update(name)
    emit_json(_check_json(c)) if json else print(_check_line(c))


@dataset_app.command("freeze")
def dataset_freeze(ctx: typer.Context, name: Name) -> None:
    """Fix a dataset's files to what its query matches now.

    Example: dfc dataset freeze /juno/datasets/muon-J22
    """
    print(_line(state(ctx).api().dataset_freeze(name)))


@dataset_app.command("release")
def dataset_release(ctx: typer.Context, name: Name) -> None:
    """Make a frozen dataset dynamic again.

    Example: dfc dataset release /juno/datasets/muon-J22
    """
    print(_line(state(ctx).api().dataset_release(name)))


@dataset_app.command("annotate")
def dataset_annotate(
    ctx: typer.Context,
    name: Name,
    text: Annotated[str, typer.Argument(help="Free text ('' clears it).")],
) -> None:
    """Attach a free-text annotation to a dataset.

    Example: dfc dataset annotate /juno/datasets/muon-J22 "input of the 2025 muon analysis"
    """
    state(ctx).api().dataset_annotate(name, text)


@dataset_app.command("rm")
def dataset_rm(ctx: typer.Context, name: Name) -> None:
    """Remove a dataset (never its files); a missing one is fine.

    Example: dfc dataset rm /juno/datasets/muon-J22
    """
    if state(ctx).api().dataset_rm(name):
        print(f"removed dataset {name}")
