"""WLCG JWT profile bearer tokens: verification and storage scopes.

A token is accepted only if:

- it is signed with an asymmetric algorithm (``alg=none`` and HMAC are refused) by a key
  with the token's ``kid`` in the JWKS file configured for its issuer (no network);
- ``iss`` is a configured issuer, ``sub`` is present;
- ``exp`` has not passed, ``nbf`` (if any) has, ``iat`` is not in the future (each with the
  configured leeway);
- ``aud`` names this service, or the WLCG "any" audience when that is accepted;
- ``wlcg.ver`` has major version 1;
- every ``wlcg.groups`` entry is a group of the issuer's VO;
- every ``storage.*`` scope carries an absolute, canonical path.

Storage scopes (``storage.read:/path``, ``storage.create:``, ``storage.modify:``,
``storage.stage:``) are relative to the issuer's base path in the catalogue namespace
(``/juno`` for JUNO's issuer) and match on whole path components: ``/juno/user`` covers
``/juno/user/alice`` but not ``/juno/username``. ``storage.modify`` implies create but not
read; ``storage.stage`` implies read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt

from dfc.auth.errors import InvalidToken
from dfc.auth.fqan import parse_fqan
from dfc.errors import ConfigError

__all__ = [
    "ANY_AUDIENCE",
    "StorageOp",
    "TokenClaims",
    "TokenIssuer",
    "TokenScopes",
    "TokenVerifier",
]

#: The WLCG audience meaning "any relying party".
ANY_AUDIENCE = "https://wlcg.cern.ch/jwt/v1/any"

#: An operation a storage scope may allow.
StorageOp = Literal["read", "create", "modify", "stage"]

_SCOPE_OPS: dict[str, StorageOp] = {
    "storage.read": "read",
    "storage.create": "create",
    "storage.modify": "modify",
    "storage.stage": "stage",
}
# Which scopes grant an operation.
_GRANTS: dict[StorageOp, tuple[StorageOp, ...]] = {
    "read": ("read", "stage"),
    "create": ("create", "modify"),
    "modify": ("modify",),
    "stage": ("stage",),
}
_ALGORITHMS_BY_KTY: dict[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
    "OKP": frozenset({"EdDSA"}),
}
_DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "ES512", "EdDSA")  # fmt: skip


def _canonical_path(path: str) -> bool:
    if not path.startswith("/") or "\x00" in path or "\\" in path:
        return False
    if path == "/":
        return True
    return all(part not in ("", ".", "..") for part in path[1:].split("/"))


def _join(base: str, path: str) -> str:
    if path == "/":
        return base
    return path if base == "/" else base + path


@dataclass(frozen=True)
class TokenScopes:
    """The storage scopes of a token, as absolute paths of the catalogue namespace.

    Attributes:
        paths: per granted scope (``read``, ``create``, ``modify``, ``stage``) the paths.
    """

    paths: Mapping[StorageOp, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, scope: str, *, base_path: str = "/") -> TokenScopes | None:
        """Read the storage scopes of a ``scope`` claim.

        Args:
            scope: the space-separated ``scope`` claim.
            base_path: where the issuer's ``/`` lies in the catalogue namespace (``/juno``).

        Returns:
            The scopes, or None if the claim has no ``storage.*`` scope (the token is then
            not restricted by scopes; authorisation relies on its groups).

        Raises:
            InvalidToken: a storage scope without a path, or with a non-canonical path.
        """
        base = base_path.rstrip("/") or "/"
        found: dict[StorageOp, list[str]] = {}
        for item in scope.split():
            name, sep, path = item.partition(":")
            if name not in _SCOPE_OPS:
                continue
            if not sep or not path:
                raise InvalidToken(f"storage scope {item!r} has no path")
            if not _canonical_path(path.rstrip("/") or "/"):
                raise InvalidToken(f"storage scope {item!r} has a non-canonical path")
            found.setdefault(_SCOPE_OPS[name], []).append(_join(base, path.rstrip("/") or "/"))
        if not found:
            return None
        return cls({op: tuple(dict.fromkeys(paths)) for op, paths in found.items()})

    def allows(self, op: StorageOp, lfn: str) -> bool:
        """Whether the scopes allow an operation on a path.

        ``create`` is writing a new file or directory; ``modify`` is overwriting, removing
        or renaming (it implies ``create``); ``stage`` implies ``read``.

        Args:
            op: ``read``, ``create``, ``modify`` or ``stage``.
            lfn: an absolute, canonical logical file name.

        Returns:
            True if some granting scope's path is ``lfn`` or a whole-component ancestor of
            it. False for a non-canonical ``lfn`` (``..``, ``.``, ``//``) or an unknown op.
        """
        if op not in _GRANTS or not _canonical_path(lfn):
            return False
        for grant in _GRANTS[op]:
            for path in self.paths.get(grant, ()):
                if path == "/" or lfn == path or lfn.startswith(path + "/"):
                    return True
        return False


@dataclass(frozen=True)
class TokenIssuer:
    """A trusted token issuer and its keys.

    Attributes:
        issuer: the ``iss`` value, exactly.
        keys: the issuer's public keys by ``kid``.
        vo: the VO this issuer speaks for; ``wlcg.groups`` must lie in it.
        base_path: where the issuer's storage scope ``/`` lies in the catalogue (``/juno``).
    """

    issuer: str
    keys: Mapping[str, jwt.PyJWK]
    vo: str | None = None
    base_path: str = "/"

    @classmethod
    def from_jwks(
        cls,
        issuer: str,
        jwks: Mapping[str, Any] | Path | str,
        *,
        vo: str | None = None,
        base_path: str = "/",
    ) -> TokenIssuer:
        """Configure an issuer from its JWKS (``{"keys": [...]}``).

        Args:
            issuer: the ``iss`` value.
            jwks: the JWKS as a mapping, or the path of a JSON file holding it.
            vo: the issuer's VO.
            base_path: the catalogue path its scopes are relative to.

        Returns:
            The issuer.

        Raises:
            dfc.errors.ConfigError: unreadable file, malformed JWKS, a key without ``kid``,
                or a symmetric key.
        """
        if not isinstance(jwks, Mapping):
            try:
                jwks = json.loads(Path(jwks).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read JWKS file {jwks}: {exc}") from exc
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            raise ConfigError(f"JWKS of issuer {issuer} has no 'keys' list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks["keys"]:
            if not isinstance(entry, dict) or not entry.get("kid"):
                raise ConfigError(f"a key of issuer {issuer} has no 'kid'")
            if entry.get("kty") not in _ALGORITHMS_BY_KTY:
                raise ConfigError(f"key {entry['kid']} of issuer {issuer}: unsupported kty")
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                raise ConfigError(f"key {entry['kid']} of issuer {issuer}: {exc}") from exc
        if not base_path.startswith("/") or not _canonical_path(base_path.rstrip("/") or "/"):
            raise ConfigError(f"base path of issuer {issuer} must be an absolute canonical path")
        return cls(issuer=issuer, keys=keys, vo=vo, base_path=base_path)


@dataclass(frozen=True)
class TokenClaims:
    """The verified content of a token.

    Attributes:
        issuer: ``iss``.
        subject: ``sub``.
        audience: ``aud`` as a tuple.
        expires: ``exp``.
        issued_at: ``iat``.
        groups: ``wlcg.groups``, normalised, in token order.
        scopes: the storage scopes, or None if the token has none.
        vo: the issuer's VO.
        token_id: ``jti``, if any.
    """

    issuer: str
    subject: str
    audience: tuple[str, ...]
    expires: datetime
    issued_at: datetime
    groups: tuple[str, ...]
    scopes: TokenScopes | None
    vo: str | None
    token_id: str | None


def _timestamp(claims: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidToken(f"token has no '{name}' claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"token claim '{name}' is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidToken(f"token claim '{name}' is out of range") from exc


class TokenVerifier:
    """Verifies WLCG bearer tokens against configured issuers; no network access.

    Args:
        issuers: the trusted issuers.
        audiences: the ``aud`` values that name this service (e.g. its URL).
        accept_any_audience: also accept the WLCG "any" audience.
        leeway: clock skew allowed on ``exp``, ``nbf`` and ``iat``.
        algorithms: the JWS algorithms accepted (asymmetric ones only).

    Raises:
        dfc.errors.ConfigError: no audience, or a symmetric or unknown algorithm.
    """

    def __init__(
        self,
        issuers: Sequence[TokenIssuer],
        *,
        audiences: Collection[str],
        accept_any_audience: bool = True,
        leeway: timedelta = timedelta(seconds=60),
        algorithms: Collection[str] = _DEFAULT_ALGORITHMS,
    ) -> None:
        allowed = frozenset().union(*_ALGORITHMS_BY_KTY.values())
        if not set(algorithms) <= allowed:
            raise ConfigError(f"unsupported token algorithms: {sorted(set(algorithms) - allowed)}")
        if not audiences:
            raise ConfigError("a token verifier needs at least one audience")
        self._issuers = {i.issuer: i for i in issuers}
        self._audiences = frozenset(audiences)
        self._any = accept_any_audience
        self._leeway = leeway
        self._algorithms = frozenset(algorithms)

    def verify(self, token: str, *, now: datetime | None = None) -> TokenClaims:
        """Verify a token and return its claims.

        Args:
            token: the compact JWS (the part after ``Bearer``).
            now: the time of verification (default: now).

        Returns:
            The verified claims.

        Raises:
            InvalidToken: malformed, unsigned, signed by an unknown issuer or key, expired,
                not yet valid, for another audience, of another WLCG profile version, with
                a group outside the issuer's VO or a storage scope without a valid path.
        """
        now = now or datetime.now(UTC)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        alg = str(header.get("alg", ""))
        if alg.lower() == "none":
            raise InvalidToken("unsigned token (alg=none) refused")
        if alg not in self._algorithms:
            raise InvalidToken(f"token algorithm {alg!r} is not accepted")
        issuer = self._issuers.get(str(unverified.get("iss", "")))
        if issuer is None:
            raise InvalidToken(f"unknown token issuer {unverified.get('iss')!r}")
        kid = header.get("kid")
        if not kid:
            raise InvalidToken("token header has no 'kid'")
        key = issuer.keys.get(str(kid))
        if key is None:
            raise InvalidToken(f"unknown key id {kid!r} for issuer {issuer.issuer}")
        if alg not in _ALGORITHMS_BY_KTY.get(key.key_type or "", frozenset()):
            raise InvalidToken(f"token algorithm {alg} does not fit key {kid}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token signature does not verify: {exc}") from exc
        return self._check_claims(claims, issuer, now)

    def _check_claims(
        self, claims: Mapping[str, Any], issuer: TokenIssuer, now: datetime
    ) -> TokenClaims:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token has no 'sub' claim")
        expires = _timestamp(claims, "exp", required=True)
        issued = _timestamp(claims, "iat", required=True)
        not_before = _timestamp(claims, "nbf", required=False)
        assert expires is not None
        assert issued is not None
        if now > expires + self._leeway:
            raise InvalidToken(f"token expired at {expires:%Y-%m-%d %H:%M:%S} UTC")
        if not_before is not None and now < not_before - self._leeway:
            raise InvalidToken(f"token is not valid before {not_before:%Y-%m-%d %H:%M:%S} UTC")
        if issued > now + self._leeway:
            raise InvalidToken("token is issued in the future")
        audience = self._audience(claims.get("aud"))
        version = claims.get("wlcg.ver")
        if not isinstance(version, str) or version.split(".")[0] != "1":
            raise InvalidToken(f"unsupported WLCG token profile version {version!r} (want 1.x)")
        groups = self._groups(claims.get("wlcg.groups", []), issuer)
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidToken("token claim 'scope' is not a string")
        jti = claims.get("jti")
        return TokenClaims(
            issuer=issuer.issuer,
            subject=subject,
            audience=audience,
            expires=expires,
            issued_at=issued,
            groups=groups,
            scopes=TokenScopes.parse(scope, base_path=issuer.base_path),
            vo=issuer.vo,
            token_id=str(jti) if jti is not None else None,
        )

    def _audience(self, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            audience: tuple[str, ...] = (value,)
        elif isinstance(value, list) and all(isinstance(a, str) for a in value):
            audience = tuple(value)
        else:
            raise InvalidToken("token has no valid 'aud' claim")
        if self._audiences.intersection(audience) or (self._any and ANY_AUDIENCE in audience):
            return audience
        raise InvalidToken(f"token audience {list(audience)} does not include this service")

    @staticmethod
    def _groups(value: object, issuer: TokenIssuer) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
            raise InvalidToken("token claim 'wlcg.groups' is not a list of strings")
        try:
            return tuple(dict.fromkeys(str(parse_fqan(g, vo=issuer.vo)) for g in value))
        except ValueError as exc:
            raise InvalidToken(f"bad group in token: {exc}") from exc
