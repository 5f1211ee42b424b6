"""The catalogue on a catalogue server: :class:`RemoteCatalog`, used for ``https://`` URLs.

It has the surface of :class:`dfc.catalog.Catalog` that the API uses (``transaction()``,
``reader()``, ``check_schema()``, ``close()``, ``url``); its transactions forward each
operation to the server (``POST /api/v1/catalog/<op>``), which authorises and runs it in
a transaction of its own. Storage I/O never goes through the server.

Credentials, by the conventions grid tools share: a WLCG bearer token (``$BEARER_TOKEN``,
``$BEARER_TOKEN_FILE``, ``$XDG_RUNTIME_DIR/bt_u<uid>``, ``/tmp/bt_u<uid>``) if one is found,
else the X.509 proxy (``$X509_USER_PROXY``, else ``/tmp/x509up_u<uid>``) over mutual TLS.
The server certificate must chain to ``$X509_CERT_DIR`` (else
``/etc/grid-security/certificates``).

The connection pool is thread-safe: the API calls the catalogue from worker threads.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dfc.api import _wire
from dfc.api._guarded import Access, ApiTx
from dfc.api._remote_meta import RemoteMetaMixin
from dfc.auth.errors import AuthenticationFailed
from dfc.catalog import Catalog
from dfc.errors import (
    CatalogError,
    CatalogUnavailable,
    ConfigError,
    DFCError,
    InvalidArgument,
)
from dfc.models import BulkResult

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dfc.api._authz import WhoAmI
    from dfc.catalog._consistency import ReplicaRecord
    from dfc.catalog.identities import FqanRule, GridmapImport, GroupInfo, UserInfo
    from dfc.models import Entry, FileRecord, Replica, SEInfo

__all__ = ["API_VERSION", "RemoteCatalog", "RemoteTx", "find_token"]

#: The version of the server API this client speaks (the ``/api/v<N>`` prefix).
API_VERSION = 1
_PREFIX = f"/api/v{API_VERSION}"
#: Items per request of a bulk call (servers accept at least this many).
CHUNK = 10_000
#: Bulk lookups of at least this many LFNs are split into parts of :data:`_PART` to
#: :data:`CHUNK` LFNs (about :data:`_PARTS` of them), :data:`_LANES` of them in flight at
#: once on pooled connections: the server (its processes and threads) works on some
#: while this client decodes the answers that are back.
PARALLEL_MIN = 2_000
_PART = 1_000
_PARTS = 8
_LANES = 4
# HTTP status -> error kind, for error responses without a JSON body.
_STATUS_KINDS = {
    400: "InvalidArgument",
    401: "AuthenticationFailed",
    403: "InsufficientRights",
    404: "NotFound",
    409: "AlreadyExists",
    413: "InvalidArgument",
    503: "CatalogUnavailable",
    504: "CatalogUnavailable",
}


def find_token(env: dict[str, str] | None = None) -> str | None:
    """A bearer token by WLCG bearer token discovery, or None.

    Order: ``$BEARER_TOKEN``, the file ``$BEARER_TOKEN_FILE``,
    ``$XDG_RUNTIME_DIR/bt_u<uid>``, ``/tmp/bt_u<uid>``.

    Raises:
        ConfigError: ``$BEARER_TOKEN_FILE`` names a file that cannot be read.
    """
    env = dict(os.environ) if env is None else env
    if env.get("BEARER_TOKEN", "").strip():
        return env["BEARER_TOKEN"].strip()
    if env.get("BEARER_TOKEN_FILE"):
        try:
            return Path(env["BEARER_TOKEN_FILE"]).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read $BEARER_TOKEN_FILE: {exc.strerror}") from None
    name = f"bt_u{os.getuid()}"
    for base in (env.get("XDG_RUNTIME_DIR"), "/tmp"):
        if base and (Path(base) / name).is_file():
            try:
                return (Path(base) / name).read_text(encoding="utf-8").strip() or None
            except OSError:
                continue
    return None


def _check_expiry(proxy: Path) -> None:
    """Refuse an expired proxy here, with a message saying so (the server would too).

    Raises:
        AuthenticationFailed: the proxy (or a certificate of its chain) has expired.
        ConfigError: the file is not a proxy.
    """
    from datetime import UTC, datetime

    from dfc.auth.proxy import load_proxy

    chain = load_proxy(proxy).chain
    expiry = min(c.not_valid_after_utc for c in chain)
    if expiry <= datetime.now(UTC):
        raise AuthenticationFailed(
            f"your proxy {proxy} expired at {expiry:%Y-%m-%d %H:%M:%S} UTC: run `dfc proxy init`"
        )


def _raise_for(status: int, body: bytes, url: str) -> DFCError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return _wire.error_from(data["error"], data.get("message", ""), data.get("errno"))
    kind = _STATUS_KINDS.get(status, "CatalogError")
    return _wire.error_from(kind, f"catalogue server {url} answered HTTP {status}")


class _Connections:
    """A small thread-safe pool of HTTPS connections to one server."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        self._host, self._port = host, port
        self._context, self._timeout = context, timeout
        self._idle: list[http.client.HTTPSConnection] = []
        self._lock = threading.Lock()

    def get(self) -> tuple[http.client.HTTPSConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        conn = http.client.HTTPSConnection(
            self._host, self._port, context=self._context, timeout=self._timeout
        )
        return conn, False

    def put(self, conn: http.client.HTTPSConnection) -> None:
        with self._lock:
            if len(self._idle) < 32:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class RemoteCatalog(Catalog):
    """A catalogue reached through a catalogue server.

    A :class:`~dfc.catalog.Catalog` to the API, but without a database: it does not
    initialise its base, and everything the server does not offer (``engine``,
    ``upgrade``) refuses.

    Args:
        url: ``https://host[:port]``.
        proxy: the proxy file (default: ``$X509_USER_PROXY`` or ``/tmp/x509up_u<uid>``).
        ca_dir: the CA directory (default: ``$X509_CERT_DIR`` or the grid default).
        token: a bearer token to send instead of the proxy (default: discovered).
        timeout: seconds to wait for the server.

    Raises:
        ConfigError: the URL is not ``https://host[:port]``.
    """

    def __init__(
        self,
        url: str,
        *,
        proxy: Path | None = None,
        ca_dir: Path | None = None,
        token: str | None = None,
        timeout: float = 300.0,
    ) -> None:
        # No super().__init__(): there is no database here.
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.path.strip("/"):
            raise ConfigError(f"invalid catalogue server URL {url!r}: expected https://host:port")
        try:
            port = parts.port or 443
        except ValueError:
            raise ConfigError(f"invalid port in catalogue server URL {url!r}") from None
        self._host, self._port = parts.hostname, port
        self._server = f"https://{parts.netloc}"
        self._proxy, self._ca_dir, self._token = proxy, ca_dir, token
        self._timeout = timeout
        self._pool: _Connections | None = None
        self._ca_dir_used: Path | None = None
        self._headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._lanes: ThreadPoolExecutor | None = None

    @property
    def url(self) -> str:
        """The server URL."""
        return self._server

    def _connections(self) -> _Connections:
        with self._lock:
            if self._pool is None:
                self._pool = self._make_pool()
            return self._pool

    def _make_pool(self) -> _Connections:
        from dfc.auth import locations
        from dfc.auth.tls import client_context

        token = self._token if self._token is not None else find_token()
        ca_dir = self._ca_dir_used = self._ca_dir or locations.ca_dir()
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
            context = client_context(ca_dir=ca_dir)
        else:
            proxy = self._proxy or locations.proxy_path()
            if not proxy.is_file():
                raise AuthenticationFailed(
                    f"no grid proxy at {proxy}: run `dfc proxy init` (or set $X509_USER_PROXY)"
                )
            _check_expiry(proxy)
            context = client_context(ca_dir=ca_dir, proxy=proxy)
        return _Connections(self._host, self._port, context, self._timeout)

    # ------------------------------------------------------------------ HTTP
    def _send(self, method: str, path: str, body: bytes | None) -> http.client.HTTPResponse:
        pool = self._connections()
        headers = {**self._headers, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn, reused = pool.get()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                raise AuthenticationFailed(
                    f"the catalogue server {self._server} is not trusted: {exc.verify_message}"
                ) from None
            except (
                ssl.SSLError,
                http.client.RemoteDisconnected,
                ConnectionResetError,
                BrokenPipeError,
            ) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: try a fresh one
                raise self._diagnose(exc) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                why = "timed out" if isinstance(exc, socket.timeout) else str(exc)
                raise CatalogUnavailable(
                    f"cannot reach the catalogue server {self._server}: {why}"
                ) from None
            response.dfc_conn = conn  # type: ignore[attr-defined]
            return response
        raise CatalogUnavailable(
            f"cannot reach the catalogue server {self._server}"
        )  # pragma: no cover

    def _diagnose(self, exc: BaseException) -> DFCError:
        """Why a fresh connection failed: the credential refused in TLS, or the server."""
        from dfc.auth.tls import client_context

        ca_dir = self._ca_dir_used
        assert ca_dir is not None
        probe = http.client.HTTPSConnection(
            self._host,
            self._port,
            context=client_context(ca_dir=ca_dir),
            timeout=min(self._timeout, 30.0),
        )
        try:
            probe.request("GET", f"{_PREFIX}/health")
            up = probe.getresponse().status < 500
        except (OSError, http.client.HTTPException):
            up = False
        finally:
            probe.close()
        if up:  # the server answers others: it refused this credential
            return AuthenticationFailed(
                f"the catalogue server {self._server} refused the credential in the TLS "
                f"handshake (expired, revoked or not from a trusted CA?): {exc}"
            )
        return CatalogUnavailable(f"the catalogue server {self._server} failed: {exc}")

    def _done(self, response: http.client.HTTPResponse) -> None:
        conn = response.dfc_conn  # type: ignore[attr-defined]
        if response.will_close or not response.isclosed():
            conn.close()
        else:
            self._connections().put(conn)

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        try:
            return response.read()
        except (OSError, http.client.HTTPException) as exc:
            response.dfc_conn.close()  # type: ignore[attr-defined]
            raise CatalogUnavailable(f"the catalogue server {self._server} failed: {exc}") from None

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """Send one request and return the body of a successful response.

        Raises:
            CatalogUnavailable: the server cannot be reached.
            AuthenticationFailed: the server refused the credential.
            DFCError: the error the server reported.
        """
        response = self._send(method, path, body)
        data = self._read(response)
        self._done(response)
        if response.status >= 400:
            raise _raise_for(response.status, data, self._server)
        return data

    def call(self, op: str, **args: Any) -> Any:
        """Run a catalogue operation on the server and return its result.

        Raises:
            DFCError: whatever the operation raised on the server (or a transport error).
        """
        data = self.request("POST", f"{_PREFIX}/catalog/{op}", _wire.dumps({"args": args}))
        reply = _wire.loads(data)
        if not isinstance(reply, dict) or "result" not in reply:
            raise CatalogError(f"malformed reply from the catalogue server {self._server}")
        return reply["result"]

    def call_many(self, op: str, key: str, parts: Sequence[list[Any]], **args: Any) -> list[Any]:
        """Run one read-only operation per part of a bulk argument, the parts at once.

        Returns:
            The results, in the order of ``parts``.

        Raises:
            DFCError: the first error a part raised.
        """
        with self._lock:
            if self._lanes is None:
                self._lanes = ThreadPoolExecutor(_LANES, thread_name_prefix="dfc-remote")
            lanes = self._lanes
        futures = [lanes.submit(self.call, op, **{key: part}, **args) for part in parts]
        return [future.result() for future in futures]

    def stream(self, op: str, **args: Any) -> Iterator[Any]:
        """Start a streamed operation; the checks happen now, the items come as iterated.

        Raises:
            DFCError: the server refused the operation (later errors raise while iterating).
        """
        body = _wire.dumps({"args": args})
        response = self._send("POST", f"{_PREFIX}/catalog/{op}", body)
        if response.status >= 400:
            data = self._read(response)
            self._done(response)
            raise _raise_for(response.status, data, self._server)
        return self._lines(response)

    def _lines(self, response: http.client.HTTPResponse) -> Iterator[Any]:
        finished = False
        try:
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise CatalogUnavailable(
                        f"the catalogue server {self._server} failed while streaming: {exc}"
                    ) from None
                if not line:
                    raise CatalogUnavailable(f"the stream from {self._server} ended early")
                item = _wire.loads(line)
                if isinstance(item, list):
                    yield from item
                    continue
                if isinstance(item, dict) and isinstance(item.get("error"), DFCError):
                    raise item["error"]
                finished = True
                return
        finally:
            if finished:
                response.read()
                self._done(response)
            else:
                response.dfc_conn.close()  # type: ignore[attr-defined]

    def health(self) -> dict[str, Any]:
        """The server's ``/api/v1/health`` answer.

        Raises:
            CatalogUnavailable: the server is down or unhealthy.
        """
        try:
            data = json.loads(self.request("GET", f"{_PREFIX}/health"))
        except ValueError:
            raise CatalogUnavailable(f"malformed health answer from {self._server}") from None
        if not isinstance(data, dict):
            raise CatalogUnavailable(f"malformed health answer from {self._server}")
        return data

    # ------------------------------------------------------------------ Catalog surface
    @property
    def engine(self) -> Any:
        """A remote catalogue has no database engine.

        Raises:
            CatalogError: always.
        """
        raise CatalogError(
            f"{self._server} is a catalogue server: there is no database engine here"
        )

    def upgrade(self) -> None:
        """The schema of a remote catalogue is upgraded on the server.

        Raises:
            InvalidArgument: always.
        """
        raise InvalidArgument(
            f"{self._server} is a catalogue server: run `dfc init` against its database instead"
        )

    def schema_revision(self) -> str | None:
        """Always None: the server checks its schema (see :meth:`check_schema`)."""
        return None

    def check_schema(self) -> None:
        """Check that the server is up and its catalogue ready.

        Raises:
            CatalogUnavailable: the server is down or its catalogue is not ready.
        """
        data = self.health()
        if data.get("status") != "ok":
            raise CatalogUnavailable(
                f"the catalogue server {self._server} is not ready: {data.get('detail', 'unknown')}"
            )

    @property
    def sqlite_file(self) -> Path | None:
        """None: the server's database is no file here."""
        return None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True at once: the server's database does its own checkpoints."""
        return True

    @contextmanager
    def transaction(self) -> Iterator[RemoteTx]:
        """A transaction whose operations each run in a server transaction of their own."""
        yield RemoteTx(self)

    @contextmanager
    def reader(self) -> Iterator[RemoteTx]:
        """Like :meth:`transaction` (the server decides what each operation may do)."""
        yield RemoteTx(self)

    def close(self) -> None:
        """Close the pooled connections."""
        with self._lock:
            pool, self._pool = self._pool, None
            lanes, self._lanes = self._lanes, None
        if lanes is not None:
            lanes.shutdown(wait=True)
        if pool is not None:
            pool.close()

    def __repr__(self) -> str:
        return f"RemoteCatalog({self._server!r})"


def _merge(results: Sequence[BulkResult[Any]]) -> BulkResult[Any]:
    out: BulkResult[Any] = BulkResult()
    for res in results:
        out.merge(res)
    return out


class RemoteTx(RemoteMetaMixin, ApiTx):
    """Forwards every catalogue operation to the server (which authorises it).

    Deliberately does not initialise its :class:`CatalogTx` base: it has no database.
    Bulk operations are sent in chunks of :data:`CHUNK` items.
    """

    def __init__(self, catalog: RemoteCatalog) -> None:
        self._remote = catalog

    def _bulk(self, op: str, key: str, items: Sequence[Any], **args: Any) -> BulkResult[Any]:
        items = list(items)
        if len(items) <= CHUNK:
            result: BulkResult[Any] = self._remote.call(op, **{key: items}, **args)
            return result
        return _merge(
            [
                self._remote.call(op, **{key: items[i : i + CHUNK]}, **args)
                for i in range(0, len(items), CHUNK)
            ]
        )

    # ------------------------------------------------------------------ namespace
    def mkdir(
        self,
        paths: Sequence[str],
        *,
        parents: bool,
        owner: str,
        group: str,
        mode: int = 0o775,
    ) -> BulkResult[None]:
        """Create directories (owned by the caller's server identity)."""
        return self._bulk("mkdir", "paths", paths, parents=parents, owner=owner, group=group,
                          mode=mode)  # fmt: skip

    def rmdir(self, paths: Sequence[str]) -> BulkResult[None]:
        """Remove empty directories."""
        return self._bulk("rmdir", "paths", paths)

    def _lookup(self, op: str, lfns: Sequence[str]) -> BulkResult[Any]:
        """A read-only bulk lookup: large ones in parallel parts (see :data:`PARALLEL_MIN`).

        Each part is a server transaction of its own, as each chunk of a larger call is.
        """
        items = list(lfns)
        if len(items) < PARALLEL_MIN:
            return self._bulk(op, "lfns", items)
        size = min(CHUNK, max(_PART, -(-len(items) // _PARTS)))
        parts = [items[i : i + size] for i in range(0, len(items), size)]
        return _merge(self._remote.call_many(op, "lfns", parts))

    def stat(self, lfns: Sequence[str], *, with_replicas: bool = True) -> BulkResult[Entry]:
        """The entries of LFNs (files always come with their replicas over the wire)."""
        return self._lookup("stat", lfns)

    def lookup(self, lfn: str) -> Entry:
        """The entry of one LFN."""
        entry: Entry = self._remote.call("lookup", lfn=lfn)
        return entry

    def list_dir(self, path: str, *, with_replicas: bool = False) -> Iterator[Entry]:
        """Stream a directory."""
        return self._remote.stream("list_dir", path=path, with_replicas=with_replicas)

    def walk(self, path: str, *, files_only: bool = False) -> Iterator[Entry]:
        """Stream everything below a directory."""
        return self._remote.stream("walk", path=path, files_only=files_only)

    def find_guid(self, guid: str) -> Entry:
        """The file with a GUID."""
        entry: Entry = self._remote.call("find_guid", guid=guid)
        return entry

    def move(self, src: str, dst: str) -> None:
        """Rename a file or directory."""
        self._remote.call("move", src=src, dst=dst)

    # ------------------------------------------------------------------ files and replicas
    def add_files(
        self,
        records: Sequence[FileRecord],
        *,
        owner: str,
        group: str,
        overwrite: bool = False,
    ) -> BulkResult[None]:
        """Register files."""
        return self._bulk("add_files", "records", records, owner=owner, group=group,
                          overwrite=overwrite)  # fmt: skip

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[None]:
        """Unregister files."""
        return self._bulk("remove_files", "lfns", lfns)

    def add_replicas(self, items: Sequence[tuple[str, Replica]]) -> BulkResult[None]:
        """Register replicas."""
        return self._bulk("add_replicas", "items", items)

    def remove_replicas(self, items: Sequence[tuple[str, str]]) -> BulkResult[None]:
        """Unregister replicas."""
        return self._bulk("remove_replicas", "items", items)

    def set_replica_status(self, items: Sequence[tuple[str, str, str]]) -> BulkResult[None]:
        """Set replica statuses."""
        return self._bulk("set_replica_status", "items", items)

    def replicas(self, lfns: Sequence[str]) -> BulkResult[list[Replica]]:
        """The replicas of files."""
        return self._lookup("replicas", lfns)

    # ------------------------------------------------------------------ consistency
    def replicas_at(
        self, se: str, path: str, *, after: int = 0, limit: int = 1000
    ) -> list[ReplicaRecord]:
        """Replicas at an SE below a directory."""
        records: list[ReplicaRecord] = self._remote.call(
            "replicas_at", se=se, path=path, after=after, limit=limit
        )
        return records

    def paths_in_use(self, se: str, paths: Sequence[str]) -> set[str]:
        """Which SE paths replicas point at."""
        out: set[str] = set()
        items = list(paths)
        for i in range(0, len(items), CHUNK):
            out.update(self._remote.call("paths_in_use", se=se, paths=items[i : i + CHUNK]))
        return out

    # ------------------------------------------------------------------ storage elements
    def add_se(self, se: SEInfo) -> SEInfo:
        """Register an SE."""
        info: SEInfo = self._remote.call("add_se", se=se)
        return info

    def get_se(self, name: str) -> SEInfo:
        """One SE."""
        info: SEInfo = self._remote.call("get_se", name=name)
        return info

    def list_ses(self) -> list[SEInfo]:
        """Every SE."""
        infos: list[SEInfo] = self._remote.call("list_ses")
        return infos

    def update_se(
        self,
        name: str,
        *,
        url: str | None = None,
        site: str | None = None,
        read: bool | None = None,
        write: bool | None = None,
    ) -> SEInfo:
        """Change an SE."""
        info: SEInfo = self._remote.call(
            "update_se", name=name, url=url, site=site, read=read, write=write
        )
        return info

    def se_replica_count(self, name: str) -> int:
        """How many replicas an SE holds."""
        count: int = self._remote.call("se_replica_count", name=name)
        return count

    def remove_se(self, name: str) -> None:
        """Unregister an SE."""
        self._remote.call("remove_se", name=name)

    # ------------------------------------------------------------------ access control
    def whoami(self) -> WhoAmI:
        """How the server sees the caller."""
        who: WhoAmI = self._remote.call("whoami")
        return who

    def access(self, lfns: Sequence[str], what: Access) -> BulkResult[None]:
        """Whether the caller may read, create, write or remove each LFN."""
        return self._bulk("access", "lfns", lfns, what=what)

    def chmod(
        self, paths: Sequence[str], mode: int, *, recursive: bool = False
    ) -> BulkResult[None]:
        """Set the mode of entries."""
        return self._bulk("chmod", "paths", paths, mode=mode, recursive=recursive)

    def chown(
        self,
        paths: Sequence[str],
        *,
        owner: str | None = None,
        group: str | None = None,
        recursive: bool = False,
    ) -> BulkResult[None]:
        """Set the owner and/or group of entries."""
        return self._bulk("chown", "paths", paths, owner=owner, group=group, recursive=recursive)

    def add_user(
        self,
        name: str,
        *,
        dns: Sequence[str] = (),
        account: str | None = None,
        group: str | None = None,
        properties: Sequence[str] | None = None,
    ) -> UserInfo:
        """Register or update a user."""
        props = list(properties) if properties is not None else None
        user: UserInfo = self._remote.call(
            "add_user", name=name, dns=list(dns), account=account, group=group, properties=props
        )
        return user

    def remove_user_dn(self, name: str, dn: str) -> UserInfo:
        """Unmap a DN from a user."""
        user: UserInfo = self._remote.call("remove_user_dn", name=name, dn=dn)
        return user

    def list_users(self) -> list[UserInfo]:
        """Every registered user."""
        users: list[UserInfo] = self._remote.call("list_users")
        return users

    def remove_user(self, name: str) -> None:
        """Unregister a user."""
        self._remote.call("remove_user", name=name)

    def add_group(self, name: str, *, properties: Sequence[str] | None = None) -> GroupInfo:
        """Create or change a group."""
        props = list(properties) if properties is not None else None
        group: GroupInfo = self._remote.call("add_group", name=name, properties=props)
        return group

    def list_groups(self) -> list[GroupInfo]:
        """Every group."""
        groups: list[GroupInfo] = self._remote.call("list_groups")
        return groups

    def remove_group(self, name: str) -> None:
        """Delete a group."""
        self._remote.call("remove_group", name=name)

    def add_member(self, group: str, user: str) -> GroupInfo:
        """Add a user to a group."""
        info: GroupInfo = self._remote.call("add_member", group=group, user=user)
        return info

    def remove_member(self, group: str, user: str) -> GroupInfo:
        """Remove a user from a group."""
        info: GroupInfo = self._remote.call("remove_member", group=group, user=user)
        return info

    def map_fqan(self, fqan: str, group: str, *, account: str | None = None) -> FqanRule:
        """Map holders of an FQAN to a group."""
        rule: FqanRule = self._remote.call("map_fqan", fqan=fqan, group=group, account=account)
        return rule

    def unmap_fqan(self, fqan: str) -> None:
        """Delete an FQAN rule."""
        self._remote.call("unmap_fqan", fqan=fqan)

    def list_fqan_rules(self) -> list[FqanRule]:
        """Every FQAN rule."""
        rules: list[FqanRule] = self._remote.call("list_fqan_rules")
        return rules

    def import_gridmap(self, text: str) -> GridmapImport:
        """Import a grid-mapfile."""
        result: GridmapImport = self._remote.call("import_gridmap", text=text)
        return result
