"""A real WebDAV server for tests: nginx with ``libnginx-mod-http-dav-ext``, on a free port.

Fixtures:
    webdav_server: session-scoped :class:`WebDAVServer`.
    make_webdav_server: builder of private servers, closed at the end of the test; use
        it for tests that stop or kill the server mid-operation.

nginx serves ``data_dir`` read/write over plain HTTP on 127.0.0.1 without authentication
(PUT DELETE MKCOL COPY MOVE PROPFIND OPTIONS, autoindex). nginx's DAV module wants a
trailing slash on collections, which clients do not send: two rewrites add it. nginx
offers no checksums (no ``Want-Digest``, no ``getetag`` in PROPFIND).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers._proc import (
    HOST,
    LocalServer,
    ManagedProcess,
    free_port,
    make_base_dir,
    missing,
    port_open,
    require_binary,
    server_factory,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DAV_EXT_MODULE = Path("/usr/lib/nginx/modules/ngx_http_dav_ext_module.so")

CONFIG = """\
load_module {module};
{user}
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {base}/logs/access.log;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    server {{
        listen {host}:{port};
        root {data};
        location / {{
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            dav_access user:rw group:rw all:r;
            create_full_put_path on;
            client_max_body_size 0;
            autoindex on;
            # nginx DAV wants a trailing slash on collections (DELETE/MKCOL/MOVE/COPY)
            if (-d $request_filename) {{ rewrite ^(.*[^/])$ $1/ break; }}
            if ($request_method = MKCOL) {{ rewrite ^(.*[^/])$ $1/ break; }}
        }}
    }}
}}
"""


class WebDAVServer(LocalServer):
    """A running nginx WebDAV server: ``url`` is ``http://127.0.0.1:PORT/``.

    A file at ``http://127.0.0.1:PORT/a/b`` is ``data_dir / "a/b"`` on disk.
    """

    def __init__(self, base_dir: Path, port: int, binary: str) -> None:
        super().__init__(base_dir)
        self.port = port
        self.data_dir = base_dir / "data"
        for name in ("data", "logs", "tmp"):
            (base_dir / name).mkdir()
        config = base_dir / "nginx.conf"
        config.write_text(
            CONFIG.format(
                module=DAV_EXT_MODULE,
                # as root, stay root so nginx can write data_dir without a chown
                user="user root root;" if os.geteuid() == 0 else "",
                base=base_dir,
                host=HOST,
                port=port,
                data=self.data_dir,
            )
        )
        argv = [binary, "-c", str(config), "-p", f"{base_dir}/", "-e", "logs/error.log"]
        self.process = ManagedProcess(
            f"nginx on port {port}",
            # one process, our child: a killed master would orphan its workers, which
            # PID 1 here never reaps (they would stay zombies)
            [*argv, "-g", "daemon off; master_process off;"],
            log_path=base_dir / "logs" / "nginx.out",
            extra_logs=[base_dir / "logs" / "error.log"],
            ready=lambda: port_open(port),
            cwd=base_dir,
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.port}/"


def launch_webdav() -> WebDAVServer:
    """Start a new nginx WebDAV server on a free port, or skip/fail if not installed.

    Raises:
        ServerStartError: it did not come up (the message has its log).
    """
    binary = require_binary("nginx", "/usr/sbin", package="Debian nginx")
    if not DAV_EXT_MODULE.is_file():
        missing(f"{DAV_EXT_MODULE} missing (install Debian libnginx-mod-http-dav-ext)")
    server = WebDAVServer(make_base_dir("dfc-webdav-"), free_port(), binary)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def webdav_server() -> Iterator[WebDAVServer]:
    """A session-wide nginx WebDAV server; stopped and removed at the end of the session."""
    server = launch_webdav()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_webdav_server() -> Iterator[Callable[[], WebDAVServer]]:
    """A builder of private WebDAV servers, all closed at the end of the test."""
    with server_factory(launch_webdav) as make:
        yield make
