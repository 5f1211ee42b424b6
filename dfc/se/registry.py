"""Which class serves which URL scheme: a lazy, read-only registry plus plugins.

:data:`registry` maps a protocol to ``{"class": "module:Class", "err": "..."}``;
the module is imported only when an SE of that protocol is opened, and ``err``
is the install hint shown when the import fails. Third-party backends register
through the entry-point group ``dfc.storage_elements`` (name = protocol, value =
``module:Class``); built-ins win over plugins of the same name.

A registered class must provide
``from_info(info: SEInfo, options: Mapping[str, Any] | None) -> StorageElement``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from dfc.errors import InvalidArgument, OptionalDependencyMissing

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dfc.models import SEInfo
    from dfc.se.base import StorageElement

__all__ = ["ENTRY_POINT_GROUP", "known_protocols", "open_se", "registry", "resolve"]

ENTRY_POINT_GROUP = "dfc.storage_elements"

_WEBDAV = {"class": "dfc.se.webdav:WebDAVSE", "err": "pip install 'dfc[webdav]'"}

#: protocol -> {"class": "module:Class", "err": install hint}; read-only.
registry: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "file": MappingProxyType({"class": "dfc.se.local:LocalSE", "err": ""}),
        "memory": MappingProxyType({"class": "dfc.se.memory:MemorySE", "err": ""}),
        "root": MappingProxyType(
            {"class": "dfc.se.xrootd:XRootDSE", "err": "pip install 'dfc[xrootd]'"}
        ),
        "davs": MappingProxyType(_WEBDAV),
        "https": MappingProxyType(_WEBDAV),
        "http": MappingProxyType(_WEBDAV),
        "s3": MappingProxyType({"class": "dfc.se.s3:S3SE", "err": "pip install 'dfc[s3]'"}),
    }
)


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_protocols() -> list[str]:
    """Return every protocol that has a backend (built-in or plugin), sorted."""
    return sorted(set(registry) | set(_plugins()))


def _import(target: str, protocol: str, hint: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name and module_name.startswith("dfc."):
            raise OptionalDependencyMissing(
                f"protocol {protocol!r}: backend {module_name} is not implemented yet"
            ) from exc
        missing = exc.name or str(exc)
        how = f"; install it with: {hint}" if hint else ""
        raise OptionalDependencyMissing(
            f"protocol {protocol!r} needs the missing package {missing!r}{how}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise OptionalDependencyMissing(
            f"protocol {protocol!r}: {module_name} has no {attr!r}"
        ) from None


def resolve(protocol: str) -> Any:
    """Import and return the class serving ``protocol``.

    Raises:
        InvalidArgument: no backend is known for ``protocol``.
        OptionalDependencyMissing: the backend's package is not installed (the
            message names the ``pip install`` command).
    """
    if protocol in registry:
        entry = registry[protocol]
        return _import(entry["class"], protocol, entry.get("err", ""))
    plugins = _plugins()
    if protocol in plugins:
        return _import(plugins[protocol], protocol, "")
    raise InvalidArgument(
        f"unknown storage protocol {protocol!r} (known: {', '.join(known_protocols())})"
    )


def open_se(info: SEInfo, options: Mapping[str, Any] | None = None) -> StorageElement:
    """Return a new storage element for the catalogue record ``info``.

    ``options`` are this machine's settings for the SE (credentials, endpoints,
    tuning), e.g. ``Settings.se_options.get(info.name)``. No I/O happens here.
    The caller owns the SE and must ``await se.close()``.

    Raises:
        InvalidArgument: unknown protocol or malformed URL.
        ConfigError: an option is unknown or has the wrong type.
        OptionalDependencyMissing: the backend's package is not installed.
    """
    cls = resolve(info.protocol)
    se: StorageElement = cls.from_info(info, options)
    return se
