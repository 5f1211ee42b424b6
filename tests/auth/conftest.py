"""Fixtures of the auth tests: the session's test PKI."""

from __future__ import annotations

from tests.auth.fixtures import pki, trust

__all__ = ["pki", "trust"]
