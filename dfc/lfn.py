"""Logical file names: the rules, checked once at the edge.

An LFN is an absolute, canonical POSIX-like path: it starts with ``/``, has no
empty, ``.`` or ``..`` component, no trailing ``/`` (except the root itself), no
NUL or control characters, each component at most 255 bytes and the whole path
at most 4096 bytes (UTF-8).
"""

from __future__ import annotations

import re

from dfc.errors import InvalidLFN

__all__ = ["MAX_COMPONENT", "MAX_PATH", "basename", "dirname", "join", "parents", "validate"]

MAX_COMPONENT = 255
MAX_PATH = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# Common LFNs pass this without further work: components of 1 to 63 characters
# (at most 252 bytes in UTF-8), no control characters, at most 1024 characters
# (4096 bytes). Anything else, and any "/." that may be a "." or ".." component,
# takes the full check below.
_FAST = re.compile(r"(?:/[^/\x00-\x1f\x7f]{1,63})+")


def validate(lfn: str) -> str:
    """Check that ``lfn`` is a valid LFN and return it unchanged.

    Raises:
        InvalidLFN: with a message that says which rule is broken.
    """
    if type(lfn) is str and len(lfn) <= 1024 and "/." not in lfn and _FAST.fullmatch(lfn):
        return lfn
    return _validate_slowly(lfn)


def _validate_slowly(lfn: str) -> str:
    if not isinstance(lfn, str) or not lfn:
        raise InvalidLFN("invalid LFN: empty path")
    shown = lfn.encode("unicode_escape").decode("ascii")
    if not lfn.startswith("/"):
        raise InvalidLFN(f"invalid LFN {shown!r}: not an absolute path")
    if _CONTROL.search(lfn):
        raise InvalidLFN(f"invalid LFN {shown!r}: contains a NUL or control character")
    if len(lfn.encode("utf-8", "surrogatepass")) > MAX_PATH:
        raise InvalidLFN(f"invalid LFN {shown[:60]!r}...: longer than {MAX_PATH} bytes")
    if lfn == "/":
        return lfn
    if lfn.endswith("/"):
        raise InvalidLFN(f"invalid LFN {shown!r}: trailing '/'")
    for part in lfn[1:].split("/"):
        if part == "":
            raise InvalidLFN(f"invalid LFN {shown!r}: empty component ('//')")
        if part in (".", ".."):
            raise InvalidLFN(f"invalid LFN {shown!r}: '{part}' component")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT:
            raise InvalidLFN(
                f"invalid LFN {shown[:60]!r}: a component is longer than {MAX_COMPONENT} bytes"
            )
    return lfn


def dirname(lfn: str) -> str:
    """Return the parent directory of a valid LFN (``/`` for top-level entries)."""
    head = lfn.rsplit("/", 1)[0]
    return head or "/"


def basename(lfn: str) -> str:
    """Return the last component of a valid LFN (empty for ``/``)."""
    return lfn.rsplit("/", 1)[1] if lfn != "/" else ""


def join(directory: str, name: str) -> str:
    """Join a directory LFN and one component name."""
    return f"/{name}" if directory == "/" else f"{directory}/{name}"


def parents(lfn: str) -> list[str]:
    """Return every ancestor directory of ``lfn`` from ``/`` down to its parent."""
    out = ["/"]
    if lfn == "/":
        return []
    parts = lfn[1:].split("/")[:-1]
    cur = ""
    for part in parts:
        cur = f"{cur}/{part}"
        out.append(cur)
    return out
