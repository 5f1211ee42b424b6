"""s3:// storage elements against a real S3 server (SeaweedFS ``weed mini``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import sys
import uuid

import botocore.auth
import botocore.exceptions
import pytest

from dfc.errors import (
    AlreadyExists,
    ConfigError,
    DFCError,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    OptionalDependencyMissing,
    PermissionDenied,
    PFNNotFound,
    SETimeout,
    SEUnavailable,
    StorageError,
)
from dfc.models import SEInfo
from dfc.se import StorageElement, SupportsChecksum, SupportsCopy, open_se
from dfc.se._errors import S3Failure, translate_exception
from dfc.se._s3http import S3Client, content_range_total
from dfc.se.s3 import S3SE, parse_s3_url
from dfc.se.testing import SEConformance, SEOutageConformance, read_all, stream
from tests.servers._proc import free_port
from tests.servers.s3 import launch_s3

pytestmark = pytest.mark.s3

MiB = 1024 * 1024
BUCKET = "dfc-test"


class ServerOutage:
    """Stops and restarts a test server without blocking the event loop."""

    def __init__(self, server) -> None:
        self.server = server

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)


@pytest.fixture(scope="module")
def s3(request):
    """A private SeaweedFS for this module: its outage tests stop and restart it."""
    server = launch_s3()
    try:
        server.make_bucket(BUCKET)
        yield server
    finally:
        server.close()


def options(server) -> dict[str, str]:
    return {
        "key": server.access_key,
        "secret": server.secret_key,
        "endpoint_url": server.endpoint_url,
    }


@pytest.fixture
def clean_env(monkeypatch):
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
async def s3_se(s3, clean_env):
    # One attempt per request: the outage tests need not wait for botocore's backoff.
    se = S3SE("S3", f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}", {**options(s3), "retries": 1})
    await se.mkdir("/")
    yield se
    await se.close()


class TestS3SE(SEConformance, SEOutageConformance):
    has_directories = False

    @pytest.fixture
    async def se(self, s3_se):
        return s3_se

    @pytest.fixture
    def outage(self, s3):
        return ServerOutage(s3)


class TestS3SEThroughS3fs(SEConformance):
    """The same behaviour without dfc's lean client (no endpoint or credentials given)."""

    has_directories = False

    @pytest.fixture
    async def se(self, s3_se):
        await s3_se._client.close()
        s3_se._client = None
        return s3_se


def test_lean_client_only_when_it_can_sign(clean_env, monkeypatch):
    opts = {"key": "k", "secret": "s", "endpoint_url": "http://127.0.0.1:1"}
    assert S3SE("S", "s3://b/p", opts)._client is not None
    assert S3SE("S", "s3://b/p", {**opts, "addressing_style": "virtual"})._client is not None
    assert S3SE("S", "s3://b/p", {"key": "k", "secret": "s"})._client is None  # no endpoint
    assert S3SE("S", "s3://b/p", {"endpoint_url": "http://127.0.0.1:1"})._client is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert S3SE("S", "s3://b/p", opts)._client is None  # proxies: left to botocore


async def test_object_and_prefix_of_the_same_name(s3, s3_se):
    """An object that also is a prefix stays a file: overwrite replaces it, not the prefix."""
    await s3_se.put(stream(b"below"), "/both/x/inner", size=5)
    s3.client().put_object(Bucket=BUCKET, Key=s3_se._key("/both/x"), Body=b"object")
    assert (await s3_se.stat("/both/x")).type == "file"
    with pytest.raises(AlreadyExists):
        await s3_se.put(stream(b"new"), "/both/x", size=3)
    await s3_se.put(stream(b"new"), "/both/x", size=3, overwrite=True)
    assert await read_all(s3_se, "/both/x") == b"new"
    assert await read_all(s3_se, "/both/x/inner") == b"below"
    with pytest.raises(IsADirectory):
        await s3_se.put(stream(b"no"), "/both", size=2, overwrite=True)
    with pytest.raises(IsADirectory):
        await s3_se.read_range("/both", 0, 1)


