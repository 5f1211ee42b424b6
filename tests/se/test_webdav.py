"""davs:// / https:// / http:// storage elements against real WebDAV servers.

The conformance and outage suites run against nginx with its DAV modules. Statuses
nginx (running as root) never sends, and grid TLS (an X509 proxy and a CA
directory), are checked against small real aiohttp servers started here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import uuid

import pytest
from aiohttp import web

from dfc.errors import (
    AlreadyExists,
    ConfigError,
    DFCError,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    NotADirectory,
    OptionalDependencyMissing,
    PermissionDenied,
    PFNNotFound,
    SETimeout,
    SEUnavailable,
)
from dfc.models import SEInfo
from dfc.se import StorageElement, SupportsChecksum, SupportsCopy, open_se
from dfc.se._http import grid_ssl_context, x509_settings
from dfc.se.testing import SEConformance, SEOutageConformance, read_all, stream
from dfc.se.webdav import WebDAVSE
from tests.servers._proc import free_port
from tests.servers.webdav import launch_webdav

pytestmark = pytest.mark.webdav

MiB = 1024 * 1024


class ServerOutage:
    """Stops and restarts a test server without blocking the event loop."""

    def __init__(self, server) -> None:
        self.server = server

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)


@pytest.fixture(scope="module")
def dav_server():
    """A private nginx for this module: its outage tests stop and restart it."""
    server = launch_webdav()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def dav_se(dav_server):
    base = f"dfc-test-{uuid.uuid4().hex[:12]}"
    se = WebDAVSE("DAV", f"{dav_server.url}{base}", chunk_size=256 * 1024)
    await se.mkdir("/")
    yield se
    await se.close()
    shutil.rmtree(dav_server.data_dir / base, ignore_errors=True)


class TestWebDAVSE(SEConformance, SEOutageConformance):
    @pytest.fixture
    async def se(self, dav_se):
        return dav_se

    @pytest.fixture
    def outage(self, dav_server):
        return ServerOutage(dav_server)


class TestWebDAVSEDefaults(SEConformance):
    """The production settings, opened through the registry."""

    @pytest.fixture
    async def se(self, dav_server):
        base = f"dfc-def-{uuid.uuid4().hex[:12]}"
        se = open_se(SEInfo("DAV", f"{dav_server.url}{base}/"))
        await se.mkdir("/")
        yield se
        await se.close()
        shutil.rmtree(dav_server.data_dir / base, ignore_errors=True)


# ---------------------------------------------------------------- URLs and options


def test_davs_means_https():
    se = WebDAVSE("D", "davs://storm.example.org:8443/webdav/juno/")
    assert se.url == "davs://storm.example.org:8443/webdav/juno"
    assert se.pfn("/a b/ü.root") == "davs://storm.example.org:8443/webdav/juno/a b/ü.root"
    assert se._http_url("/a b/#1") == "https://storm.example.org:8443/webdav/juno/a%20b/%231"
    assert WebDAVSE("H", "http://h:81").pfn("/f") == "http://h:81/f"


@pytest.mark.parametrize(
    "url",
    ["ftp://h/x", "davs:///x", "https://user:pw@h/x", "https://h/x?token=abc", "https://h/x#f"],
)
def test_bad_urls(url):
    with pytest.raises(InvalidArgument) as err:
        WebDAVSE("D", url)
    assert "pw" not in str(err.value)
    assert "abc" not in str(err.value)


def test_options():
    info = SEInfo("D", "davs://h/x")
    se = WebDAVSE.from_info(
        info, {"chunk_size": 1024, "timeout": 2.5, "token": "t", "verify": False}
    )
    assert (se.chunk_size, se.timeout) == (1024, 2.5)
    for bad in ({"timeout": True}, {"chunk_size": 0}, {"verify": "no"}, {"password": "x"}):
        with pytest.raises(ConfigError):
            WebDAVSE.from_info(info, bad)


def test_capabilities():
    se = WebDAVSE("D", "davs://h/x")
    assert isinstance(se, StorageElement)
    assert isinstance(se, SupportsCopy)
    assert not isinstance(se, SupportsChecksum)


# ---------------------------------------------------------------- against nginx


async def test_server_side_copy(dav_se):
    await dav_se.put(stream(b"copy me"), "/c/src", size=7)
    await dav_se.copy("/c/src", "/c/deeper/dst")
    assert await read_all(dav_se, "/c/deeper/dst") == b"copy me"
    assert await read_all(dav_se, "/c/src") == b"copy me"
    with pytest.raises(PFNNotFound):
        await dav_se.copy("/c/missing", "/c/x")
    with pytest.raises(IsADirectory):
        await dav_se.copy("/c/deeper", "/c/y")


async def test_errors(dav_se):
    await dav_se.put(stream(b"f"), "/e/file", size=1)
    with pytest.raises(PFNNotFound, match="missing"):
        await read_all(dav_se, "/no/parent/missing")
    with pytest.raises(IsADirectory):
        await dav_se.rm("/e")
    assert (await dav_se.stat("/e/file")).size == 1  # DELETE would have been recursive
    with pytest.raises(NotADirectory):
        await dav_se.rmdir("/e/file")
    with pytest.raises(AlreadyExists):
        await dav_se.mkdir("/e/file")


async def test_mkdir_root_creates_the_base_path(dav_server):
    top = f"dfc-deep-{uuid.uuid4().hex[:8]}"
    se = WebDAVSE("DEEP", f"{dav_server.url}{top}/a b/c")
    try:
        with pytest.raises(PFNNotFound):
            await se.ls("/")
        await se.mkdir("/")
        assert (await se.stat("/")).type == "directory"
        assert await se.ls("/") == []
        assert (dav_server.data_dir / top / "a b" / "c").is_dir()
    finally:
        await se.close()
        shutil.rmtree(dav_server.data_dir / top, ignore_errors=True)


async def test_no_temporary_file_visible_after_put(dav_server, dav_se):
    data = os.urandom(3 * MiB)
    await dav_se.put(stream(data, MiB), "/t/f.bin")
    on_disk = sorted(
        p.name for p in (dav_server.data_dir / dav_se.base.lstrip("/") / "t").iterdir()
    )
    assert on_disk == ["f.bin"]
    assert (await dav_se.stat("/t/f.bin")).size == len(data)


async def test_server_stops_mid_put(dav_server, dav_se):
    """A server dying mid-upload is a retryable error; after a restart puts work again."""
    outage = ServerOutage(dav_server)

    async def dying_stream():
        for i in range(6):
            if i == 3:
                await outage.stop()
            yield os.urandom(MiB)

    try:
        with pytest.raises(DFCError) as err:
            await dav_se.put(dying_stream(), "/mid/put.bin", size=6 * MiB)
        assert err.value.retryable, repr(err.value)
    finally:
        await outage.start()
    with pytest.raises(PFNNotFound):
        await dav_se.stat("/mid/put.bin")
    data = os.urandom(2 * MiB)
    await dav_se.put(stream(data, MiB), "/mid/put.bin", size=len(data))
    assert await read_all(dav_se, "/mid/put.bin") == data


async def test_unreachable_server_is_unavailable():
    se = WebDAVSE("GONE", f"http://127.0.0.1:{free_port()}/x")
    try:
        with pytest.raises(SEUnavailable) as err:
            await se.stat("/f")
        assert err.value.retryable
    finally:
        await se.close()


# ---------------------------------------------------------------- statuses nginx never sends


@pytest.fixture
async def status_server():
    """Answers every request to /<status>/... with that HTTP status (and a token check)."""
    seen: list[str] = []
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        status = int(request.match_info["status"])
        if status == 599:  # stall until the test ends: the client's timeout must fire
            await release.wait()
        return web.Response(status=status, text="nope")

    app = web.Application()
    app.router.add_route("*", "/{status:[0-9]+}/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        release.set()
        await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, PermissionDenied),
        (403, PermissionDenied),
        (404, PFNNotFound),
        (500, SEUnavailable),
        (503, SEUnavailable),
        (507, NoSpace),
    ],
)
async def test_http_statuses(status_server, status, expected):
    base, seen = status_server
    se = WebDAVSE("ST", f"{base}/{status}", token="s3cr3t-token")
    try:
        with pytest.raises(expected) as err:
            await se.put(stream(b"data"), "/d/f", size=4)
        assert f"HTTP {status}" in str(err.value)
        assert "s3cr3t" not in str(err.value)
        assert seen[-1] == "Bearer s3cr3t-token"
    finally:
        await se.close()


async def test_timeout_is_retryable(status_server):
    base, _ = status_server
    se = WebDAVSE("SLOW", f"{base}/599", timeout=0.5)
    try:
        with pytest.raises(SETimeout) as err:
            await se.stat("/f")
        assert err.value.retryable
    finally:
        await se.close()


# ---------------------------------------------------------------- grid TLS


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def grid_pki(tmp_path_factory):
    """A CA directory (hashed, as in /etc/grid-security/certificates), a host cert and a proxy."""
    tmp_path = tmp_path_factory.mktemp("pki")
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found (Debian package openssl)")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/DC=org/DC=dfc/CN=dfc test CA",
        "-days",
        "1",
        cwd=tmp_path,
    )
    for name, subject, ext in (
        ("host", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
        ("user", "/DC=org/DC=dfc/CN=Alice", "keyUsage=digitalSignature"),
    ):
        (tmp_path / f"{name}.ext").write_text(ext + "\n")
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            subject,
            cwd=tmp_path,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
            cwd=tmp_path,
        )
    certs = tmp_path / "certificates"
    certs.mkdir()
    shutil.copy(tmp_path / "ca.pem", certs / "dfc-test-ca.pem")
    _openssl("rehash", str(certs), cwd=tmp_path)
    proxy = tmp_path / "x509up"
    proxy.write_text((tmp_path / "user.pem").read_text() + (tmp_path / "user.key").read_text())
    proxy.chmod(0o600)
    return tmp_path


MULTISTATUS = """<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>/grid/f</D:href><D:propstat><D:prop>
<D:getcontentlength>3</D:getcontentlength><D:resourcetype/></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"""


@pytest.fixture
async def mtls_server(grid_pki):
    """An HTTPS server that requires a client certificate issued by the test CA."""
    subjects: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        cert = request.transport.get_extra_info("peercert")
        subjects.append(str(cert["subject"]))
        return web.Response(status=207, text=MULTISTATUS, content_type="application/xml")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=grid_pki / "ca.pem")
    context.load_cert_chain(grid_pki / "host.pem", grid_pki / "host.key")
    context.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_route("PROPFIND", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield port, subjects
    finally:
        await runner.cleanup()


async def test_x509_proxy_and_cert_dir_from_the_environment(grid_pki, mtls_server, monkeypatch):
    port, subjects = mtls_server
    monkeypatch.setenv("X509_USER_PROXY", str(grid_pki / "x509up"))
    monkeypatch.setenv("X509_CERT_DIR", str(grid_pki / "certificates"))
    se = open_se(SEInfo("GRID", f"davs://127.0.0.1:{port}/grid"))
    try:
        assert (await se.stat("/f")).size == 3
    finally:
        await se.close()
    assert "Alice" in subjects[0]


async def test_x509_options_override_the_environment(grid_pki, mtls_server, monkeypatch):
    port, _ = mtls_server
    monkeypatch.setenv("X509_USER_PROXY", str(grid_pki / "does-not-exist"))
    monkeypatch.setenv("X509_CERT_DIR", "/nonexistent")
    options = {
        "x509_user_proxy": str(grid_pki / "x509up"),
        "x509_cert_dir": str(grid_pki / "certificates"),
    }
    se = open_se(SEInfo("GRID", f"davs://127.0.0.1:{port}/grid"), options)
    try:
        assert (await se.stat("/f")).size == 3
    finally:
        await se.close()


async def test_without_a_proxy_the_server_refuses(grid_pki, mtls_server, monkeypatch):
    port, _ = mtls_server
    monkeypatch.delenv("X509_USER_PROXY", raising=False)
    monkeypatch.setenv("X509_CERT_DIR", str(grid_pki / "certificates"))
    se = WebDAVSE("GRID", f"davs://127.0.0.1:{port}/grid")
    try:
        with pytest.raises(DFCError):
            await se.stat("/f")
    finally:
        await se.close()


async def test_untrusted_server_is_refused(grid_pki, mtls_server, tmp_path):
    port, _ = mtls_server
    empty = tmp_path / "no-cas"
    empty.mkdir()
    options = {"x509_user_proxy": str(grid_pki / "x509up"), "x509_cert_dir": str(empty)}
    se = open_se(SEInfo("GRID", f"davs://127.0.0.1:{port}/grid"), options)
    try:
        with pytest.raises(PermissionDenied, match="certificate") as err:
            await se.stat("/f")
        assert not err.value.retryable
    finally:
        await se.close()


def test_x509_settings_precedence(tmp_path):
    env = {"X509_USER_PROXY": "/env/proxy", "X509_CERT_DIR": "/env/certs"}
    assert x509_settings({}, env) == ("/env/proxy", "/env/certs")
    opts = {"x509_user_proxy": "/opt/proxy", "x509_cert_dir": "/opt/certs"}
    assert x509_settings(opts, env) == ("/opt/proxy", "/opt/certs")


def test_bad_proxy_is_a_config_error(tmp_path):
    bad = tmp_path / "proxy"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="proxy"):
        grid_ssl_context(str(bad), None)
    with pytest.raises(ConfigError, match="X509_CERT_DIR"):
        grid_ssl_context(None, str(tmp_path / "missing"))


def test_missing_extra_names_the_pip_command(monkeypatch):
    for name in list(sys.modules):
        if name == "webdav4" or name.startswith("webdav4.") or name == "dfc.se.webdav":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "webdav4", None)
    for url in ("davs://h/d", "https://h/d", "http://h/d"):
        with pytest.raises(OptionalDependencyMissing, match=r"pip install 'dfc\[webdav\]'"):
            open_se(SEInfo("D", url))
