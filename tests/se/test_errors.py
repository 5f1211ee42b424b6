"""The translation boundary, fed the exceptions fsspec/aiohttp/the OS really raise.

Most paths are also exercised end to end by the conformance suites; this file
covers the classes no local backend can provoke (network errors, HTTP statuses).
"""

from __future__ import annotations

import asyncio
import errno
import os

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fsspec.exceptions import FSTimeoutError

from dfc import errors as E
from dfc.se._errors import redact, translate_errors, translate_exception

PFN = "root://eos.example.org//eos/juno/f.root"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOENT, E.PFNNotFound),
        (errno.EACCES, E.PermissionDenied),
        (errno.EPERM, E.PermissionDenied),
        (errno.EROFS, E.PermissionDenied),
        (errno.EEXIST, E.AlreadyExists),
        (errno.ENOSPC, E.NoSpace),
        (errno.EDQUOT, E.NoSpace),
        (errno.ENOTEMPTY, E.DirectoryNotEmpty),
        (errno.EISDIR, E.IsADirectory),
        (errno.ENOTDIR, E.NotADirectory),
        (errno.ETIMEDOUT, E.SETimeout),
        (errno.ECONNREFUSED, E.SEUnavailable),
        (errno.ECONNRESET, E.SEUnavailable),
        (errno.EHOSTUNREACH, E.SEUnavailable),
        (errno.EIO, E.StorageError),
    ],
)
def test_oserror_by_errno(code, expected):
    exc = OSError(code, os.strerror(code), "/local/secret/path")
    mapped = translate_exception(exc, PFN, "get")
    assert type(mapped) is expected
    assert str(mapped) == f"get {PFN}: {os.strerror(code)}"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileNotFoundError("/bucket/key"), E.PFNNotFound),
        (FileExistsError("/bucket/key"), E.AlreadyExists),
        (PermissionError("Forbidden"), E.PermissionDenied),
        (IsADirectoryError(), E.IsADirectory),
        (ConnectionRefusedError(), E.SEUnavailable),
        (ConnectionResetError("peer reset"), E.SEUnavailable),
        (TimeoutError(), E.SETimeout),
        (FSTimeoutError(), E.SETimeout),
        (ValueError("weird server answer"), E.StorageError),
    ],
)
def test_by_class(exc, expected):
    mapped = translate_exception(exc, PFN)
    assert type(mapped) is expected
    assert str(mapped).startswith(PFN + ": ")


def test_bare_path_message_is_replaced_by_a_reason():
    mapped = translate_exception(FileNotFoundError("/bucket/key"), PFN, "stat")
    assert str(mapped) == f"stat {PFN}: No such file or directory"


@pytest.fixture
async def http_server():
    """A real HTTP server on 127.0.0.1 answering /status/<code> with that status."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="Because")

    app = web.Application()
    app.router.add_get("/status/{code}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (401, E.PermissionDenied, False),
        (403, E.PermissionDenied, False),
        (404, E.PFNNotFound, False),
        (409, E.AlreadyExists, False),
        (500, E.SEUnavailable, True),
        (503, E.SEUnavailable, True),
        (504, E.SETimeout, True),
        (507, E.NoSpace, False),
        (418, E.StorageError, False),
    ],
)
async def test_aiohttp_status(http_server, status, expected, retryable):
    url = str(http_server.make_url(f"/status/{status}"))
    with pytest.raises(expected) as err:
        async with (
            aiohttp.ClientSession(raise_for_status=True) as session,
            translate_errors(url, "get"),
        ):
            await session.get(url)
    assert type(err.value) is expected
    assert err.value.retryable is retryable
    assert str(err.value).startswith(f"get {url}: ")


async def test_aiohttp_connection_refused(unused_tcp_port):
    url = f"http://127.0.0.1:{unused_tcp_port}/f"
    with pytest.raises(E.SEUnavailable) as err:
        async with aiohttp.ClientSession() as session, translate_errors(url, "get"):
            await session.get(url)
    assert err.value.retryable
    assert "\n" not in str(err.value)


async def test_aiohttp_server_disconnects(unused_tcp_port):
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", unused_tcp_port)
    url = f"http://127.0.0.1:{unused_tcp_port}/f"
    try:
        with pytest.raises(E.SEUnavailable):
            async with aiohttp.ClientSession() as session, translate_errors(url, "get"):
                await session.get(url)
    finally:
        server.close()
        await server.wait_closed()


def test_aiohttp_other_errors():
    for exc, expected in [
        (aiohttp.ServerTimeoutError("read timeout"), E.SETimeout),
        (aiohttp.ClientPayloadError("truncated"), E.SEUnavailable),
    ]:
        mapped = translate_exception(exc, PFN)
        assert type(mapped) is expected
        assert mapped.retryable


@pytest.mark.parametrize(
    "exc",
    [TypeError("bug"), AttributeError("bug"), E.LFNNotFound("already ours"), KeyboardInterrupt()],
)
def test_passthrough(exc):
    assert translate_exception(exc, PFN) is None
    with pytest.raises(type(exc)), translate_errors(PFN, "op"):
        raise exc


async def test_async_usage_and_chaining():
    original = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(E.NoSpace) as err:
        async with translate_errors(PFN, "put"):
            raise original
    assert err.value.__cause__ is original
    assert err.value.errno == errno.ENOSPC


async def test_cancellation_is_not_translated():
    with pytest.raises(asyncio.CancelledError):
        async with translate_errors(PFN, "put"):
            raise asyncio.CancelledError


def test_credentials_never_in_messages():
    exc = ValueError(
        "GET https://alice:s3cr3t@host/p?X-Amz-Signature=abc123&x=1&authz=tok3n\nfailed"
    )
    mapped = translate_exception(exc, "davs://bob:hunter2@host/f?access_token=zzz", "get")
    text = str(mapped)
    for secret in ("s3cr3t", "abc123", "tok3n", "hunter2", "zzz"):
        assert secret not in text
    assert "\n" not in text
    assert "x=1" in text


def test_redact_authorization_header():
    assert redact("Authorization: Bearer eyJabc.def") == "Authorization: Bearer ***"