# The examples of AWS's "Signature Calculations for the Authorization Header" (S3 API
# reference): bucket examplebucket, 2013-05-24, the documented example credentials. (Its
# PUT example signs a Date header, which the client never sends; signed uploads are
# checked by the real S3 server of the conformance tests.)
_AWS_EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
_AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "body", "signature"),
    [
        (
            "GET",
            "/test.txt",
            "",
            {"range": "bytes=0-9"},
            b"",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
        (
            "GET",
            "/",
            "max-keys=2&prefix=J",
            {},
            b"",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ],
)
def test_lean_client_signs_like_aws_documents(
    method, path, query, headers, body, signature, monkeypatch
):
    when = dt.datetime(2013, 5, 24)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    client = S3Client(
        "https://s3.amazonaws.com",
        "examplebucket",
        region="us-east-1",
        key=_AWS_EXAMPLE_KEY,
        secret=_AWS_EXAMPLE_SECRET,
        virtual=True,
    )
    signed = dict(headers)
    client._sign(method, path, query, signed, hashlib.sha256(body).hexdigest())
    assert signed["host"] == "examplebucket.s3.amazonaws.com"
    assert signed["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={_AWS_EXAMPLE_KEY}/20130524/us-east-1/s3/aws4_request, "
    )
    assert signed["Authorization"].endswith(f"Signature={signature}")


@pytest.mark.parametrize(
    ("header", "total"),
    [("bytes 0-9/100", 100), ("bytes */42", 42), ("bytes 0-9/*", None), (None, None)],
)
def test_content_range_total(header, total):
    assert content_range_total(header) == total


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (S3Failure(404, "", "Not Found"), PFNNotFound),
        (S3Failure(404, "NoSuchBucket", "m"), PFNNotFound),
        (S3Failure(403, "SignatureDoesNotMatch", "m"), PermissionDenied),
        (S3Failure(403, "", "Forbidden"), PermissionDenied),
        (S3Failure(412, "PreconditionFailed", "m"), AlreadyExists),
        (S3Failure(503, "SlowDown", "m"), SEUnavailable),
        (S3Failure(500, "", "Internal Server Error"), SEUnavailable),
        (S3Failure(400, "RequestTimeout", "m"), SETimeout),
        (S3Failure(418, "Weird", "m"), StorageError),
    ],
)
def test_lean_client_translation(exc, expected):
    mapped = translate_exception(exc, "s3://b/k", "get")
    assert type(mapped) is expected
    assert "s3://b/k" in str(mapped)
    assert "\n" not in str(mapped)


# ---------------------------------------------------------------- URLs and options


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://juno-data", "juno-data", ""),
        ("s3://juno-data/", "juno-data", ""),
        ("s3://juno-data/cnaf/disk/", "juno-data", "cnaf/disk"),
    ],
)
def test_parse_s3_url(url, bucket, prefix):
    assert parse_s3_url(url) == (bucket, prefix)


@pytest.mark.parametrize(
    "url", ["s3://", "https://bucket/x", "s3://AKIAKEY:sEcReT@bucket/x", "s3://b/x?secret=sEcReT"]
)
def test_bad_urls(url):
    with pytest.raises(InvalidArgument) as err:
        S3SE("S", url)
    assert "sEcReT" not in str(err.value)


def test_options_are_checked(clean_env):
    info = SEInfo("S", "s3://b/p")
    for bad in ({"keyy": "x"}, {"parallel": 0}, {"chunk_size": "8M"}, {"addressing_style": "x"}):
        with pytest.raises(ConfigError):
            S3SE.from_info(info, bad)
    se = S3SE.from_info(info, {"region": "eu-west-3", "chunk_size": 16 * MiB})
    assert (se.region, se.chunk_size) == ("eu-west-3", 16 * MiB)


def test_capabilities(clean_env):
    se = S3SE("S", "s3://b/p")
    assert isinstance(se, StorageElement)
    assert isinstance(se, SupportsCopy)
    assert not isinstance(se, SupportsChecksum)
    assert se.pfn("/a/b.root") == "s3://b/p/a/b.root"


# ---------------------------------------------------------------- credentials


