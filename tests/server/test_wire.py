"""The wire format: typed values survive the round trip; hostile input is refused."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfc.api import _wire
from dfc.api._authz import WhoAmI
from dfc.api._service import OPS, check_args, parse_args
from dfc.auth.errors import ScopeDenied
from dfc.catalog.identities import UserInfo
from dfc.errors import DFCError, InvalidArgument, LFNNotFound, NotFound
from dfc.models import BulkResult, Entry, FileInfo, FileRecord, Replica, SEInfo

NOW = datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)


def roundtrip(value: object) -> object:
    return _wire.loads(_wire.dumps(value))


def test_models_round_trip() -> None:
    entry = Entry("/a/b", "file", "alice", "juno", 0o644, NOW, NOW, 3, "good", "0000000a",
                  "00000000000000ab", "g", (Replica("DISK", "/a/b", "file:///x/a/b"),))  # fmt: skip
    values = [
        entry,
        FileRecord("/a", 1, "00000001", None, "", (Replica("X", ""),)),
        SEInfo("X", "file:///x", "S", read=False),
        FileInfo("/p", 3, checksums={"adler32": "1"}),
        UserInfo("alice", ("/DC=x",), None, "juno", ("admin",), ()),
        WhoAmI("local:a", "local", "a", "g", ("g",), (), (), (), None, False, None, NOW, None),
        {"$": 1, "/x": [1, 2.5, None, True]},
        frozenset({"a", "b"}),
    ]
    for value in values:
        assert roundtrip(value) == value
    assert hash(roundtrip(entry)) == hash(entry)  # tuples come back as tuples


def test_bulk_results_and_errors() -> None:
    res: BulkResult[list[Replica]] = BulkResult(
        {"/a": [Replica("X", "/a")]}, {"/b": LFNNotFound("/b: gone"), "/c": ScopeDenied("no")}
    )
    back = roundtrip(res)
    assert isinstance(back, BulkResult)
    assert back.succeeded == res.succeeded
    assert type(back.failed["/b"]) is LFNNotFound and str(back.failed["/b"]) == "/b: gone"
    assert type(back.failed["/c"]) is ScopeDenied
    odd = _wire.error_from("NoSuchKind", "m", 61)
    assert type(odd) is DFCError and odd.errno == 61
    assert type(_wire.error_from("__class__", "m")) is DFCError


@pytest.mark.parametrize(
    "text",
    [
        b"{",
        b"NaN",
        b'{"$": "Entry", "f": [1]}',
        b'{"$": "os:system", "f": []}',
        b'{"$": "dfc.config:Settings", "f": []}',
        b'{"$": "T", "v": "yesterday"}',
        b'{"$": "map", "f": [[["unhashable"], 1]]}',
        b'{"$": 5}',
        b"[" * 100_000,
    ],
)
def test_malformed_is_invalid_argument(text: bytes) -> None:
    with pytest.raises(InvalidArgument):
        _wire.loads(text, allowed=(FileRecord, Replica, SEInfo))


def test_only_allowed_dataclasses_are_built() -> None:
    data = _wire.dumps(SEInfo("X", "u"))
    with pytest.raises(InvalidArgument, match="not accepted"):
        _wire.loads(data, allowed=(FileRecord,))


def test_arguments_are_checked() -> None:
    assert check_args("stat", {"lfns": ["/a"]}, max_items=10)[1] == {"lfns": ["/a"]}
    for op, args in [
        ("stat", {}),
        ("stat", {"lfns": "/a"}),
        ("stat", {"lfns": [1]}),
        ("stat", {"lfns": ["/a"], "extra": 1}),
        ("stat", {"lfns": ["/a"] * 11}),
        ("mkdir", {"paths": ["/a"], "parents": "yes"}),
        ("chmod", {"paths": ["/a"], "mode": True}),
        ("add_files", {"records": [{"lfn": "/a"}]}),
        ("add_replicas", {"items": [["/a"]]}),
        ("add_se", {"se": SEInfo("X", "u", read="yes")}),  # type: ignore[arg-type]
    ]:
        with pytest.raises(InvalidArgument):
            check_args(op, args, max_items=10)
    with pytest.raises(NotFound):
        check_args("drop_table", {}, max_items=10)
    with pytest.raises(InvalidArgument):
        parse_args("stat", b'{"args": [], "x": 1}', max_items=10)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
ARG_NAMES = st.sampled_from(sorted({n for o in OPS.values() for n in o.params} | {"x"}))


@settings(max_examples=300, deadline=None)
@given(
    op=st.sampled_from(sorted(OPS)),
    body=st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(ARG_NAMES, JSON, max_size=5).map(
            lambda a: json.dumps({"args": a}).encode()
        ),
    ),
)
def test_fuzzed_bodies_only_raise_dfc_errors(op: str, body: bytes) -> None:
    with contextlib.suppress(DFCError):
        parse_args(op, body, max_items=100)


def test_bulk_replica_lists_travel_compactly() -> None:
    reps = {
        "/a/b": [
            Replica("X", "/a/b", "file:///x/a/b"),
            Replica("Y", "/old/b", "root://y//store/old/b", "bad"),
            Replica("Z", "/a/b", "pfn-without-the-path"),
        ],
        "/c": [],
    }
    res: BulkResult[list[Replica]] = BulkResult(reps, {"/d": LFNNotFound("nope")})
    data = _wire.dumps(res)
    assert b'"BulkC"' in data and data.count(b"file:///x") == 1
    back = _wire.loads(data)
    assert back.succeeded == reps and type(back.failed["/d"]) is LFNNotFound
    assert all(type(r) is Replica for r in back.succeeded["/a/b"])
    # The older form (one list per replica) is still read.
    old = b'{"$": "BulkR", "ok": {"/a": [["X", "", 0, "good"]]}, "bases": ["file://"], "err": {}}'
    assert _wire.loads(old).succeeded == {"/a": [Replica("X", "/a", "file:///a")]}
    for bad in (
        b'{"$": "BulkC", "lfns": ["/a"], "n": [1], "se": ["X"], "path": [null], "ref": [5],'
        b' "status": ["good"], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": ["/a"], "n": [2], "se": ["X"], "path": [null], "ref": [0],'
        b' "status": ["good"], "bases": ["f://"], "err": {}}',
        b'{"$": "BulkC", "lfns": ["/a"], "n": [-1], "se": [], "path": [], "ref": [],'
        b' "status": [], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": ["/a"], "n": [1], "se": [1], "path": [null], "ref": ["p"],'
        b' "status": ["good"], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": ["/a"], "n": [1], "se": ["X"], "path": [null], "ref": [null],'
        b' "status": ["good"], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": ["/a"], "n": [1.5], "se": ["X"], "path": [null], "ref": ["p"],'
        b' "status": ["good"], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": [["/a"]], "n": [0], "se": [], "path": [], "ref": [],'
        b' "status": [], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": "/a", "n": [], "se": [], "path": [], "ref": [],'
        b' "status": [], "bases": [], "err": {}}',
        b'{"$": "BulkC", "lfns": [], "n": [], "se": [], "path": [], "ref": [],'
        b' "status": [], "bases": [], "err": {"/a": 1}}',
        b'{"$": "BulkR", "ok": {"/a": [["X", "", 5, "good"]]}, "bases": [], "err": {}}',
        b'{"$": "BulkR", "ok": {"/a": [["X", ""]]}, "bases": [], "err": {}}',
        b'{"$": "BulkR", "ok": [], "bases": [], "err": {}}',
        b'{"$": "BulkR", "ok": {}, "bases": [1], "err": {}}',
        b'{"$": "BulkR", "ok": {}, "bases": [], "err": {"/a": 1}}',
    ):
        with pytest.raises(InvalidArgument):
            _wire.loads(bad)
