"""The catalogue server's configuration file (TOML), e.g. ``/etc/dfc/server.toml``.

Every key but ``catalog`` is optional; the defaults are shown::

catalog = "postgresql+psycopg://dfc@db.example.org/dfc"   # required
host = "0.0.0.0"
port = 8443
hostcert = "/etc/grid-security/hostcert.pem"
hostkey = "/etc/grid-security/hostkey.pem"
ca_dir = "/etc/grid-security/certificates"   # hashed CAs and <hash>.r0 CRLs
vomsdir = "/etc/grid-security/vomsdir"       # "" to ignore VOMS attributes
vos = ["juno"]                               # VOs whose ACs count ([] for all)
crl_check = true            # revocation checked for every certificate of a chain
max_body = 134217728        # bytes per request body
max_items = 100000          # LFNs (items) per bulk request
request_timeout = 300       # seconds per request (time to first byte of a stream)
threads = 4                 # database worker threads per process (one pooled connection
                            # each; more threads mostly contend for the interpreter lock)
workers = 0                 # server processes sharing the port (SO_REUSEPORT); 0: one
                            # per CPU
loop = "auto"               # event loop: "uvloop" (faster TLS and I/O), "asyncio", or
                            # "auto" (uvloop when it is installed)
cache_seconds = 2           # how long the registry's view of an identity is reused

[tokens]                    # optional: accept WLCG bearer tokens
audiences = ["https://dfc.example.org:8443"]
accept_any_audience = false
[[tokens.issuers]]
issuer = "https://iam.example.org/"
jwks = "/etc/dfc/iam-jwks.json"
vo = "juno"
base_path = "/juno"

[authz]                     # the namespace policy (see dfc.api Policy)
protected = ["/", "/juno", "/juno/user"]
homes = "/juno/user"
[authz.roles]
"/juno/production" = ["/juno/production/Role=production"]
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfc.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ServerConfig", "TokenIssuerConfig"]

_VOMSDIR = Path("/etc/grid-security/vomsdir")
_LOOPS = ("auto", "asyncio", "uvloop")
_KEYS = {
    "catalog", "host", "port", "hostcert", "hostkey", "ca_dir", "vomsdir", "vos", "crl_check",
    "max_body", "max_items", "request_timeout", "threads", "cache_seconds", "tokens", "authz",
    "url", "log_level", "workers", "loop",
}  # fmt: skip


@dataclass(frozen=True)
class TokenIssuerConfig:
    """A trusted bearer-token issuer.

    Attributes:
        issuer: the ``iss`` value.
        jwks: the file with its public keys (JWKS).
        vo: the VO it speaks for.
        base_path: where its storage scopes' ``/`` lies in the catalogue.
    """

    issuer: str
    jwks: Path
    vo: str | None = None
    base_path: str = "/"


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``dfc server`` needs; see the module docstring for the file format."""

    catalog: str
    host: str = "0.0.0.0"
    port: int = 8443
    hostcert: Path = Path("/etc/grid-security/hostcert.pem")
    hostkey: Path = Path("/etc/grid-security/hostkey.pem")
    ca_dir: Path = Path("/etc/grid-security/certificates")
    vomsdir: Path | None = _VOMSDIR
    vos: tuple[str, ...] = ("juno",)
    crl_check: bool = True
    max_body: int = 128 << 20
    max_items: int = 100_000
    request_timeout: float = 300.0
    threads: int = 4
    workers: int = 0
    loop: str = "auto"
    cache_seconds: float = 2.0
    url: str | None = None
    log_level: str = "info"
    token_issuers: tuple[TokenIssuerConfig, ...] = ()
    token_audiences: tuple[str, ...] = ()
    accept_any_audience: bool = False
    authz: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def processes(self) -> int:
        """How many server processes to run (``workers``, or one per CPU when 0)."""
        if self.workers:
            return self.workers
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )

    @property
    def public_url(self) -> str:
        """The URL clients use (the token audience by default)."""
        return self.url or f"https://{self.host}:{self.port}"

    @classmethod
    def load(cls, path: Path) -> ServerConfig:
        """Read a configuration file.

        Raises:
            ConfigError: unreadable, not TOML, an unknown key or a value of the wrong type.
        """
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        return cls.from_mapping(raw, base=path.parent, name=str(path))

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], *, base: Path = Path(), name: str = "server config"
    ) -> ServerConfig:
        """Build the configuration from parsed TOML; relative paths are taken from ``base``.

        Raises:
            ConfigError: a missing catalogue, an unknown key or a value of the wrong type.
        """
        unknown = set(raw) - _KEYS
        if unknown:
            raise ConfigError(f"{name}: unknown keys {', '.join(sorted(unknown))}")
        get = _Getter(raw, base, name)
        catalog = get.text("catalog", "")
        if not catalog:
            raise ConfigError(f"{name}: 'catalog' (the database URL) is required")
        if catalog.startswith("https://"):
            raise ConfigError(f"{name}: 'catalog' must be a database URL, not a server")
        vomsdir = raw.get("vomsdir", str(_VOMSDIR))
        issuers, audiences, any_aud = _tokens(raw.get("tokens"), get, name)
        loop = get.text("loop", cls.loop)
        if loop not in _LOOPS:
            raise ConfigError(f"{name}: 'loop' must be one of {', '.join(_LOOPS)}")
        authz = raw.get("authz")
        if authz is not None and not isinstance(authz, dict):
            raise ConfigError(f"{name}: [authz] must be a table")
        return cls(
            catalog=catalog,
            host=get.text("host", cls.host),
            port=get.integer("port", cls.port, 0, 65535),
            hostcert=get.path("hostcert", cls.hostcert),
            hostkey=get.path("hostkey", cls.hostkey),
            ca_dir=get.path("ca_dir", cls.ca_dir),
            vomsdir=get.path("vomsdir", _VOMSDIR) if vomsdir else None,
            vos=tuple(get.texts("vos", list(cls.vos))),
            crl_check=get.flag("crl_check", cls.crl_check),
            max_body=get.integer("max_body", cls.max_body, 1024, 1 << 34),
            max_items=get.integer("max_items", cls.max_items, 10_000, 10_000_000),
            request_timeout=get.number("request_timeout", cls.request_timeout),
            threads=get.integer("threads", cls.threads, 1, 256),
            workers=get.integer("workers", cls.workers, 0, 64),
            loop=loop,
            cache_seconds=get.number("cache_seconds", cls.cache_seconds, minimum=0.0),
            url=get.text("url", "") or None,
            log_level=get.text("log_level", cls.log_level),
            token_issuers=issuers,
            token_audiences=audiences,
            accept_any_audience=any_aud,
            authz=authz,
        )


