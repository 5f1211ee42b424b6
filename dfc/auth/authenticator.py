"""One object a server keeps to turn credentials into identities, with a cache.

Validating a chain and its VOMS AC costs a few milliseconds of Python; a client sends the
same chain on every request. Results are cached by the exact bytes of the credential, up
to the credential's expiry, and dropped when the CA directory changes (a new CRL).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from dfc.auth.ca import TrustStore
from dfc.auth.chain import validate_chain
from dfc.auth.errors import AuthenticationFailed, InvalidToken
from dfc.auth.identity import Identity
from dfc.auth.voms import verify_voms

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence
    from pathlib import Path

    from cryptography import x509

    from dfc.auth.tokens import TokenVerifier

__all__ = ["Authenticator"]


class Authenticator:
    """Establishes identities from X.509 chains and bearer tokens.

    Args:
        ca_dir: the hashed CA directory (re-read when its files change).
        vomsdir: the VOMS trust directory; None ignores VOMS ACs (no FQANs).
        vos: the VOs whose ACs are verified and used; others are ignored. None: all.
        tokens: the bearer-token verifier, if tokens are accepted.
        target: this service's host name, for targeted ACs.
        require_crls: refuse CAs without a current CRL (like the TLS layer's
            ``VERIFY_CRL_CHECK_CHAIN``).
        cache_size: how many credentials to remember.
        reload_interval: seconds between checks of the CA directory for changes.
        clock: the current time (tests replace it).

    Raises:
        dfc.errors.ConfigError: the CA directory cannot be read.
    """

    def __init__(
        self,
        *,
        ca_dir: Path,
        vomsdir: Path | None = None,
        vos: Collection[str] | None = None,
        tokens: TokenVerifier | None = None,
        target: str | None = None,
        require_crls: bool = False,
        cache_size: int = 4096,
        reload_interval: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._ca_dir = ca_dir
        self._vomsdir = vomsdir
        self._vos = frozenset(vos) if vos is not None else None
        self._tokens = tokens
        self._target = target
        self._require_crls = require_crls
        self._cache_size = cache_size
        self._reload_interval = reload_interval
        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, tuple[Identity, int]] = OrderedDict()
        self._generation = 0
        self._trust = TrustStore.from_dir(ca_dir)
        self._checked = time.monotonic()

    @property
    def trust(self) -> TrustStore:
        """The current trust store, re-read if the CA directory changed.

        Raises:
            dfc.errors.ConfigError: the changed directory cannot be read.
        """
        if time.monotonic() - self._checked >= self._reload_interval:
            self._checked = time.monotonic()
            if self._trust.is_stale():
                self._trust = TrustStore.from_dir(self._ca_dir)
                with self._lock:
                    self._generation += 1
                    self._cache.clear()
        return self._trust

    def _cached(self, key: bytes, now: datetime) -> Identity | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            identity, generation = hit
            if generation != self._generation or (
                identity.not_after is not None and now > identity.not_after
            ):
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return identity

    def _remember(self, key: bytes, identity: Identity) -> None:
        with self._lock:
            self._cache[key] = (identity, self._generation)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def from_chain(
        self, chain: Sequence[x509.Certificate], *, now: datetime | None = None
    ) -> Identity:
        """The identity of a peer certificate chain (proxies, user certificate, CAs).

        Args:
            chain: leaf first, e.g. from :func:`dfc.auth.tls.peer_chain`.
            now: the time of the check (default: now; a given time bypasses the cache).

        Returns:
            An ``x509`` identity with the verified FQANs.

        Raises:
            AuthenticationFailed: the chain or a VOMS AC does not verify (subclass says why).
        """
        if not chain:
            raise AuthenticationFailed("no client certificate presented")
        use_cache = now is None
        now = now or self._clock()
        trust = self.trust
        key = b"x" + hashlib.sha256(b"".join(c.public_bytes(Encoding.DER) for c in chain)).digest()
        if use_cache and (hit := self._cached(key, now)) is not None:
            return hit
        identity = validate_chain(chain, ca_dir=trust, now=now, require_crls=self._require_crls)
        voms = (
            verify_voms(
                identity.certificates,
                holder=identity.end_entity,
                vomsdir=self._vomsdir,
                ca_dir=trust,
                now=now,
                vos=self._vos,
                target=self._target,
                require_crls=self._require_crls,
            )
            if self._vomsdir is not None
            else []
        )
        result = Identity.from_x509(identity, voms)
        if use_cache:
            self._remember(key, result)
        return result

    def from_token(self, token: str, *, now: datetime | None = None) -> Identity:
        """The identity of a bearer token.

        Args:
            token: the compact JWS.
            now: the time of the check (default: now; a given time bypasses the cache).

        Returns:
            A ``token`` identity.

        Raises:
            InvalidToken: tokens are not accepted, or the token does not verify.
        """
        if self._tokens is None:
            raise InvalidToken("bearer tokens are not accepted by this service")
        use_cache = now is None
        now = now or self._clock()
        key = b"t" + hashlib.sha256(token.encode()).digest()
        if use_cache and (hit := self._cached(key, now)) is not None:
            return hit
        result = Identity.from_token(self._tokens.verify(token, now=now))
        if use_cache:
            self._remember(key, result)
        return result

    def from_authorization(self, header: str, *, now: datetime | None = None) -> Identity:
        """The identity of an HTTP ``Authorization: Bearer <token>`` header value.

        Args:
            header: the header value.
            now: the time of the check.

        Returns:
            A ``token`` identity.

        Raises:
            InvalidToken: not a bearer token, or the token does not verify.
        """
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("the Authorization header is not 'Bearer <token>'")
        return self.from_token(token.strip(), now=now)
