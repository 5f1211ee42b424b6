"""The catalogue server, for real: a ``dfc server`` process, mutual TLS, PostgreSQL.

Bad requests get 4xx with a JSON error, nothing produces a 500, bulk and streamed
endpoints carry >= 10,000 items, logs carry request ids and identities but no secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfc import DFC, Settings
from dfc.api import RemoteCatalog, _wire
from dfc.api._service import OPS
from dfc.errors import AlreadyExists, InvalidLFN, LFNNotFound
from dfc.models import FileRecord, Replica
from tests.server.helpers import (
    PROD,
    DfcServer,
    op,
    request,
    seed,
    start_server,
    token,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.auth.pki import TestPKI
    from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.postgres

MAX_ITEMS = 10_000
HOME = "/juno/user/a/alice"


@dataclass
class Env:
    server: DfcServer
    url: str
    alice: Path
    bob: Path
    tmp: Path


@pytest.fixture(scope="module")
def env(
    pki: TestPKI,
    postgres_server: PostgresServer,
    postgres_module_db: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Env]:
    url = postgres_server.url(postgres_module_db)
    tmp = tmp_path_factory.mktemp("server")
    seed(url, pki, tmp / "se")
    alice = pki.write("srv_alice", pki.proxy("alice", fqans=["/juno", PROD]))
    bob = pki.write("srv_bob", pki.proxy("bob", fqans=["/juno"]))
    for server in start_server(tmp, pki, url, max_items=MAX_ITEMS, max_body=8 << 20):
        yield Env(server, url, alice, bob, tmp)


def test_health_needs_no_credential(env: Env) -> None:
    reply = request(env.server, None, "GET", "/api/v1/health")
    assert reply.status == 200
    assert reply.json()["status"] == "ok" and reply.json()["max_items"] == MAX_ITEMS
    assert len(reply.headers["x-request-id"]) == 16


def test_whoami_proxy_and_token(env: Env) -> None:
    who = request(env.server, env.alice, "GET", "/api/v1/whoami").json()
    assert (who["user"], who["via"], who["group"]) == ("alice", "x509", "juno")
    assert who["fqans"] == ["/juno", PROD] and who["roles"] == ["production"]
    assert set(who["groups"]) == {"juno", "juno_prod"} and who["properties"] == ["production"]
    bearer = {"Authorization": f"Bearer {token(env.server.url)}"}
    who = request(env.server, None, "GET", "/api/v1/whoami", headers=bearer).json()
    assert (who["user"], who["via"], who["fqans"]) == ("alice", "token", ["/juno"])


def test_requests_without_credential_are_401(env: Env) -> None:
    reply = op(env.server, None, "stat", lfns=["/juno"])
    assert reply.status == 401
    body = reply.json()
    assert body["error"] == "AuthenticationFailed" and "no credential" in body["message"]
    assert body["request_id"] == reply.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("POST", "/api/v1/catalog/drop_tables", b"{}", 404, "NotFound"),
        ("GET", "/api/v1/catalog/stat", None, 405, "InvalidArgument"),
        ("GET", "/api/v2/anything", None, 404, "NotFound"),
        ("POST", "/api/v1/catalog/stat", b"{not json", 400, "InvalidArgument"),
        ("POST", "/api/v1/catalog/stat", b'{"args": {"lfns": "/juno"}}', 400, "InvalidArgument"),
        ("POST", "/api/v1/catalog/stat", b'{"args": {}}', 400, "InvalidArgument"),
        ("POST", "/api/v1/catalog/stat", b'{"args": {"lfns": ["/a\\u0000"]}}', 400,
         "InvalidArgument"),
        ("POST", "/api/v1/catalog/lookup", b'{"args": {"lfn": "/juno/../etc"}}', 400,
         "InvalidLFN"),
        ("POST", "/api/v1/catalog/lookup", b'{"args": {"lfn": "/juno/none"}}', 404,
         "LFNNotFound"),
        ("POST", "/api/v1/catalog/mkdir", b'{"args": {"paths": ["/x"], "parents": 1}}', 400,
         "InvalidArgument"),
        ("POST", "/api/v1/catalog/walk", b'{"args": {"path": "/juno/none"}}', 404,
         "LFNNotFound"),
        ("POST", "/api/v1/catalog/add_se", b'{"args": {"se": {"$": "os:system", "f": []}}}',
         400, "InvalidArgument"),
    ],
)  # fmt: skip
def test_bad_requests_get_4xx_json(
    env: Env, method: str, path: str, body: bytes | None, status: int, kind: str
) -> None:
    reply = request(env.server, env.alice, method, path, body)
    assert reply.status == status, reply.body
    assert reply.json()["error"] == kind


def test_limits(env: Env) -> None:
    too_many = op(env.server, env.alice, "stat", lfns=["/juno"] * (MAX_ITEMS + 1))
    assert too_many.status == 400 and "at most 10000" in too_many.json()["message"]
    huge = request(env.server, env.alice, "POST", "/api/v1/catalog/stat", b" " * (9 << 20))
    assert huge.status == 413 and huge.json()["error"] == "InvalidArgument"


def test_bulk_and_streams_of_ten_thousand(env: Env) -> None:
    records = [
        FileRecord(f"{HOME}/bulk/f{i:05d}", i, "00000001", None, "", (Replica("DISK", ""),))
        for i in range(MAX_ITEMS)
    ]
    added = op(env.server, env.alice, "add_files", records=records, owner="", group="")
    assert added.status == 200
    assert _wire.loads(added.body)["result"].ok
    lfns = [r.lfn for r in records]
    reps = _wire.loads(op(env.server, env.alice, "replicas", lfns=lfns).body)["result"]
    assert len(reps.succeeded) == MAX_ITEMS and not reps.failed
    assert reps.succeeded[lfns[7]][0].se == "DISK"
    listing = op(env.server, env.alice, "list_dir", path=f"{HOME}/bulk")
    assert listing.headers["content-type"].startswith("application/x-ndjson")
    lines = listing.body.splitlines()
    assert json.loads(lines[-1]) == {"end": MAX_ITEMS}
    entries = [e for line in lines[:-1] for e in _wire.loads(line)]
    assert [e.lfn for e in entries] == lfns and entries[3].owner == "alice"
    plain = request(env.server, env.alice, "GET", f"/api/v1/ls?path={HOME}/bulk")
    assert len(plain.body.splitlines()) == MAX_ITEMS
    assert json.loads(plain.body.splitlines()[0])["lfn"] == lfns[0]


def test_plain_json_endpoints(env: Env) -> None:
    stat = request(env.server, env.bob, "GET", "/api/v1/stat?lfn=/juno/user&lfn=/juno/none")
    body = stat.json()
    assert body["succeeded"]["/juno/user"]["type"] == "directory"
    assert body["failed"]["/juno/none"]["error"] == "LFNNotFound"
    assert request(env.server, env.bob, "GET", "/api/v1/stat").status == 400


def test_the_library_works_remotely(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X509_USER_PROXY", str(env.alice))
    monkeypatch.setenv("X509_CERT_DIR", str(env.server.ca_dir))
    src = env.tmp / "data.bin"
    src.write_bytes(b"remote" * 1000)
    with DFC(Settings.load(catalog=env.server.url)) as api:
        assert isinstance(api.catalog, RemoteCatalog)
        assert api.catalog.wait_idle(timeout=0)
        assert api.whoami().user == "alice"
        put = api.put([src], f"{HOME}/lib/", se="DISK")
        assert put.ok, put.failed
        entry = put.succeeded[f"{HOME}/lib/data.bin"]
        assert (entry.size, entry.owner) == (6000, "alice")
        assert [e.lfn for e in api.ls(f"{HOME}/lib")] == [f"{HOME}/lib/data.bin"]
        got = api.get([f"{HOME}/lib/data.bin"], env.tmp / "back.bin")
        assert got.ok and (env.tmp / "back.bin").read_bytes() == src.read_bytes()
        with pytest.raises(LFNNotFound):
            list(api.ls(f"{HOME}/none"))
        with pytest.raises(InvalidLFN):
            list(api.walk("relative"))
        again = api.put([src], f"{HOME}/lib/data.bin", se="DISK")
        assert isinstance(again.failed[f"{HOME}/lib/data.bin"], AlreadyExists)
        assert api.rm([f"{HOME}/lib/data.bin"]).ok


def test_large_lookups_go_in_parallel_parts(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from dfc.api import _remote

    monkeypatch.setenv("X509_USER_PROXY", str(env.alice))
    monkeypatch.setenv("X509_CERT_DIR", str(env.server.ca_dir))
    monkeypatch.setattr(_remote, "PARALLEL_MIN", 4)
    monkeypatch.setattr(_remote, "_PART", 2)
    sources = []
    for i in range(7):
        sources.append(env.tmp / f"f{i}")
        sources[-1].write_bytes(b"part %d" % i)
    with DFC(Settings.load(catalog=env.server.url)) as api:
        names = [f"{HOME}/parts/f{i}" for i in range(7)]
        assert api.put(sources, f"{HOME}/parts/", se="DISK").ok
        asked = [names[5], f"{HOME}/parts/none", *names[:5], "relative", names[6]]
        reps = api.replicas(asked)
        stats = api.stat(asked)
    assert list(reps.succeeded) == [names[5], *names[:5], names[6]]
    assert all(r[0].se == "DISK" for r in reps.succeeded.values())
    assert set(reps.failed) == {f"{HOME}/parts/none", "relative"}
    assert list(stats.succeeded) == list(reps.succeeded)
    assert isinstance(stats.failed[f"{HOME}/parts/none"], LFNNotFound)


def test_logs_carry_ids_and_identities_never_secrets(env: Env) -> None:
    bearer = token(env.server.url)
    request(env.server, None, "GET", "/api/v1/whoami", headers={
        "Authorization": f"Bearer {bearer}", "X-Request-ID": "trace-me-42"})  # fmt: skip
    op(env.server, env.alice, "stat", lfns=["/juno"])
    log = env.server.logs()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    mine = [r for r in records if r.get("request_id") == "trace-me-42"]
    assert mine and mine[0]["identity"].endswith("#alice-sub") and mine[0]["status"] == 200
    assert any(r.get("identity", "") == "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"
               for r in records)  # fmt: skip
    assert bearer.split(".")[1] not in log and "BEGIN" not in log and "PRIVATE" not in log


STRINGS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["/", "/juno", HOME, "/juno/user", "DISK", "/juno/production", ".."]),
    st.builds(lambda t: f"{HOME}/{t}", st.text(max_size=12)),
)
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**40), STRINGS,
    st.lists(STRINGS, max_size=3), st.lists(st.lists(STRINGS, max_size=3), max_size=2),
)  # fmt: skip


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_operations_never_500(env: Env, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(OPS)))
    spec = OPS[name]
    args: dict[str, Any] = {}
    for param in spec.params:
        if param in spec.required or data.draw(st.booleans()):
            args[param] = data.draw(VALUES)
    who = data.draw(st.sampled_from([env.alice, env.bob]))
    reply = op(env.server, who, name, **args)
    assert reply.status < 500, (name, args, reply.body)
    if reply.status >= 400:
        assert reply.json()["error"]


def test_portal_behind_the_server_authenticates_and_authorises(env: Env) -> None:
    """The web portal under /portal/ sees exactly what the API lets each caller see."""
    private = f"{HOME}/portal-private"
    assert (
        op(env.server, env.alice, "mkdir", paths=[private], parents=True, owner="", group="").status
        == 200
    )
    assert op(env.server, env.alice, "chmod", paths=[private], mode=0o700).status == 200

    page = request(env.server, env.alice, "GET", f"/portal/browse?path={HOME}")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "portal-private" in page.body.decode()

    bearer = {"Authorization": f"Bearer {token(env.server.url)}"}
    assert (
        request(env.server, None, "GET", f"/portal/browse?path={HOME}", headers=bearer).status
        == 200
    )
    assert request(env.server, None, "GET", f"/portal/browse?path={HOME}").status == 401

    refused = request(env.server, env.bob, "GET", f"/portal/browse?path={private}")
    assert refused.status == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert request(env.server, env.alice, "GET", f"/portal/browse?path={private}").status == 200
