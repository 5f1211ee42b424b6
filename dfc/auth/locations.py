"""Where grid credentials and trust directories live, by the conventions grid tools share."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ca_dir", "proxy_path", "user_credential_paths", "vomsdir"]


def proxy_path() -> Path:
    """The proxy file: ``$X509_USER_PROXY``, else ``/tmp/x509up_u<uid>``.

    Returns:
        The path (it may not exist).
    """
    env = os.environ.get("X509_USER_PROXY")
    return Path(env) if env else Path(f"/tmp/x509up_u{os.getuid()}")


def ca_dir() -> Path:
    """The trusted CA directory: ``$X509_CERT_DIR``, else ``/etc/grid-security/certificates``.

    Returns:
        The path (it may not exist).
    """
    return Path(os.environ.get("X509_CERT_DIR") or "/etc/grid-security/certificates")


def vomsdir() -> Path:
    """The VOMS trust directory: ``$X509_VOMS_DIR``, else ``/etc/grid-security/vomsdir``.

    Returns:
        The path (it may not exist).
    """
    return Path(os.environ.get("X509_VOMS_DIR") or "/etc/grid-security/vomsdir")


def user_credential_paths() -> tuple[Path, Path]:
    """The user certificate and key: ``$X509_USER_CERT``/``$X509_USER_KEY``, else ``~/.globus``.

    Returns:
        ``(usercert.pem, userkey.pem)`` paths (they may not exist).
    """
    globus = Path.home() / ".globus"
    cert = os.environ.get("X509_USER_CERT")
    key = os.environ.get("X509_USER_KEY")
    return (
        Path(cert) if cert else globus / "usercert.pem",
        Path(key) if key else globus / "userkey.pem",
    )
