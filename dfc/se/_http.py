"""HTTP helpers for the WebDAV storage elements: grid TLS settings and upload bodies."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from dfc.errors import ConfigError, SizeMismatch

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Mapping

    from fsspec.callbacks import Callback

__all__ = ["UploadBody", "grid_ssl_context", "x509_settings"]

#: Where grid hosts keep the IGTF CA certificates (used when it exists).
GRID_CERT_DIR = "/etc/grid-security/certificates"


def x509_settings(
    options: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """Return ``(proxy file, CA directory)`` as grid clients find them.

    An explicit option wins, then ``X509_USER_PROXY`` / ``X509_CERT_DIR``, then
    the conventional ``/tmp/x509up_u<uid>`` and ``/etc/grid-security/certificates``
    when they exist; ``None`` when there is nothing to use.
    """
    env = os.environ if env is None else env
    proxy = options.get("x509_user_proxy") or env.get("X509_USER_PROXY")
    if not proxy:
        default = Path(f"/tmp/x509up_u{os.getuid()}")
        proxy = str(default) if default.is_file() else None
    cert_dir = options.get("x509_cert_dir") or env.get("X509_CERT_DIR")
    if not cert_dir and Path(GRID_CERT_DIR).is_dir():
        cert_dir = GRID_CERT_DIR
    return proxy, cert_dir


def grid_ssl_context(proxy: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """Return a TLS client context presenting ``proxy`` and trusting ``cert_dir``.

    The proxy file is the grid's usual PEM bundle (proxy certificate, its key,
    then the chain). Without ``cert_dir`` the system CAs are trusted.

    Raises:
        ConfigError: the proxy or the CA directory cannot be used.
    """
    try:
        if cert_dir:
            if not Path(cert_dir).is_dir():
                raise ConfigError(f"X509_CERT_DIR {cert_dir}: not a directory")
            context = ssl.create_default_context(capath=cert_dir)
        else:
            context = ssl.create_default_context()
        if proxy:
            context.load_cert_chain(proxy)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"X509 proxy {proxy}: cannot be loaded ({exc})") from None
    return context


class UploadBody:
    """An upload's request body: the caller's stream, counted and checked on the way.

    Attributes:
        error: the exception the *source* stream raised (or the
            :class:`~dfc.errors.SizeMismatch` found), so that the caller re-raises
            it unchanged instead of the HTTP library's view of it.
        total: bytes sent so far.
    """

    def __init__(
        self,
        src: AsyncIterable[bytes],
        size: int | None,
        callback: Callback,
        pfn: str,
    ) -> None:
        self._src = src
        self._size = size
        self._callback = callback
        self._pfn = pfn
        self.error: BaseException | None = None
        self.total = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._src:
                if not chunk:
                    continue
                self.total += len(chunk)
                if self._size is not None and self.total > self._size:
                    raise SizeMismatch(
                        f"put {self._pfn}: stream longer than the expected {self._size} bytes"
                    )
                self._callback.relative_update(len(chunk))
                yield bytes(chunk)
            if self._size is not None and self.total != self._size:
                raise SizeMismatch(
                    f"put {self._pfn}: stream had {self.total} bytes, expected {self._size}"
                )
        except Exception as exc:
            self.error = exc
            raise
