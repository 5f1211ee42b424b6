"""Two server processes on one PostgreSQL catalogue behave as one (the server is stateless)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from dfc.api import _wire
from dfc.models import FileRecord, Replica
from tests.server.helpers import PROD, VO_ADMIN, op, seed, start_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.auth.pki import TestPKI
    from tests.server.helpers import DfcServer

pytestmark = pytest.mark.postgres

HOME = "/juno/user/a/alice"


@pytest.fixture
def servers(
    pki: TestPKI, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DfcServer, DfcServer]]:
    tmp = tmp_path_factory.mktemp("two")
    seed(postgres_url, pki, tmp / "se")
    first = start_server(tmp, pki, postgres_url, cache_seconds=0)
    second = start_server(tmp, pki, postgres_url, cache_seconds=0)
    a, b = next(first), next(second)
    try:
        yield a, b
    finally:
        for gen in (first, second):
            gen.close()


def result(reply: object) -> object:
    assert reply.status == 200, reply.body  # type: ignore[attr-defined]
    return _wire.loads(reply.body)["result"]  # type: ignore[attr-defined]


def test_two_servers_behave_as_one(servers: tuple[DfcServer, DfcServer], pki: TestPKI) -> None:
    a, b = servers
    alice = pki.write("two_alice", pki.proxy("alice", fqans=["/juno", PROD]))
    admin = pki.write("two_admin", pki.proxy("alice", fqans=["/juno", VO_ADMIN]))
    bob = pki.write("two_bob", pki.proxy("bob", fqans=["/juno"]))
    assert result(op(a, alice, "mkdir", paths=[f"{HOME}/shared"], parents=True, owner="",
                     group="")).ok  # type: ignore[attr-defined]  # fmt: skip
    assert result(op(b, alice, "lookup", lfn=f"{HOME}/shared")).owner == "alice"  # type: ignore[attr-defined]

    # Concurrent writers through both servers, into one directory.
    def add(server: DfcServer, start: int) -> object:
        recs = [FileRecord(f"{HOME}/shared/f{i:04d}", i, "00000001", None, "",
                           (Replica("DISK", ""),)) for i in range(start, start + 50)]  # fmt: skip
        return result(op(server, alice, "add_files", records=recs, owner="", group=""))

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(add, [a, b, a, b], [0, 50, 100, 150]))
    assert all(r.ok for r in done)  # type: ignore[attr-defined]
    for server in (a, b):
        listed = op(server, bob, "list_dir", path=f"{HOME}/shared")
        names = [e.lfn for line in listed.body.splitlines()[:-1] for e in _wire.loads(line)]
        assert names == [f"{HOME}/shared/f{i:04d}" for i in range(200)]

    # The registry too: a user registered through one server is known to the other.
    eve_dn = "/DC=org/DC=junotest/O=JUNO/CN=Bob Other"
    assert result(op(a, admin, "remove_user", name="bob")) is None
    assert result(op(b, bob, "whoami")).user is None  # type: ignore[attr-defined]
    result(op(a, admin, "add_user", name="robert", dns=[eve_dn], group="juno"))
    assert result(op(b, bob, "whoami")).user == "robert"  # type: ignore[attr-defined]
    denied = op(b, bob, "remove_files", lfns=[f"{HOME}/shared/f0001"])
    assert result(denied).failed[f"{HOME}/shared/f0001"].kind == "InsufficientRights"  # type: ignore[attr-defined]


def test_several_worker_processes(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("workers")
    url = f"sqlite:///{tmp / 'catalog.db'}"
    seed(url, pki, tmp / "se")
    alice = pki.write("workers_alice", pki.proxy("alice", fqans=["/juno"]))
    for server in start_server(tmp, pki, url, workers=2):
        for _ in range(6):  # new connections land on either process
            assert result(op(server, alice, "whoami")).user == "alice"  # type: ignore[attr-defined]
