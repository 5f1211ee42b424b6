"""Metadata fields and values: types, levels, inheritance and the conflict rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from dfc.catalog._records import MetaField
from dfc.errors import (
    InvalidArgument,
    LFNNotFound,
    MetadataConflict,
    NotFound,
)
from tests.catalog.helpers import add, mkdirs, rec

if TYPE_CHECKING:
    from dfc.catalog import Catalog, CatalogTx


@pytest.fixture
def fields(tx: CatalogTx) -> CatalogTx:
    tx.meta_index("sv", "string", "dir")
    tx.meta_index("run", "int", "dir")
    tx.meta_index("runH", "int", "file")
    tx.meta_index("energy", "float", "file")
    tx.meta_index("taken", "date", "file")
    return tx


def test_index_rules(tx: CatalogTx) -> None:
    assert tx.meta_index("sv", "string", "dir") is True
    assert tx.meta_index("sv", "varchar(128)", "dir") is False  # already there, same way
    assert tx.meta_index("runH", "INT", "file") is True
    with pytest.raises(MetadataConflict, match="already defined for directories"):
        tx.meta_index("sv", "string", "file")
    with pytest.raises(MetadataConflict, match="already defined for files"):
        tx.meta_index("runH", "float", "file")
    for bad in ("1x", "a-b", "", "x" * 65):
        with pytest.raises(InvalidArgument, match="invalid metadata field name"):
            tx.meta_index(bad, "int", "dir")
    for reserved in ("Size", "SE", "name", "Path", "User"):
        with pytest.raises(InvalidArgument, match="standard file attribute"):
            tx.meta_index(reserved, "int", "dir")
    with pytest.raises(InvalidArgument, match="unknown metadata type 'blob'"):
        tx.meta_index("x", "blob", "dir")
    with pytest.raises(InvalidArgument, match="invalid metadata level"):
        tx.meta_index("x", "int", "both")  # type: ignore[arg-type]
    assert tx.meta_fields() == [MetaField("runH", "file", "int"), MetaField("sv", "dir", "string")]


def test_set_get_typed_values(fields: CatalogTx) -> None:
    add(fields, rec("/p/a/f"))
    res = fields.meta_set(
        [
            ("/p", {"sv": "J22"}),
            ("/p/a", {"run": "17"}),
            ("/p/a/f", {"runH": 5, "energy": "1.5", "taken": "2024-03-01T12:00:00"}),
        ]
    )
    assert res.ok, res.failed
    got = fields.meta_get("/p/a/f")
    assert list(got) == ["energy", "run", "runH", "sv", "taken"]
    assert got["run"].value == 17 and got["run"].inherited and got["run"].owner == "/p/a"
    assert got["sv"].value == "J22" and got["sv"].owner == "/p"
    assert got["runH"].value == 5 and not got["runH"].inherited
    assert got["energy"].value == 1.5
    assert got["taken"].value == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert str(got["taken"]) == "2024-03-01T12:00:00+00:00"
    own = fields.meta_get("/p/a")
    assert (own["run"].inherited, own["sv"].inherited) == (False, True)
    assert fields.meta_get("/") == {}
    # set again: replaced
    assert fields.meta_set([("/p/a/f", {"runH": 6})]).ok
    assert fields.meta_get("/p/a/f")["runH"].value == 6


@pytest.mark.parametrize(
    ("path", "values", "error", "message"),
    [
        ("/p/f", {"runH": "abc"}, InvalidArgument, "runH: 'abc' is not an int"),
        ("/p/f", {"runH": 1.5}, InvalidArgument, "runH: 1.5 is not an int"),
        ("/p/f", {"runH": True}, InvalidArgument, "is not an int"),
        ("/p/f", {"runH": 1 << 64}, InvalidArgument, "is not an int"),
        ("/p/f", {"energy": "nan"}, InvalidArgument, "energy: 'nan' is not a float"),
        ("/p/f", {"taken": "soon"}, InvalidArgument, "taken: 'soon' is not a date"),
        ("/p", {"sv": ""}, InvalidArgument, "sv: '' is not a string"),
        ("/p", {"sv": 5}, InvalidArgument, "sv: 5 is not a string"),
        ("/p", {"sv": "x" * 600}, InvalidArgument, "longer than 512"),
        ("/p", {"nope": 1}, InvalidArgument, "metadata field nope not defined"),
        (
            "/p",
            {"runH": 1},
            InvalidArgument,
            "runH is a file field: it cannot be set on directory /p",
        ),
        ("/p/f", {"sv": "x"}, InvalidArgument, "sv is a directory field: it cannot be set on file"),
        ("/nothere", {"sv": "x"}, LFNNotFound, "no such file or directory"),
    ],
)
def test_set_errors(
    fields: CatalogTx, path: str, values: dict[str, Any], error: type[Exception], message: str
) -> None:
    add(fields, rec("/p/f"))
    res = fields.meta_set([(path, values), ("/p/f", {"runH": 1})])
    assert isinstance(res.failed[path], error)
    assert message in str(res.failed[path])
    if path != "/p/f":
        assert "/p/f" in res.succeeded


def test_item_is_all_or_nothing(fields: CatalogTx) -> None:
    add(fields, rec("/p/f"))
    res = fields.meta_set([("/p/f", {"runH": 1, "energy": "bad"})])
    assert "/p/f" in res.failed
    assert fields.meta_get("/p/f") == {}


def test_conflict_with_ancestor_and_subdirectory(fields: CatalogTx) -> None:
    mkdirs(fields, "/p/a/b", "/p/c", "/p-x")
    assert fields.meta_set([("/p/a", {"sv": "J22"})]).ok
    res = fields.meta_set([("/p/a/b", {"sv": "J23"}), ("/p", {"sv": "J23"})])
    assert isinstance(res.failed["/p/a/b"], MetadataConflict)
    assert "an ancestor, /p/a, sets it already" in str(res.failed["/p/a/b"])
    assert isinstance(res.failed["/p"], MetadataConflict)
    assert "a subdirectory, /p/a, sets it already" in str(res.failed["/p"])
    # siblings, and a name that merely starts the same, are not on the branch
    assert fields.meta_set([("/p/c", {"sv": "J23"}), ("/p-x", {"sv": "J24"})]).ok
    # setting the same directory again is fine
    assert fields.meta_set([("/p/a", {"sv": "J25"})]).ok
    # within one call, the first wins
    mkdirs(fields, "/q/r")
    res = fields.meta_set([("/q", {"run": 1}), ("/q/r", {"run": 2})])
    assert "/q" in res.succeeded and isinstance(res.failed["/q/r"], MetadataConflict)


def test_move_refuses_a_second_value_on_a_branch(fields: CatalogTx) -> None:
    mkdirs(fields, "/p/a/b", "/q")
    fields.meta_set([("/p/a/b", {"sv": "J22"}), ("/q", {"sv": "J23"})]).raise_first()
    with pytest.raises(MetadataConflict, match="sv is set on /p/a/b and on /q"):
        fields.move("/p/a", "/q/a")
    fields.move("/p/a", "/elsewhere")  # no conflict there
    assert fields.meta_get("/elsewhere/b")["sv"].value == "J22"


def test_remove_values(fields: CatalogTx) -> None:
    add(fields, rec("/p/a/f"))
    fields.meta_set([("/p", {"sv": "J22"}), ("/p/a/f", {"runH": 1})]).raise_first()
    res = fields.meta_rm([("/p/a", ["sv"]), ("/p/a/f", ["runH", "energy"]), ("/x", ["sv"])])
    assert isinstance(res.failed["/p/a"], InvalidArgument)
    assert "inherited from /p: remove it there" in str(res.failed["/p/a"])
    assert isinstance(res.failed["/x"], LFNNotFound)
    assert "/p/a/f" in res.succeeded
    assert list(fields.meta_get("/p/a/f")) == ["sv"]
    assert fields.meta_rm([("/p", ["sv", "run"])]).ok
    assert fields.meta_get("/p/a/f") == {}
    res = fields.meta_rm([("/p", ["runH"]), ("/p/a/f", ["zzz"])])
    assert isinstance(res.failed["/p"], InvalidArgument)
    assert isinstance(res.failed["/p/a/f"], InvalidArgument)


def test_values_go_with_their_file_or_directory(fields: CatalogTx, catalog: Catalog) -> None:
    add(fields, rec("/p/a/f"))
    fields.meta_set([("/p/a", {"sv": "J22"}), ("/p/a/f", {"runH": 1})]).raise_first()
    fields.remove_files(["/p/a/f"]).raise_first()
    fields.rmdir(["/p/a"]).raise_first()
    counts = [
        fields._fetchall(f"SELECT COUNT(*) FROM {t}")[0][0]
        for t in ("dir_meta_string", "file_meta_int")
    ]
    assert counts == [0, 0]
    # overwriting a file drops the old file's values
    add(fields, rec("/p/g"))
    fields.meta_set([("/p/g", {"runH": 1})]).raise_first()
    add(fields, rec("/p/g", size=99), overwrite=True)
    assert fields.meta_get("/p/g") == {}


def test_unindex_removes_values(fields: CatalogTx) -> None:
    add(fields, rec("/p/f"))
    fields.meta_set([("/p/f", {"runH": 1})]).raise_first()
    fields.meta_unindex("runH")
    assert "runH" not in {f.name for f in fields.meta_fields()}
    assert fields.meta_get("/p/f") == {}
    with pytest.raises(NotFound, match="metadata field runH not defined"):
        fields.meta_unindex("runH")
    assert fields.meta_index("runH", "string", "dir")  # the name is free again


def test_bulk_set_many_files(fields: CatalogTx) -> None:
    lfns = [f"/bulk/d{i % 7}/f{i}" for i in range(5000)]
    add(fields, *[rec(lfn, ses=()) for lfn in lfns])
    res = fields.meta_set([(lfn, {"runH": i, "energy": i / 2}) for i, lfn in enumerate(lfns)])
    assert res.ok and len(res.succeeded) == 5000
    assert fields.find_count("/bulk", ["runH>=4000"]) == (1000, 10 * 1000)
    assert fields.meta_get(lfns[123])["energy"].value == 61.5


def test_schema_has_typed_value_tables(catalog: Catalog) -> None:
    with catalog.engine.connect() as conn:
        names = set(conn.dialect.get_table_names(conn))
    for level in ("dir", "file"):
        for type_ in ("int", "float", "string", "date"):
            assert f"{level}_meta_{type_}" in names
    assert not any(n.startswith("FC_Meta_") for n in names)  # never a table per field
    with catalog.engine.connect() as conn:
        conn.execute(text("SELECT field_id, value FROM file_meta_int WHERE 1 = 0")).all()


def test_bulk_set_resolves_few_or_most_files_of_a_directory(fields: CatalogTx) -> None:
    add(fields, *[rec(f"/big/f{i:04d}", ses=()) for i in range(400)])
    few = [f"/big/f{i:04d}" for i in range(0, 400, 50)]  # probed one by one
    res = fields.meta_set([(lfn, {"runH": 1}) for lfn in [*few, "/big/none"]])
    assert list(res.succeeded) == few and isinstance(res.failed["/big/none"], LFNNotFound)
    most = [f"/big/f{i:04d}" for i in range(300)]  # read in one range scan
    res = fields.meta_set([(lfn, {"runH": 2}) for lfn in [*most, "/big/none"]])
    assert len(res.succeeded) == 300 and isinstance(res.failed["/big/none"], LFNNotFound)
    assert fields.find_count("/big", ["runH=1"]) == (2, 20)  # f0300 and f0350
    assert fields.find_count("/big", ["runH=2"]) == (300, 3000)


def test_concurrent_sets_on_one_branch_cannot_both_win(catalog: Catalog) -> None:
    import threading

    from dfc.catalog import Catalog as Cat
    from dfc.models import BulkResult

    with catalog.transaction() as tx:
        tx.meta_index("sv", "string", "dir")
        mkdirs(tx, "/c/a/b")
    start = threading.Barrier(2)
    results: list[BulkResult[None]] = []
    errors: list[BaseException] = []

    def writer(path: str) -> None:
        own = Cat(catalog.engine.url.render_as_string(hide_password=False))
        try:
            start.wait()
            with own.transaction() as tx:
                results.append(tx.meta_set([(path, {"sv": path})]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("/c/a", "/c/a/b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r.succeeded) for r in results) == [0, 1]
    with catalog.reader() as tx:
        owners = tx._fetchall("SELECT COUNT(*) FROM dir_meta_string")
    assert owners == [(1,)]