def test_options_override_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://env.example:9000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    from_env = S3SE("S", "s3://b")
    assert (from_env.fs.key, from_env.fs.secret) == ("env-key", "env-secret")
    assert from_env.endpoint_url == "http://env.example:9000"
    assert from_env.region == "eu-central-1"
    opts = {"key": "k", "secret": "s", "endpoint_url": "http://opt:1", "region": "us-west-2"}
    from_opts = S3SE("S", "s3://b", opts)
    assert (from_opts.fs.key, from_opts.fs.secret) == ("k", "s")
    assert (from_opts.endpoint_url, from_opts.region) == ("http://opt:1", "us-west-2")


async def test_wrong_secret_is_refused_by_the_server(s3, s3_se, clean_env):
    # The lean client's signatures are checked by the server: a wrong secret is a 403.
    await s3_se.put(stream(b"signed"), "/ok", size=6)
    bad = S3SE("BAD", s3_se.url, {**options(s3), "secret": "not-the-secret", "retries": 1})
    try:
        with pytest.raises(PermissionDenied):
            await bad.put(stream(b"forged"), "/forged", size=6)
        with pytest.raises(PermissionDenied):
            await read_all(bad, "/ok")
    finally:
        await bad.close()


async def test_environment_credentials_reach_the_server(s3, clean_env, monkeypatch):
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    se = open_se(SEInfo("ENV", f"s3://{BUCKET}/env-{uuid.uuid4().hex[:8]}"))
    try:
        await se.put(stream(b"from env"), "/f", size=8)
        assert await read_all(se, "/f") == b"from env"
    finally:
        await se.close()


async def test_credentials_never_shown(s3, clean_env, caplog):
    """Wrong secret: PermissionDenied, and the key and secret appear nowhere."""
    secret = "wrong-" + uuid.uuid4().hex
    opts = {**options(s3), "secret": secret}
    caplog.set_level(logging.DEBUG)
    se = S3SE("S3", f"s3://{BUCKET}/creds", opts)
    try:
        with pytest.raises(PermissionDenied) as err:
            await se.put(stream(b"x"), "/f", size=1)
        with pytest.raises(PermissionDenied) as err2:
            await se.stat("/f")
    finally:
        await se.close()
    shown = " ".join([str(err.value), str(err2.value), repr(se), se.url, se.pfn("/f")])
    assert "s3://dfc-test/creds/f" in str(err.value)
    for credential in (secret, s3.access_key):
        assert credential not in shown
    assert secret not in caplog.text
    assert all(
        s3.access_key not in r.getMessage() for r in caplog.records if r.name.startswith("dfc")
    )


# ---------------------------------------------------------------- server behaviour


async def test_large_files_use_multipart(s3, s3_se):
    data = os.urandom(21 * MiB)
    await s3_se.put(stream(data, MiB), "/mp/big.bin", size=len(data))
    head = s3.client().head_object(Bucket=BUCKET, Key=s3_se._key("/mp/big.bin"))
    assert head["ETag"].strip('"').endswith("-3")  # three 8 MiB parts
    assert await read_all(s3_se, "/mp/big.bin") == data
    await s3_se.put(stream(b"small"), "/mp/small", size=5)
    head = s3.client().head_object(Bucket=BUCKET, Key=s3_se._key("/mp/small"))
    assert "-" not in head["ETag"]


async def test_failed_multipart_is_aborted(s3, s3_se):
    async def breaks_late():
        for _ in range(20):
            yield os.urandom(MiB)
        raise RuntimeError("source stream broke")

    with pytest.raises(RuntimeError, match="source stream broke"):
        await s3_se.put(breaks_late(), "/ab/f", size=30 * MiB)
    with pytest.raises(PFNNotFound):
        await s3_se.stat("/ab/f")
    uploads = s3.client().list_multipart_uploads(Bucket=BUCKET, Prefix=s3_se._key("/ab"))
    assert not uploads.get("Uploads")


async def test_copy_and_rename(s3_se):
    await s3_se.put(stream(b"object"), "/c/src", size=6)
    await s3_se.copy("/c/src", "/c/deep/dst")
    assert await read_all(s3_se, "/c/deep/dst") == b"object"
    with pytest.raises(PFNNotFound):
        await s3_se.copy("/c/missing", "/c/x")
    with pytest.raises(IsADirectory):
        await s3_se.copy("/c/deep", "/c/y")
    with pytest.raises(AlreadyExists):
        await s3_se.rename("/c/src", "/c/deep/dst")
    with pytest.raises(IsADirectory):
        await s3_se.rename("/c/deep", "/c/z")


