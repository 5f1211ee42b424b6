"""``memory://`` storage elements (fsspec's in-memory filesystem), for tests and demos.

fsspec keeps one in-memory store per process; each SE lives under its own root
(``memory://NAME`` maps to ``/NAME``), so SEs with different URLs never see each
other's files, and two SEs with the same URL share them like two clients of one
server would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fsspec.implementations.memory import MemoryFileSystem

from dfc.errors import ConfigError, InvalidArgument
from dfc.se._errors import redact
from dfc.se._paths import normalize
from dfc.se.fsspec_se import FsspecSE

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dfc.models import SEInfo

__all__ = ["MemorySE"]


class MemorySE(FsspecSE):
    """A storage element in this process's memory.

    Args:
        name: the SE name.
        url: ``memory://ROOT`` (``ROOT`` may contain ``/``).

    Raises:
        InvalidArgument: ``url`` is not a ``memory://`` URL with a root.
    """

    def __init__(self, name: str, url: str) -> None:
        if not url.startswith("memory://"):
            raise InvalidArgument(f"not a memory:// URL: {redact(url)}")
        root = normalize(url[len("memory://") :])
        if root == "/":
            raise InvalidArgument(f"memory:// SE URL needs a root name: {redact(url)}")
        fs = MemoryFileSystem(skip_instance_cache=True)
        super().__init__(name, "memory://" + root.lstrip("/"), fs, root)

    @classmethod
    def from_info(cls, info: SEInfo, options: Mapping[str, Any] | None = None) -> MemorySE:
        """Build from a catalogue SE record (no options are accepted).

        Raises:
            ConfigError: options were given.
            InvalidArgument: the URL is not a ``memory://`` URL with a root.
        """
        if options:
            raise ConfigError(f"SE {info.name}: unknown option(s) {', '.join(sorted(options))}")
        return cls(info.name, info.url)
