"""Result values of the data operations of the public API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["GetResult", "InitResult", "RemoveResult", "ReplicateResult", "SEProbe"]


@dataclass(frozen=True, slots=True)
class GetResult:
    """One file downloaded and verified.

    Attributes:
        lfn: the file.
        path: where it was written.
        se: the storage element its bytes came from.
        size: bytes written.
        bad_replicas: replicas tried first that failed (SE name -> reason).
    """

    lfn: str
    path: Path
    se: str
    size: int
    bad_replicas: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReplicateResult:
    """One file copied to a storage element and registered there.

    Attributes:
        lfn: the file.
        se: the destination storage element.
        source: the SE the bytes came from (``None`` when nothing was copied).
        size: bytes copied (0 when the replica existed already).
        skipped: the destination held a replica already: nothing was done.
        bad_replicas: sources tried first that failed (SE name -> reason).
    """

    lfn: str
    se: str
    source: str | None
    size: int
    skipped: bool = False
    bad_replicas: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """What a removal did to one LFN.

    Attributes:
        lfn: the file or directory.
        removed_replicas: SEs whose copies were removed.
        removed: the LFN itself is gone from the catalogue.
    """

    lfn: str
    removed_replicas: tuple[str, ...] = ()
    removed: bool = True


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init`` created or upgraded.

    Attributes:
        config_file: the configuration file path.
        config_created: it did not exist and was written.
        catalog_url: the catalogue (password masked).
    """

    config_file: Path
    config_created: bool
    catalog_url: str


@dataclass(frozen=True, slots=True)
class SEProbe:
    """What ``se test`` found.

    Attributes:
        se: the storage element.
        ok: every step worked.
        timings: step name -> seconds, for the steps that ran.
        error: the first failure, if any.
        size: bytes written and read back.
    """

    se: str
    ok: bool
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    size: int = 0
