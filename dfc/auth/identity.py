"""The identity of a caller, whatever credential proved it.

:class:`Identity` is what the server and the API authorise on: a principal name, the VO
attributes (FQANs, the groups and roles they name), whether the credential is limited
(read-only), and how it was established (``x509``, ``token`` or ``local``).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dfc.auth.errors import ReadOnlyCredential, ScopeDenied
from dfc.auth.fqan import fqan_groups, fqan_roles, normalize_fqan, parse_fqan

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from dfc.auth.chain import ChainIdentity
    from dfc.auth.tokens import StorageOp, TokenClaims, TokenScopes
    from dfc.auth.voms import VOMSAttributes

__all__ = ["Identity", "Via"]

#: How an identity was established.
Via = Literal["x509", "token", "local"]


@dataclass(frozen=True)
class Identity:
    """Who is calling, and with which VO attributes.

    Attributes:
        dn: the principal name. X.509: the end-entity subject (``/DC=org/.../CN=Alice``);
            token: ``<iss>#<sub>``; local: ``local:<user name>``. Only X.509 names start
            with ``/``, so the three kinds never collide.
        vo: the VO the attributes belong to (the first verified one), or None.
        fqans: normalised FQANs, primary first (X.509: verified VOMS; token: wlcg.groups).
        groups: the distinct group paths of ``fqans`` (``/juno``, ``/juno/production``).
        roles: the distinct role names of ``fqans`` (``production``).
        limited: a limited proxy: may read, may not change anything.
        via: ``x509``, ``token`` or ``local``.
        user: the local user name (local), the token subject (token), or None.
        issuer: the CA DN (x509) or the token issuer (token), or None.
        not_after: when the credential expires, or None (local).
        scopes: the token's storage scopes, or None when not restricted by scopes.
    """

    dn: str
    vo: str | None = None
    fqans: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    limited: bool = False
    via: Via = "local"
    user: str | None = None
    issuer: str | None = None
    not_after: datetime | None = None
    scopes: TokenScopes | None = None

    @property
    def primary_fqan(self) -> str | None:
        """The first FQAN (the one VOMS and LCMAPS map accounts on), or None."""
        return self.fqans[0] if self.fqans else None

    def has_fqan(self, fqan: str) -> bool:
        """Whether the identity holds exactly this FQAN (``Role=NULL`` spellings accepted).

        Args:
            fqan: e.g. ``/juno/production/Role=production``.

        Returns:
            True if held. A malformed ``fqan`` is never held.
        """
        try:
            return normalize_fqan(fqan) in self.fqans
        except ValueError:
            return False

    def in_group(self, group: str) -> bool:
        """Whether the identity is a member of exactly this group (children do not count).

        Args:
            group: e.g. ``/juno/production``.

        Returns:
            True if one of the FQANs names this group.
        """
        return group in self.groups

    def require_write(self) -> None:
        """Refuse changes for a limited proxy.

        Raises:
            ReadOnlyCredential: the credential is limited.
        """
        if self.limited:
            raise ReadOnlyCredential(f"{self.dn}: a limited proxy may read but not change anything")

    def require_scope(self, op: StorageOp, lfn: str) -> None:
        """Refuse an operation the token's storage scopes do not cover.

        Identities without scopes (X.509, local, tokens without storage scopes) pass.

        Args:
            op: ``read``, ``create``, ``modify`` or ``stage``.
            lfn: the logical file name the operation touches.

        Raises:
            ScopeDenied: the scopes do not allow ``op`` on ``lfn``.
        """
        if self.scopes is not None and not self.scopes.allows(op, lfn):
            raise ScopeDenied(f"the token's scopes do not allow {op} on {lfn}")

    @classmethod
    def local(cls, user: str | None = None, *, fqans: Sequence[str] = ()) -> Identity:
        """The identity of a local operating-system user (embedded mode).

        Args:
            user: the user name (default: the user running this process).
            fqans: VO attributes to grant (from configuration; nothing is verified here).

        Returns:
            An identity with ``via="local"``.

        Raises:
            ValueError: an FQAN is malformed.
        """
        name = user or _os_user()
        return cls._with_fqans(dn=f"local:{name}", fqans=fqans, via="local", user=name)

    @classmethod
    def from_x509(cls, chain: ChainIdentity, voms: Sequence[VOMSAttributes] = ()) -> Identity:
        """The identity of a validated proxy chain and its verified VOMS attributes.

        Args:
            chain: what :func:`dfc.auth.chain.validate_chain` returned.
            voms: what :func:`dfc.auth.voms.verify_voms` returned (unverified attributes
                are ignored).

        Returns:
            An identity with ``via="x509"``; its expiry is the earliest of the chain and ACs.
        """
        verified = [v for v in voms if v.verified]
        fqans = [f for v in verified for f in v.fqans]
        expiries = [chain.not_after] + [v.not_after for v in verified]
        return cls._with_fqans(
            dn=chain.dn,
            fqans=fqans,
            via="x509",
            vo=verified[0].vo if verified else None,
            limited=chain.limited,
            issuer=chain.ca_dn,
            not_after=min(expiries),
        )

    @classmethod
    def from_token(cls, claims: TokenClaims) -> Identity:
        """The identity of a verified bearer token.

        Args:
            claims: what :meth:`dfc.auth.tokens.TokenVerifier.verify` returned.

        Returns:
            An identity with ``via="token"``; ``wlcg.groups`` become its FQANs.
        """
        return cls._with_fqans(
            dn=f"{claims.issuer}#{claims.subject}",
            fqans=claims.groups,
            via="token",
            vo=claims.vo,
            user=claims.subject,
            issuer=claims.issuer,
            not_after=claims.expires,
            scopes=claims.scopes,
        )

    @classmethod
    def _with_fqans(
        cls,
        *,
        dn: str,
        fqans: Sequence[str],
        via: Via,
        vo: str | None = None,
        limited: bool = False,
        user: str | None = None,
        issuer: str | None = None,
        not_after: datetime | None = None,
        scopes: TokenScopes | None = None,
    ) -> Identity:
        normal = tuple(dict.fromkeys(normalize_fqan(f) for f in fqans))
        if vo is None and normal:
            vo = parse_fqan(normal[0]).vo
        return cls(
            dn=dn,
            vo=vo,
            fqans=normal,
            groups=fqan_groups(normal),
            roles=fqan_roles(normal),
            limited=limited,
            via=via,
            user=user,
            issuer=issuer,
            not_after=not_after,
            scopes=scopes,
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
