"""Engine settings, read from the ``[transfers]`` table of the configuration file.

Every key is optional::

    [transfers]
    concurrency = 8          # copies in flight per engine (also `dfc get/put`)
    retries = 3              # retries of a transient failure
    retry_delay = 10.0       # seconds before the first retry, doubled each time
    retry_max_delay = 600.0
    checksum_rereads = 1     # re-reads of a source after a checksum mismatch
    link_min = 2             # bounds of each link's concurrency (optimizer)
    link_max = 0             # 0: the SE caps
    optimizer_interval = 5.0 # seconds between optimizer decisions
    heartbeat = 10.0         # seconds between agent heartbeats
    agent_grace = 60.0       # silence after which an agent is declared dead
    timeout = 600.0          # per copy: timeout + timeout_per_mib * size in MiB
    timeout_per_mib = 2.0

    [transfers.inbound]      # per-SE cap of copies in flight into it
    CNAF-XROOTD = 20
    [transfers.outbound]     # per-SE cap of copies in flight out of it
    IHEP-DISK = 30
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from dfc.errors import ConfigError
from dfc.fts.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dfc.config import Settings

__all__ = ["EngineConfig"]


@dataclass(frozen=True)
class EngineConfig:
    """Everything that tunes the transfer engine (see the module docstring)."""

    concurrency: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    inbound: Mapping[str, int] = field(default_factory=dict)
    outbound: Mapping[str, int] = field(default_factory=dict)
    link_min: int = 2
    link_max: int = 0
    optimizer_interval: float = 5.0
    heartbeat: float = 10.0
    agent_grace: float = 60.0
    timeout: float = 600.0
    timeout_per_mib: float = 2.0
    settle_interval: float = 0.25
    source_quarantine: float = 60.0

    def inbound_cap(self, se: str) -> int:
        """Copies allowed in flight into ``se``."""
        return self.inbound.get(se, self.concurrency)

    def outbound_cap(self, se: str) -> int:
        """Copies allowed in flight out of ``se``."""
        return self.outbound.get(se, self.concurrency)

    def link_bounds(self, source: str, dest: str) -> tuple[int, int]:
        """The optimizer's ``(min, max)`` for a link."""
        high = min(self.outbound_cap(source), self.inbound_cap(dest), self.concurrency)
        if self.link_max:
            high = min(high, self.link_max)
        high = max(1, high)
        return min(self.link_min, high), high

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> EngineConfig:
        """Read ``[transfers]`` from the settings; ``overrides`` win.

        Raises:
            ConfigError: a value has the wrong type or is out of range.
        """
        raw = settings.raw.get("transfers", {})
        if not isinstance(raw, dict):
            raise ConfigError("[transfers] must be a table")
        path = settings.config_file
        retry = RetryPolicy(
            retries=_int(raw, "retries", 3, path, low=0),
            delay=_num(raw, "retry_delay", 10.0, path),
            max_delay=_num(raw, "retry_max_delay", 600.0, path),
            checksum_rereads=_int(raw, "checksum_rereads", 1, path, low=0),
        )
        values: dict[str, Any] = {
            "concurrency": settings.transfer_concurrency,
            "retry": retry,
            "inbound": _caps(raw, "inbound", path),
            "outbound": _caps(raw, "outbound", path),
            "link_min": _int(raw, "link_min", 2, path, low=1),
            "link_max": _int(raw, "link_max", 0, path, low=0),
            "optimizer_interval": _num(raw, "optimizer_interval", 5.0, path),
            "heartbeat": _num(raw, "heartbeat", 10.0, path),
            "agent_grace": _num(raw, "agent_grace", 60.0, path),
            "timeout": _num(raw, "timeout", 600.0, path),
            "timeout_per_mib": _num(raw, "timeout_per_mib", 2.0, path),
        }
        values.update(overrides)
        return cls(**values)


def _int(raw: Mapping[str, Any], key: str, default: int, path: object, *, low: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{path}: transfers.{key} must be an integer >= {low}")
    return value


def _num(raw: Mapping[str, Any], key: str, default: float, path: object) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{path}: transfers.{key} must be a number >= 0")
    return float(value)


def _caps(raw: Mapping[str, Any], key: str, path: object) -> Mapping[str, int]:
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [transfers.{key}] must be a table of SE = limit")
    out: dict[str, int] = {}
    for se, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: transfers.{key}.{se} must be a positive integer")
        out[se] = value
    return MappingProxyType(out)