class _Getter:
    def __init__(self, raw: Mapping[str, Any], base: Path, name: str) -> None:
        self.raw, self.base, self.name = raw, base, name

    def _bad(self, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.name}: {key!r} must be {what}")

    def text(self, key: str, default: str) -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def texts(self, key: str, default: list[str]) -> list[str]:
        value = self.raw.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "a list of strings")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._bad(key, f"an integer from {low} to {high}")
        return value

    def number(self, key: str, default: float, minimum: float = 0.001) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self._bad(key, f"a number of at least {minimum}")
        return float(value)

    def path(self, key: str, default: Path) -> Path:
        value = self.raw.get(key, str(default))
        if not isinstance(value, str) or not value:
            raise self._bad(key, "a path")
        return self.base / Path(value).expanduser()


def _tokens(
    raw: object, get: _Getter, name: str
) -> tuple[tuple[TokenIssuerConfig, ...], tuple[str, ...], bool]:
    if raw is None:
        return (), (), False
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: [tokens] must be a table")
    sub = _Getter(raw, get.base, f"{name} [tokens]")
    issuers = []
    entries = raw.get("issuers", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{name}: [[tokens.issuers]] must be tables")
    for entry in entries:
        one = _Getter(entry, get.base, f"{name} [[tokens.issuers]]")
        if not one.text("issuer", "") or "jwks" not in entry:
            raise ConfigError(f"{name}: each token issuer needs 'issuer' and 'jwks'")
        issuers.append(
            TokenIssuerConfig(
                issuer=one.text("issuer", ""),
                jwks=one.path("jwks", Path()),
                vo=one.text("vo", "") or None,
                base_path=one.text("base_path", "/"),
            )
        )
    audiences = tuple(sub.texts("audiences", []))
    return tuple(issuers), audiences, sub.flag("accept_any_audience", False)
