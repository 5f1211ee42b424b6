"""The full dfc flows through the public API, with every real backend as source and target.

A file travels local -> xrootd -> webdav -> s3 -> local, each hop a verified
``replicate``; the catalogue's adler32 must equal the local file's, ``get`` from
each SE must return identical bytes, and ``rm`` must remove every physical copy.
The S3 credentials reach dfc only through the configuration file (``[se.S3]``).
"""

from __future__ import annotations

import shutil
import uuid
import zlib
from pathlib import Path

import botocore.exceptions
import pytest

from dfc import DFC, Settings

pytestmark = [pytest.mark.xrootd, pytest.mark.webdav, pytest.mark.s3]

MiB = 1024 * 1024
BUCKET = "dfc-flows"
LFN = "/juno/flows/run 1/data.bin"


class Grid:
    """A dfc home with one SE per backend, and where each SE keeps its bytes."""

    def __init__(self, dfc: DFC, tmp: Path, uid: str, xrd, dav, s3) -> None:
        self.dfc = dfc
        self.tmp = tmp
        self.uid = uid
        self.xrd, self.dav, self.s3 = xrd, dav, s3

    def physical(self, se: str, path: str) -> bytes | None:
        """The bytes SE ``se`` holds at ``path``, read behind dfc's back (None if absent)."""
        rel = path.lstrip("/")
        if se == "S3":
            try:
                obj = self.s3.client().get_object(Bucket=BUCKET, Key=f"{self.uid}/{rel}")
            except botocore.exceptions.ClientError as exc:
                if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                    raise
                return None
            return obj["Body"].read()
        roots = {
            "XRD": self.xrd.data_dir / f"flows-{self.uid}",
            "DAV": self.dav.data_dir / f"flows-{self.uid}",
            "LOCAL": self.tmp / "local-se",
            "LOCAL2": self.tmp / "local-se-2",
        }
        file = roots[se] / rel
        return file.read_bytes() if file.exists() else None


@pytest.fixture
def grid(dfc_home, tmp_path, xrootd_server, webdav_server, s3_server):
    uid = uuid.uuid4().hex[:10]
    s3_server.make_bucket(BUCKET)
    (dfc_home / "config.toml").write_text(
        "[se.S3]\n"
        f'key = "{s3_server.access_key}"\n'
        f'secret = "{s3_server.secret_key}"\n'
        f'endpoint_url = "{s3_server.endpoint_url}"\n'
    )
    dfc = DFC(Settings.load())
    try:
        dfc.init()
        dfc.se_add("LOCAL", f"file://{tmp_path}/local-se", site="HOME")
        dfc.se_add("XRD", f"root://{xrootd_server.host}//flows-{uid}", site="IHEP")
        dfc.se_add("DAV", f"{webdav_server.url}flows-{uid}", site="CNAF")
        dfc.se_add("S3", f"s3://{BUCKET}/{uid}", site="IN2P3")
        dfc.se_add("LOCAL2", f"file://{tmp_path}/local-se-2", site="HOME")
        yield Grid(dfc, tmp_path, uid, xrootd_server, webdav_server, s3_server)
    finally:
        dfc.close()
        shutil.rmtree(xrootd_server.data_dir / f"flows-{uid}", ignore_errors=True)
        shutil.rmtree(webdav_server.data_dir / f"flows-{uid}", ignore_errors=True)
        client = s3_server.client()
        for obj in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{uid}/").get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])


def _data(size: int) -> bytes:
    # Position-dependent content: a swapped or repeated block changes the checksum.
    block = uuid.uuid4().bytes * (MiB // 16)
    out = bytearray()
    index = 0
    while len(out) < size:
        out += index.to_bytes(8, "little") + block[8:]
        index += 1
    return bytes(out[:size])


def _check_get(grid: Grid, se: str, data: bytes) -> None:
    target = grid.tmp / f"got-from-{se}.bin"
    got = grid.dfc.get([LFN], target, se=se)
    assert got.ok, got.failed
    assert got.succeeded[LFN].se == se
    assert target.read_bytes() == data


def test_local_xrootd_webdav_s3_local(grid: Grid) -> None:
    data = _data(9 * MiB + 4321)  # above one S3 part: the S3 hop is a multipart upload
    adler32 = f"{zlib.adler32(data):08x}"
    source = grid.tmp / "data.bin"
    source.write_bytes(data)
    dfc = grid.dfc

    put = dfc.put([source], LFN, se="LOCAL")
    assert put.ok, put.failed
    assert put.succeeded[LFN].adler32 == adler32

    chain = [("LOCAL", "XRD"), ("XRD", "DAV"), ("DAV", "S3"), ("S3", "LOCAL2")]
    for src, dst in chain:
        done = dfc.replicate([LFN], dst, source=src)
        assert done.ok, done.failed
        assert (done.succeeded[LFN].source, done.succeeded[LFN].size) == (src, len(data))
        entry = dfc.stat([LFN]).succeeded[LFN]
        assert entry.adler32 == adler32, f"after {src} -> {dst}"
        assert grid.physical(dst, LFN) == data, f"{dst} holds other bytes"

    entry = dfc.stat([LFN]).succeeded[LFN]
    ses = sorted(r.se for r in entry.replicas)
    assert ses == ["DAV", "LOCAL", "LOCAL2", "S3", "XRD"]
    assert all(r.status == "good" for r in entry.replicas)
    for se in ses:
        _check_get(grid, se, data)

    # Removing one replica removes exactly that copy.
    one = dfc.rm([LFN], se="DAV")
    assert one.ok, one.failed
    assert grid.physical("DAV", LFN) is None
    assert grid.physical("S3", LFN) == data

    gone = dfc.rm([LFN])
    assert gone.ok, gone.failed
    assert sorted(gone.succeeded[LFN].removed_replicas) == ["LOCAL", "LOCAL2", "S3", "XRD"]
    for se in ses:
        assert grid.physical(se, LFN) is None, f"{se} still holds the file"
    assert LFN in dfc.stat([LFN]).failed


@pytest.mark.parametrize("se", ["XRD", "DAV", "S3"])
def test_put_get_rm_on_each_backend(grid: Grid, se: str) -> None:
    data = _data(3 * MiB + 17)
    source = grid.tmp / "small.bin"
    source.write_bytes(data)
    put = grid.dfc.put([source], LFN, se=se)
    assert put.ok, put.failed
    assert put.succeeded[LFN].adler32 == f"{zlib.adler32(data):08x}"
    assert grid.physical(se, LFN) == data
    _check_get(grid, se, data)
    replicated = grid.dfc.replicate([LFN], "LOCAL")
    assert replicated.ok, replicated.failed
    assert replicated.succeeded[LFN].source == se
    removed = grid.dfc.rm([LFN])
    assert removed.ok, removed.failed
    assert grid.physical(se, LFN) is None
    assert grid.physical("LOCAL", LFN) is None


def test_se_probe_on_each_backend(grid: Grid) -> None:
    for se in ("XRD", "DAV", "S3"):
        probe = grid.dfc.se_test(se, size=64 * 1024)
        assert probe.ok, probe
