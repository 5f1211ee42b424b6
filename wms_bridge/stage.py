"""Staging for jobs: inputs in from the closest good replica, outputs out with failover.

Stage-in (:func:`stage_in`) downloads each input with :meth:`dfc.DFC.get`, which
tries the replicas at the user's site first, verifies size and checksums, and
moves on to the next replica when one fails; the SEs in ``preferred_se`` are
tried before all others, and rounds of retries cover transient outages. A file
already present with the catalogue's size and adler32 is not downloaded again.
A manifest (JSON) records what was staged: LFN, local path, the replica used,
size and checksums.

Stage-out (:func:`stage_out`) uploads and registers outputs with
:meth:`dfc.DFC.put` (atomic per file: nothing is left when it fails), trying the
failover SEs in order when an SE fails, then sets metadata and records the
ancestry (the inputs of the job's manifest). An output already registered with
the same size and adler32 is kept, so re-running after a partial failure
completes the job without duplicates; an output whose metadata or ancestry
cannot be recorded is removed again, so nothing half-registered remains.
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfc import DFC, BulkResult, DFCError
from wms_bridge.errors import StagingError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from dfc import Entry

__all__ = [
    "MANIFEST_VERSION",
    "StagedIn",
    "StagedOut",
    "expand_patterns",
    "read_lfns",
    "read_manifest",
    "stage_in",
    "stage_out",
    "write_json",
]

MANIFEST_VERSION = 1
_CHUNK = 1 << 20
#: Error kinds after which another SE may well succeed.
_SE_KINDS = frozenset(
    {
        "SEUnavailable",
        "SETimeout",
        "SETransient",
        "StorageError",
        "SEBanned",
        "SENotFound",
        "NoSpace",
        "ChecksumMismatch",
        "SizeMismatch",
        "PFNNotFound",
        "OptionalDependencyMissing",
    }
)


@dataclass(frozen=True)
class StagedIn:
    """One input file on local disk, verified against the catalogue.

    Attributes:
        lfn: the file.
        path: its absolute local path.
        se: the replica it was read from (``None``: it was there already).
        size: bytes.
        adler32: the catalogue's adler32.
        xxh3: the catalogue's xxh3 (if known).
        bad_replicas: replicas that failed first (SE -> reason).
    """

    lfn: str
    path: str
    se: str | None
    size: int
    adler32: str | None
    xxh3: str | None = None
    bad_replicas: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StagedOut:
    """One output file, stored and registered.

    Attributes:
        lfn: its LFN.
        path: the local file it came from.
        se: the SE that holds it.
        size: bytes.
        adler32: its adler32.
        xxh3: its xxh3.
        reused: it was registered already (same size and adler32): not uploaded again.
        failed_ses: SEs tried first that failed (SE -> reason).
    """

    lfn: str
    path: str
    se: str
    size: int
    adler32: str | None
    xxh3: str | None = None
    reused: bool = False
    failed_ses: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------- helpers
def adler32_file(path: Path) -> str:
    """The adler32 of a local file, as 8 lower-case hex digits.

    Raises:
        OSError: the file cannot be read.
    """
    value = 1
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            value = zlib.adler32(chunk, value)
    return f"{value & 0xFFFFFFFF:08x}"


def _same_adler(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    try:
        return int(a, 16) == int(b, 16)
    except ValueError:
        return False


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file, then rename).

    Raises:
        StagingError: the file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StagingError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """The file entries of a stage-in manifest (each has at least ``lfn``).

    Also accepts a JSON list of LFNs (or of ``{"lfn": ...}`` objects).

    Raises:
        StagingError: the file cannot be read or is not a manifest.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StagingError(f"cannot read manifest {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise StagingError(f"{path}:{exc.lineno}: not a JSON manifest: {exc.msg}") from None
    items = data.get("files") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise StagingError(f"{path}: a manifest is a list of files or {{'files': [...]}}")
    out = []
    for index, item in enumerate(items):
        entry = {"lfn": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("lfn"), str):
            raise StagingError(f"{path}: files[{index}]: expected an LFN or {{'lfn': ...}}")
        out.append(entry)
    return out


def read_lfns(path: Path) -> list[str]:
    """The LFNs listed in ``path``: a manifest (JSON) or a text file, one per line.

    Raises:
        StagingError: the file cannot be read or parsed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StagingError(f"cannot read {path}: {exc}") from None
    if text.lstrip().startswith(("{", "[")):
        return [e["lfn"] for e in read_manifest(path)]
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def expand_patterns(patterns: Iterable[str], cwd: Path) -> tuple[list[Path], list[str]]:
    """Files matching the glob ``patterns`` below ``cwd``, and the patterns matching none.

    A file matched by several patterns is listed once.
    """
    files: list[Path] = []
    seen: set[Path] = set()
    unmatched: list[str] = []
    for pattern in patterns:
        target = Path(pattern)
        matches = (
            sorted(Path(target.anchor).glob(str(target.relative_to(target.anchor))))
            if target.is_absolute()
            else sorted(cwd.glob(pattern))
        )
        matches = [m for m in matches if m.is_file()]
        if not matches:
            unmatched.append(pattern)
        for match in matches:
            if match not in seen:
                seen.add(match)
                files.append(match)
    return files, unmatched


def _with_concurrency(dfc: DFC, parallel: int | None) -> DFC:
    settings = dfc.settings
    if (
        parallel is None
        or parallel == settings.transfer_concurrency == settings.small_file_concurrency
    ):
        return dfc
    if parallel < 1:
        raise StagingError(f"--parallel must be at least 1, got {parallel}")
    # An explicit limit holds for every copy, small files included.
    return DFC(
        dataclasses.replace(
            dfc.settings, transfer_concurrency=parallel, small_file_concurrency=parallel
        )
    )


# ---------------------------------------------------------------------- stage-in
def stage_in(
    dfc: DFC,
    lfns: Sequence[str],
    dest: Path,
    *,
    parallel: int | None = None,
    preferred_se: Sequence[str] = (),
    retries: int = 2,
    retry_delay: float = 1.0,
    manifest: Path | None = None,
) -> BulkResult[StagedIn]:
    """Download ``lfns`` into directory ``dest``, verified; write ``manifest``.

    Each file becomes ``dest/<file name>``. Failed files are in ``failed`` (the
    manifest lists them too); files that failed on a transient error are tried
    again ``retries`` times, ``retry_delay`` seconds apart (doubling).

    Raises:
        StagingError: ``dest`` cannot be created or the manifest written.
    """
    result: BulkResult[StagedIn] = BulkResult()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StagingError(f"cannot create {dest}: {exc.strerror}") from None
    dest = dest.resolve()
    wanted = _unique_names(list(dict.fromkeys(lfns)), result)
    found = dfc.stat(wanted) if wanted else BulkResult()
    result.failed.update(found.failed)
    entries: dict[str, Entry] = {}
    for lfn in wanted:
        entry = found.succeeded.get(lfn)
        if entry is None:
            continue
        if entry.is_dir:
            result.failed[lfn] = StagingError(f"{lfn} is a directory, not a file")
        elif not _present(entry, dest / posixpath.basename(lfn), result):
            entries[lfn] = entry
    if entries:
        getter = _with_concurrency(dfc, parallel)
        try:
            _download(getter, entries, dest, preferred_se, retries, retry_delay, result)
        finally:
            if getter is not dfc:
                getter.close()
    ordered: BulkResult[StagedIn] = BulkResult()
    for lfn in dict.fromkeys(lfns):
        if lfn in result.succeeded:
            ordered.succeeded[lfn] = result.succeeded[lfn]
        if lfn in result.failed:
            ordered.failed[lfn] = result.failed[lfn]
    if manifest is not None:
        write_json(manifest, _in_manifest(ordered, dest))
    return ordered


def _unique_names(lfns: list[str], result: BulkResult[StagedIn]) -> list[str]:
    names: dict[str, str] = {}
    out = []
    for lfn in lfns:
        name = posixpath.basename(lfn.rstrip("/"))
        if name in names:
            result.failed[lfn] = StagingError(
                f"{lfn}: same file name as {names[name]}; stage them into different directories"
            )
            continue
        names[name] = lfn
        out.append(lfn)
    return out


def _present(entry: Entry, target: Path, result: BulkResult[StagedIn]) -> bool:
    """Whether ``target`` holds ``entry`` already (size and adler32 match)."""
    try:
        if not target.is_file() or target.stat().st_size != entry.size:
            return False
        if not _same_adler(adler32_file(target), entry.adler32):
            return False
    except OSError:
        return False
    result.succeeded[entry.lfn] = StagedIn(
        entry.lfn, str(target), None, entry.size, entry.adler32, entry.xxh3
    )
    return True


def _download(
    dfc: DFC,
    entries: dict[str, Entry],
    dest: Path,
    preferred: Sequence[str],
    retries: int,
    delay: float,
    result: BulkResult[StagedIn],
) -> None:
    pending = dict(entries)
    bad: dict[str, dict[str, str]] = {}
    for se in preferred:
        here = [lfn for lfn, e in pending.items() if any(r.se == se for r in e.replicas)]
        if here:
            got = _get(dfc, here, dest, se, entries)
            for lfn, err in got.failed.items():
                bad.setdefault(lfn, {})[se] = str(err)
            for lfn, staged in got.succeeded.items():
                result.succeeded[lfn] = staged
                del pending[lfn]
    for attempt in range(retries + 1):
        if not pending:
            break
        if attempt:
            time.sleep(delay * 2 ** (attempt - 1))
        got = _get(dfc, list(pending), dest, None, entries)
        for lfn, staged in got.succeeded.items():
            earlier = bad.get(lfn, {})
            result.succeeded[lfn] = dataclasses.replace(
                staged, bad_replicas={**earlier, **staged.bad_replicas}
            )
            del pending[lfn]
        for lfn, err in got.failed.items():
            result.failed[lfn] = err
            if not _transient(err):
                pending.pop(lfn, None)
    for lfn in result.succeeded:
        result.failed.pop(lfn, None)


def _transient(err: DFCError) -> bool:
    return err.retryable or err.kind == "NoReplicaAvailable"


def _get(
    dfc: DFC, lfns: list[str], dest: Path, se: str | None, entries: dict[str, Entry]
) -> BulkResult[StagedIn]:
    out: BulkResult[StagedIn] = BulkResult()
    try:
        got = dfc.get(lfns, dest, se=se)
    except DFCError as exc:
        out.failed = dict.fromkeys(lfns, exc)
        return out
    out.failed.update(got.failed)
    for lfn, res in got.succeeded.items():
        entry = entries[lfn]
        out.succeeded[lfn] = StagedIn(
            lfn,
            str(Path(res.path).resolve()),
            res.se,
            res.size,
            entry.adler32,
            entry.xxh3,
            dict(res.bad_replicas),
        )
    return out


def _in_manifest(result: BulkResult[StagedIn], dest: Path) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "kind": "stage-in",
        "dest": str(dest),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": [dataclasses.asdict(s) for s in result.succeeded.values()],
        "failed": {lfn: str(err) for lfn, err in result.failed.items()},
    }


# ---------------------------------------------------------------------- stage-out
def stage_out(
    dfc: DFC,
    files: Sequence[Path],
    to: str,
    *,
    se: str | None = None,
    failover_se: Sequence[str] = (),
    meta: Mapping[str, str | int | float] | None = None,
    ancestors: Sequence[str] = (),
    overwrite: bool = False,
    report: Path | None = None,
) -> BulkResult[StagedOut]:
    """Upload ``files`` into LFN directory ``to`` and register them, with failover.

    The SEs are tried in order: ``se`` (or dfc's default choice), then each of
    ``failover_se``, moving on only after SE failures (not after, say, an LFN
    that exists with other content). Each stored file gets ``meta`` and has
    ``ancestors`` recorded. Results are keyed by LFN; ``report`` receives them
    as JSON.

    Raises:
        StagingError: ``to`` is not an absolute LFN directory, or ``report``
            cannot be written.
    """
    if not to.startswith("/"):
        raise StagingError(f"--to {to!r}: not an absolute LFN directory")
    to = to.rstrip("/") or "/"
    result: BulkResult[StagedOut] = BulkResult()
    local: dict[str, Path] = {}
    for path in files:
        lfn = posixpath.join(to, path.name)
        if lfn in local:
            result.failed[lfn] = StagingError(f"{path} and {local[lfn]} would both be {lfn}")
        else:
            local[lfn] = path
    todo = _reusable(dfc, local, overwrite, result)
    if todo:
        _upload(dfc, todo, to, [se, *failover_se], overwrite, result)
    fresh = [lfn for lfn in result.succeeded if not result.succeeded[lfn].reused]
    _annotate(dfc, list(result.succeeded), fresh, meta or {}, ancestors, result)
    ordered: BulkResult[StagedOut] = BulkResult()
    for lfn in local:
        if lfn in result.succeeded:
            ordered.succeeded[lfn] = result.succeeded[lfn]
    ordered.failed.update(result.failed)
    if report is not None:
        write_json(report, _out_report(ordered, to))
    return ordered


def _reusable(
    dfc: DFC, local: dict[str, Path], overwrite: bool, result: BulkResult[StagedOut]
) -> dict[str, Path]:
    """Files still to upload; identical registered ones go to ``result`` as reused."""
    found = dfc.stat(list(local)) if local else BulkResult()
    todo: dict[str, Path] = {}
    for lfn, path in local.items():
        if lfn in result.failed:
            continue
        entry = found.succeeded.get(lfn)
        err = found.failed.get(lfn)
        if err is not None and err.kind != "LFNNotFound":
            result.failed[lfn] = err
            continue
        if entry is None:
            todo[lfn] = path
            continue
        if entry.is_dir:
            result.failed[lfn] = StagingError(f"{lfn} is a directory")
            continue
        try:
            same = path.stat().st_size == entry.size and _same_adler(
                adler32_file(path), entry.adler32
            )
        except OSError as exc:
            result.failed[lfn] = StagingError(f"cannot read {path}: {exc.strerror}")
            continue
        if same and entry.replicas:
            result.succeeded[lfn] = StagedOut(
                lfn, str(path), entry.replicas[0].se, entry.size, entry.adler32, entry.xxh3, True
            )
        elif overwrite:
            todo[lfn] = path
        else:
            result.failed[lfn] = StagingError(
                f"{lfn} exists with other content (use --overwrite to replace it)"
            )
    return todo


def _upload(
    dfc: DFC,
    todo: dict[str, Path],
    to: str,
    ses: list[str | None],
    overwrite: bool,
    result: BulkResult[StagedOut],
) -> None:
    pending = dict(todo)
    tried: dict[str, dict[str, str]] = {lfn: {} for lfn in todo}
    last: dict[str, DFCError] = {}
    for se in ses:
        if not pending:
            break
        label = se or "(default SE)"
        try:
            put = dfc.put(list(pending.values()), to.rstrip("/") + "/", se=se, overwrite=overwrite)
        except DFCError as exc:
            for lfn in pending:
                tried[lfn][label] = str(exc)
                last[lfn] = exc
            continue
        for lfn, entry in put.succeeded.items():
            path = pending.pop(lfn)
            where = entry.replicas[0].se if entry.replicas else label
            result.succeeded[lfn] = StagedOut(
                lfn, str(path), where, entry.size, entry.adler32, entry.xxh3, False, tried[lfn]
            )
        for key, err in put.failed.items():
            lfn = key if key in pending else posixpath.join(to, Path(key).name)
            if lfn not in pending:
                continue
            tried[lfn][label] = str(err)
            last[lfn] = err
            if err.kind not in _SE_KINDS and not err.retryable:
                result.failed[lfn] = err
                del pending[lfn]
    for lfn in pending:
        why = "; ".join(f"{s}: {r}" for s, r in tried[lfn].items())
        code = last[lfn].errno if lfn in last else None
        result.failed[lfn] = StagingError(
            f"{lfn}: could not be stored on any SE ({why})", errno=code
        )


def _annotate(
    dfc: DFC,
    stored: list[str],
    fresh: list[str],
    meta: Mapping[str, str | int | float],
    ancestors: Sequence[str],
    result: BulkResult[StagedOut],
) -> None:
    """Set metadata and ancestry; undo fresh uploads that cannot get them."""
    if not stored or (not meta and not ancestors):
        return
    problems: dict[str, DFCError] = {}
    if meta:
        problems.update(_set_meta(dfc, stored, meta))
    if ancestors:
        ok = [lfn for lfn in stored if lfn not in problems]
        problems.update(_set_ancestry(dfc, ok, ancestors))
    undo = [lfn for lfn in problems if lfn in fresh]
    removed = dfc.rm(undo) if undo else BulkResult()
    for lfn, err in problems.items():
        result.succeeded.pop(lfn, None)
        note = ""
        if lfn in removed.failed:
            note = f"; removing it again failed too: {removed.failed[lfn]}"
        elif lfn in fresh:
            note = "; the upload was removed again"
        result.failed[lfn] = StagingError(f"{lfn}: {err}{note}", errno=err.errno)


def _set_meta(
    dfc: DFC, lfns: list[str], meta: Mapping[str, str | int | float]
) -> dict[str, DFCError]:
    # Values go as text: the catalogue parses them by each field's declared type.
    text = {name: str(value) for name, value in meta.items()}
    try:
        _declare(dfc, meta)
        done = dfc.meta_set([(lfn, text) for lfn in lfns])
    except DFCError as exc:
        return dict.fromkeys(lfns, exc)
    return dict(done.failed)


def _declare(dfc: DFC, meta: Mapping[str, str | int | float]) -> None:
    """Declare missing metadata fields as file fields typed after their values.

    Raises:
        DFCError: a field cannot be declared (bad name, conflict).
    """
    known = {f.name for f in dfc.meta_show()}
    for name, value in meta.items():
        if name in known:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "string"
        else:
            kind = "int" if isinstance(value, int) else "float"
        dfc.meta_index(name, kind, level="file")


def _set_ancestry(dfc: DFC, lfns: list[str], ancestors: Sequence[str]) -> dict[str, DFCError]:
    try:
        done = dfc.ancestry_add([(lfn, list(ancestors)) for lfn in lfns])
    except DFCError as exc:
        return dict.fromkeys(lfns, exc)
    return dict(done.failed)


def _out_report(result: BulkResult[StagedOut], to: str) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "kind": "stage-out",
        "to": to,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": [dataclasses.asdict(s) for s in result.succeeded.values()],
        "failed": {key: str(err) for key, err in result.failed.items()},
    }
