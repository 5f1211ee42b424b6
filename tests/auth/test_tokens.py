"""WLCG bearer tokens: verification, attacks, and storage scope matching."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from dfc.auth.errors import InvalidToken
from dfc.auth.tokens import ANY_AUDIENCE, TokenIssuer, TokenScopes, TokenVerifier
from dfc.errors import ConfigError
from tests.auth.pki import key

if TYPE_CHECKING:
    from pathlib import Path

ISS = "https://iam.junotest.org/"
AUD = "https://catalog.junotest.org"
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwks() -> dict[str, Any]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(key("iam").public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(EC_KEY.public_key()))
    return {"keys": [{**rsa_jwk, "kid": "rsa1"}, {**ec_jwk, "kid": "ec1"}]}


@pytest.fixture(scope="module")
def verifier() -> TokenVerifier:
    issuer = TokenIssuer.from_jwks(ISS, jwks(), vo="juno", base_path="/juno")
    return TokenVerifier([issuer], audiences=[AUD])


def claims(**overrides: Any) -> dict[str, Any]:
    t = int(time.time())
    base: dict[str, Any] = {
        "wlcg.ver": "1.0",
        "iss": ISS,
        "sub": "alice-sub",
        "aud": AUD,
        "iat": t,
        "nbf": t,
        "exp": t + 3600,
        "jti": "j1",
        "scope": "storage.read:/ storage.create:/user/alice",
        "wlcg.groups": ["/juno", "/juno/production"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(
    alg: str = "RS256", kid: str | None = "rsa1", signer: Any = None, **overrides: Any
) -> str:
    if signer is None:
        signer = EC_KEY if alg.startswith("ES") else key("iam")
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims(**overrides), signer, algorithm=alg, headers=headers)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ----------------------------------------------------------------------------- accepted


def test_rs256_token(verifier: TokenVerifier) -> None:
    c = verifier.verify(token())
    assert (c.issuer, c.subject, c.vo, c.token_id) == (ISS, "alice-sub", "juno", "j1")
    assert c.groups == ("/juno", "/juno/production")
    assert c.scopes is not None
    assert c.scopes.allows("read", "/juno/data/f")
    assert c.scopes.allows("create", "/juno/user/alice/new")


def test_es256_token(verifier: TokenVerifier) -> None:
    assert verifier.verify(token("ES256", kid="ec1")).subject == "alice-sub"


def test_any_audience_and_lists(verifier: TokenVerifier) -> None:
    assert verifier.verify(token(aud=ANY_AUDIENCE)).audience == (ANY_AUDIENCE,)
    assert verifier.verify(token(aud=["other", AUD])).audience == ("other", AUD)
    strict = TokenVerifier(
        [TokenIssuer.from_jwks(ISS, jwks())], audiences=[AUD], accept_any_audience=False
    )
    with pytest.raises(InvalidToken, match=r"audience"):
        strict.verify(token(aud=ANY_AUDIENCE))


def test_token_without_storage_scopes(verifier: TokenVerifier) -> None:
    assert verifier.verify(token(scope="openid profile")).scopes is None


def test_leeway(verifier: TokenVerifier) -> None:
    t = int(time.time())
    assert verifier.verify(token(exp=t - 30)).subject == "alice-sub"


def test_jwks_file(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks()))
    issuer = TokenIssuer.from_jwks(ISS, path)
    assert set(issuer.keys) == {"rsa1", "ec1"}


# ----------------------------------------------------------------------------- attacks


def test_alg_none(verifier: TokenVerifier) -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa1'})}.{b64(claims())}."
    with pytest.raises(InvalidToken, match=r"alg=none"):
        verifier.verify(unsigned)


def test_hmac_with_the_public_key(verifier: TokenVerifier) -> None:
    public_pem = (
        key("iam")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = b64({"alg": "HS256", "typ": "JWT", "kid": "rsa1"})
    body = b64(claims())
    import hashlib
    import hmac

    sig = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match=r"algorithm 'HS256' is not accepted"):
        verifier.verify(forged)


def test_wrong_audience(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"does not include this service"):
        verifier.verify(token(aud="https://other.example"))


def test_missing_audience(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"'aud'"):
        verifier.verify(token(aud=None))


def test_expired(verifier: TokenVerifier) -> None:
    t = int(time.time())
    with pytest.raises(InvalidToken, match=r"expired"):
        verifier.verify(token(iat=t - 7200, nbf=t - 7200, exp=t - 3600))


def test_expired_with_now(verifier: TokenVerifier) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    with pytest.raises(InvalidToken, match=r"expired"):
        verifier.verify(token(), now=later)


def test_not_yet_valid(verifier: TokenVerifier) -> None:
    t = int(time.time())
    with pytest.raises(InvalidToken, match=r"not valid before"):
        verifier.verify(token(nbf=t + 600))


def test_issued_in_the_future(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"future"):
        verifier.verify(token(iat=int(time.time()) + 600))


def test_unknown_issuer(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"unknown token issuer"):
        verifier.verify(token(iss="https://evil.example/"))


def test_unknown_kid(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"unknown key id"):
        verifier.verify(token(kid="other"))


def test_missing_kid(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"no 'kid'"):
        verifier.verify(token(kid=None))


def test_signed_by_another_key_same_kid(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"signature"):
        verifier.verify(token(signer=key("bob")))


def test_algorithm_not_fitting_the_key(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"does not fit key"):
        verifier.verify(token("ES256", kid="rsa1"))


def test_tampered_payload(verifier: TokenVerifier) -> None:
    header, _, sig = token().split(".")
    evil = f"{header}.{b64(claims(sub='admin'))}.{sig}"
    with pytest.raises(InvalidToken, match=r"signature"):
        verifier.verify(evil)


@pytest.mark.parametrize("version", [None, "2.0", 1])
def test_wlcg_version(verifier: TokenVerifier, version: object) -> None:
    with pytest.raises(InvalidToken, match=r"WLCG token profile version"):
        verifier.verify(token(**{"wlcg.ver": version}))


def test_missing_sub(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"'sub'"):
        verifier.verify(token(sub=None))


@pytest.mark.parametrize(
    "scope", ["storage.read", "storage.read:", "storage.modify: storage.read:/x"]
)
def test_scope_without_path(verifier: TokenVerifier, scope: str) -> None:
    with pytest.raises(InvalidToken, match=r"has no path"):
        verifier.verify(token(scope=scope))


@pytest.mark.parametrize(
    "scope",
    [
        "storage.read:/juno/../etc",
        "storage.read:relative",
        "storage.read://x",
        "storage.read:/a/./b",
    ],
)
def test_scope_with_non_canonical_path(verifier: TokenVerifier, scope: str) -> None:
    with pytest.raises(InvalidToken, match=r"non-canonical"):
        verifier.verify(token(scope=scope))


def test_group_outside_the_vo(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"outside VO"):
        verifier.verify(token(**{"wlcg.groups": ["/atlas"]}))


def test_garbage(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"malformed"):
        verifier.verify("not.a.token")


# ----------------------------------------------------------------------------- scopes


def scopes(text: str, base: str = "/juno") -> TokenScopes:
    parsed = TokenScopes.parse(text, base_path=base)
    assert parsed is not None
    return parsed


def test_scope_matching_on_whole_components() -> None:
    s = scopes("storage.read:/user")
    assert s.allows("read", "/juno/user")
    assert s.allows("read", "/juno/user/alice/f")
    assert not s.allows("read", "/juno/username")
    assert not s.allows("read", "/juno/username/f")
    assert not s.allows("read", "/juno")


def test_scope_root_is_the_vo_base() -> None:
    s = scopes("storage.read:/")
    assert s.allows("read", "/juno/x")
    assert s.allows("read", "/juno")
    assert not s.allows("read", "/junox/y")
    assert not s.allows("read", "/atlas/x")


def test_scope_path_traversal() -> None:
    s = scopes("storage.modify:/user/alice")
    assert s.allows("modify", "/juno/user/alice/f")
    for lfn in [
        "/juno/user/alice/../bob/f",
        "/juno/user/alice/./f",
        "/juno/user/alice//f",
        "juno/user/alice/f",
        "/juno/user/alice/\x00",
    ]:
        assert not s.allows("modify", lfn), lfn


def test_create_does_not_allow_modify() -> None:
    s = scopes("storage.create:/user/alice")
    assert s.allows("create", "/juno/user/alice/new")
    assert not s.allows("modify", "/juno/user/alice/new")
    assert not s.allows("read", "/juno/user/alice/new")


def test_modify_implies_create_not_read() -> None:
    s = scopes("storage.modify:/user/alice")
    assert s.allows("create", "/juno/user/alice/x")
    assert not s.allows("read", "/juno/user/alice/x")


def test_stage_implies_read() -> None:
    s = scopes("storage.stage:/data")
    assert s.allows("read", "/juno/data/f")
    assert s.allows("stage", "/juno/data/f")
    assert not s.allows("create", "/juno/data/f")


def test_unknown_op() -> None:
    assert not scopes("storage.read:/").allows("delete", "/juno/x")  # type: ignore[arg-type]


def test_base_path_root() -> None:
    s = scopes("storage.read:/juno/data", base="/")
    assert s.allows("read", "/juno/data/f")
    assert not s.allows("read", "/juno/database")


def test_trailing_slash_in_scope() -> None:
    s = scopes("storage.read:/data/")
    assert s.allows("read", "/juno/data/f")
    assert not s.allows("read", "/juno/dataset")


# ----------------------------------------------------------------------------- configuration


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read JWKS"):
        TokenIssuer.from_jwks(ISS, tmp_path / "none.json")
    with pytest.raises(ConfigError, match=r"no 'keys'"):
        TokenIssuer.from_jwks(ISS, {"nokeys": 1})
    with pytest.raises(ConfigError, match=r"no 'kid'"):
        TokenIssuer.from_jwks(ISS, {"keys": [{"kty": "RSA"}]})
    with pytest.raises(ConfigError, match=r"unsupported kty"):
        TokenIssuer.from_jwks(ISS, {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]})
    with pytest.raises(ConfigError, match=r"unsupported token algorithms"):
        TokenVerifier([], audiences=[AUD], algorithms=["HS256"])
    with pytest.raises(ConfigError, match=r"audience"):
        TokenVerifier([], audiences=[])