async def test_root_of_a_whole_bucket(s3, clean_env):
    bucket = s3.make_bucket(f"dfc-whole-{uuid.uuid4().hex[:8]}")
    se = S3SE("B", f"s3://{bucket}", options(s3))
    try:
        assert await se.ls("/") == []
        await se.put(stream(b"top"), "/top", size=3)
        assert [i.path for i in await se.ls("/")] == ["/top"]
        walked = [i async for i in se.walk("/")]
        assert [(i.path, i.size) for i in walked] == [("/top", 3)]
        assert walked[0].mtime is not None
        assert s3.client().get_object(Bucket=bucket, Key="top")["Body"].read() == b"top"
    finally:
        await se.close()


async def test_mkdir_root_creates_the_bucket(s3, clean_env):
    bucket = f"dfc-new-{uuid.uuid4().hex[:8]}"
    se = S3SE("N", f"s3://{bucket}/some/prefix", options(s3))
    try:
        with pytest.raises(PFNNotFound):
            await se.ls("/")
        with pytest.raises(PFNNotFound):
            await se.stat("/")
        await se.mkdir("/")
        await se.mkdir("/")
        assert await se.ls("/") == []
        assert (await se.stat("/")).type == "directory"
    finally:
        await se.close()


async def test_server_stops_mid_put(s3, s3_se):
    """A server dying mid-upload is a retryable error; after a restart puts work again."""
    outage = ServerOutage(s3)

    async def dying_stream():
        for i in range(24):
            if i == 18:
                await outage.stop()
            yield os.urandom(MiB)

    try:
        with pytest.raises(DFCError) as err:
            await s3_se.put(dying_stream(), "/mid/put.bin", size=24 * MiB)
        assert err.value.retryable, repr(err.value)
    finally:
        await outage.start()
    with pytest.raises(PFNNotFound):
        await s3_se.stat("/mid/put.bin")
    data = os.urandom(2 * MiB)
    await s3_se.put(stream(data, MiB), "/mid/put.bin", size=len(data))
    assert await read_all(s3_se, "/mid/put.bin") == data


async def test_unreachable_server_is_unavailable(clean_env):
    opts = {"key": "k", "secret": "s", "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    se = S3SE("GONE", "s3://b/p", {**opts, "retries": 1})
    try:
        with pytest.raises(SEUnavailable) as err:
            await se.stat("/f")
        assert err.value.retryable
    finally:
        await se.close()


# ---------------------------------------------------------------- botocore translation


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_client_error("NoSuchKey", 404), PFNNotFound),
        (_client_error("404", 404), PFNNotFound),
        (_client_error("AccessDenied", 403), PermissionDenied),
        (_client_error("InvalidAccessKeyId", 403), PermissionDenied),
        (_client_error("SlowDown", 503), SEUnavailable),
        (_client_error("InternalError", 500), SEUnavailable),
        (_client_error("RequestTimeout", 400), SETimeout),
        (_client_error("QuotaExceeded", 403), NoSpace),
        (_client_error("Weird", 418), StorageError),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://h"), SEUnavailable),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url="http://h"), SETimeout),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://h"), SETimeout),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://h"), SEUnavailable),
        (botocore.exceptions.NoCredentialsError(), PermissionDenied),
        (OSError(16, "Please reduce your request rate."), SEUnavailable),  # s3fs: SlowDown
    ],
)
def test_botocore_translation(exc, expected):
    mapped = translate_exception(exc, "s3://b/k", "put")
    assert type(mapped) is expected
    assert mapped.retryable == issubclass(expected, (SETimeout, SEUnavailable))


def test_missing_extra_names_the_pip_command(monkeypatch):
    for name in list(sys.modules):
        if name == "s3fs" or name.startswith("s3fs.") or name == "dfc.se.s3":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(OptionalDependencyMissing, match=r"pip install 'dfc\[s3\]'") as err:
        open_se(SEInfo("S", "s3://bucket/prefix"))
    assert "s3fs" in str(err.value)
