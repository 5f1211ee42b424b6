"""The guarded catalogue transaction: every operation checked, then delegated.

:class:`ApiTx` is what the facade works with: a :class:`~dfc.catalog.CatalogTx` plus the
operations of the access-control registry (``whoami``, ``chmod``, ``chown``, users,
groups, FQAN rules). Two classes implement it: :class:`GuardedTx` over a local
transaction (embedded mode and the server), and ``RemoteTx`` (``dfc.api._remote``)
that forwards each call to a catalogue server, which guards it there.

:class:`GuardedTx` deliberately does not initialise its :class:`CatalogTx` base: it owns
no connection, so an operation it does not wrap fails instead of running unchecked.
Every public operation of ``CatalogTx`` must be overridden here (a test checks it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import TYPE_CHECKING, Any, TypeVar

from dfc import lfn as lfnmod
from dfc.api._apitx import Access, ApiTx
from dfc.api._authz import READ, WRITE, Authorizer, under
from dfc.api._bulk import reorder, validate_all
from dfc.api._guarded_meta import GuardedMetaMixin
from dfc.auth.errors import InsufficientRights
from dfc.catalog import chmod as chmod_entries
from dfc.catalog import chown as chown_entries
from dfc.errors import DFCError, InvalidArgument, LFNNotFound
from dfc.models import BulkResult, Entry, FileRecord, Replica, SEInfo

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from dfc.api._authz import WhoAmI
    from dfc.auth.tokens import StorageOp
    from dfc.catalog import CatalogTx
    from dfc.catalog._consistency import ReplicaRecord
    from dfc.catalog.identities import AccessControl, FqanRule, GridmapImport, GroupInfo, UserInfo

__all__ = ["Access", "ApiTx", "GuardedTx"]

T = TypeVar("T")
_SE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _check_type(value: object, kind: type, what: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgument(f"{what} must be of type {kind.__name__}")


def _check_mode(mode: object) -> None:
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"invalid mode {mode!r}: expected 0 to 0o7777")


def _with_ancestors(paths: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for path in paths:
        if path in out:
            continue
        out.add(path)
        out.update(lfnmod.parents(path))
    return out


def _nearest(path: str, known: dict[str, Entry]) -> Entry | None:
    """The nearest existing ancestor of ``path`` (not ``path`` itself), if any."""
    while path != "/":
        path = lfnmod.dirname(path)
        entry = known.get(path)
        if entry is not None:
            return entry
    return None


class GuardedTx(GuardedMetaMixin, ApiTx):
    """A catalogue transaction whose every operation is authorised first.

    Directories must be readable to be searched: an entry below a directory the caller
    may not read is neither visible nor writable (POSIX needs ``x``; dfc has one bit).

    Args:
        inner: the local transaction that does the work.
        authz: the authorizer of the caller.
    """

    def __init__(self, inner: CatalogTx, authz: Authorizer) -> None:
        # No super().__init__(): see the module docstring.
        self._inner = inner
        self._authz = authz

    @property
    def authorizer(self) -> Authorizer:
        """The authorizer of the caller."""
        return self._authz

    # ------------------------------------------------------------------ helpers
    def _entries(self, paths: Iterable[str]) -> dict[str, Entry]:
        paths = sorted(set(paths))
        # Permission checks need owner, group and mode only, not replicas.
        return self._inner.stat(paths, with_replicas=False).succeeded if paths else {}

    def _known(self, paths: Iterable[str]) -> tuple[dict[str, Entry], dict[str, str]]:
        """The entries of ``paths`` and all their ancestors, and the hidden directories.

        The second value maps each directory the caller may not search to the first
        unreadable directory on its path.
        """
        known = self._entries(_with_ancestors(paths))
        return known, self._hidden(known)

    def _hidden(self, known: dict[str, Entry]) -> dict[str, str]:
        """For each directory of ``known`` the caller may not search, the first unreadable one."""
        hidden: dict[str, str] = {}
        if not self._authz.reads_all:
            dirs = sorted((p for p, e in known.items() if e.is_dir), key=lambda p: p.count("/"))
            for path in dirs:
                parent = lfnmod.dirname(path)
                if path != "/" and parent in hidden:
                    hidden[path] = hidden[parent]
                elif not self._authz.bits(known[path], READ):
                    hidden[path] = path
        return hidden

    def _ensure_home(self, targets: Iterable[str]) -> None:
        """Create the caller's home on first use: owned by the caller, mode from the policy."""
        az = self._authz
        home, name = az.home, az.principal.name
        if home is None or name is None or az.identity.limited:
            return
        if not any(under(t, home) for t in targets):
            return
        above = lfnmod.parents(home)
        known = self._entries([*above, home])
        if home in known:
            return
        base = next((known[p] for p in reversed(above) if p in known), None)
        if base is None or not base.is_dir:
            return
        missing = [p for p in above if p not in known]
        if missing:
            self._inner.mkdir(missing, parents=True, owner=base.owner, group=base.group, mode=0o755)
        mode = az.policy.home_mode
        self._inner.mkdir([home], parents=False, owner=name, group=az.principal.group, mode=mode)

    def _home_pending(self, lfn: str, known: dict[str, Entry]) -> bool:
        """Whether ``lfn`` lies in the caller's home, which does not exist yet."""
        home = self._authz.home
        return home is not None and lfn != home and under(lfn, home) and home not in known

    def _require_admin(self, what: str, *, write: bool = True) -> None:
        error = self._authz.admin_error(what, write=write)
        if error is not None:
            raise error

    def _acl(self) -> AccessControl:
        from dfc.catalog.identities import AccessControl  # its tables need SQLAlchemy

        return AccessControl(self._inner)

    def _visible(self, entry: Entry) -> None:
        """Raise unless the caller may see (and, for files, read) ``entry``."""
        if self._authz.reads_all:
            return
        _, hidden = self._known([lfnmod.dirname(entry.lfn)] if entry.lfn != "/" else [])
        error = self._authz.read_error(
            entry.lfn, None if entry.is_dir else entry, hidden.get(lfnmod.dirname(entry.lfn))
        )
        if error is not None:
            raise error

    def _listable(self, entry: Entry) -> None:
        """Raise unless the caller may list directory ``entry`` (seen already)."""
        if entry.is_dir and not self._authz.bits(entry, READ):
            raise InsufficientRights(f"{entry.lfn}: permission denied (no read permission)")

    def _write_error(
        self, directory: Entry, target: str, scope: StorageOp, hidden: dict[str, str]
    ) -> DFCError | None:
        return self._authz.write_error(directory, target, scope, hidden.get(directory.lfn))

    # ------------------------------------------------------------------ namespace
    def mkdir(
        self,
        paths: Sequence[str],
        *,
        parents: bool,
        owner: str,
        group: str,
        mode: int = 0o775,
    ) -> BulkResult[None]:
        """Create directories in which the caller may write (owned by the caller)."""
        _check_mode(mode)
        result: BulkResult[None] = BulkResult()
        valid = validate_all(paths, result)
        self._ensure_home(valid)
        known, hidden = self._known(valid)
        allowed: list[str] = []
        for path in dict.fromkeys(valid):
            entry = known.get(path)
            anc = _nearest(path, known)
            if (entry is not None and entry.is_dir) or anc is None or not anc.is_dir:
                allowed.append(path)  # exists already, or the catalogue explains the failure
            elif not parents and anc.lfn != lfnmod.dirname(path):
                allowed.append(path)  # the catalogue reports the missing parent
            elif (error := self._write_error(anc, path, "create", hidden)) is not None:
                result.failed[path] = error
            else:
                allowed.append(path)
        p = self._authz.principal
        if allowed:
            result.merge(
                self._inner.mkdir(
                    allowed,
                    parents=parents,
                    owner=p.name or "",
                    group=p.group,
                    mode=mode & ~self._authz.policy.umask,
                )
            )
        reorder(result, paths)
        return result

    def rmdir(self, paths: Sequence[str]) -> BulkResult[None]:
        """Remove empty directories from directories the caller may write in."""
        result: BulkResult[None] = BulkResult()
        valid = validate_all(paths, result)
        known, hidden = self._known(valid)
        allowed: list[str] = []
        for path in dict.fromkeys(valid):
            entry, parent = known.get(path), known.get(lfnmod.dirname(path))
            if entry is None or not entry.is_dir or parent is None or path == "/":
                allowed.append(path)
            elif (error := self._write_error(parent, path, "modify", hidden)) is not None:
                result.failed[path] = error
            else:
                allowed.append(path)
        if allowed:
            result.merge(self._inner.rmdir(allowed))
        reorder(result, paths)
        return result

    def stat(self, lfns: Sequence[str], *, with_replicas: bool = True) -> BulkResult[Entry]:
        """Entries the caller may see (directories searchable) and, for files, read."""
        result: BulkResult[Entry] = BulkResult()
        valid = validate_all(lfns, result)
        az = self._authz
        if az.reads_all:
            result.merge(self._inner.stat(valid, with_replicas=with_replicas))
            reorder(result, lfns)
            return result
        # One lookup for the entries and every directory above them.
        found = self._inner.stat(sorted(_with_ancestors(valid)), with_replicas=with_replicas)
        hidden = self._hidden(found.succeeded)
        for lfn in dict.fromkeys(valid):
            where = hidden.get(lfnmod.dirname(lfn)) if lfn != "/" else None
            entry = found.succeeded.get(lfn)
            if entry is None:
                result.failed[lfn] = az.read_error(lfn, None, where) or found.failed[lfn]
                continue
            error = az.read_error(lfn, None if entry.is_dir else entry, where)
            if error is not None:
                result.failed[lfn] = error
            else:
                result.succeeded[lfn] = entry
        reorder(result, lfns)
        return result

    def lookup(self, lfn: str) -> Entry:
        """The entry of one LFN, if the caller may see it."""
        lfnmod.validate(lfn)
        res = self.stat([lfn])
        res.raise_first()
        return res.succeeded[lfn]

    def list_dir(self, path: str, *, with_replicas: bool = False) -> Iterator[Entry]:
        """Stream a directory the caller may read."""
        _check_type(with_replicas, bool, "with_replicas")
        self._listable(self.lookup(path))
        return self._inner.list_dir(path, with_replicas=with_replicas)

    def walk(self, path: str, *, files_only: bool = False) -> Iterator[Entry]:
        """Stream everything below a readable directory, skipping unreadable subtrees."""
        _check_type(files_only, bool, "files_only")
        self._listable(self.lookup(path))
        if self._authz.reads_all:
            return self._inner.walk(path, files_only=files_only)
        return self._pruned(self._inner.walk(path), files_only)

    def _pruned(self, entries: Iterator[Entry], files_only: bool) -> Iterator[Entry]:
        blocked: str | None = None
        for entry in entries:
            if blocked is not None:
                if entry.lfn.startswith(blocked):
                    continue
                blocked = None
            if entry.is_dir:
                if not self._authz.bits(entry, READ):
                    blocked = entry.lfn + "/"
                if files_only:
                    continue
            yield entry

    def find_guid(self, guid: str) -> Entry:
        """The file with a GUID, if the caller may read it."""
        _check_type(guid, str, "guid")
        entry = self._inner.find_guid(guid)
        self._visible(entry)
        return entry

    def move(self, src: str, dst: str) -> None:
        """Rename, with write permission on both directories."""
        lfnmod.validate(src)
        lfnmod.validate(dst)
        known, hidden = self._known([src, lfnmod.dirname(dst)])
        source, old_dir = known.get(src), known.get(lfnmod.dirname(src))
        new_dir = known.get(lfnmod.dirname(dst))
        if source is not None and src != "/" and old_dir is not None:
            error = self._write_error(old_dir, src, "modify", hidden)
            if error is not None:
                raise error
        if source is not None and new_dir is not None and new_dir.is_dir:
            error = self._write_error(new_dir, dst, "create", hidden)
            if error is not None:
                raise error
        self._inner.move(src, dst)

    # ------------------------------------------------------------------ files and replicas
    def add_files(
        self,
        records: Sequence[FileRecord],
        *,
        owner: str,
        group: str,
        overwrite: bool = False,
    ) -> BulkResult[None]:
        """Register files where the caller may write; overwriting needs ``modify``."""
        _check_type(overwrite, bool, "overwrite")
        result: BulkResult[None] = BulkResult()
        az = self._authz
        recs: list[FileRecord] = []
        for rec in records:
            if not isinstance(rec, FileRecord):
                raise InvalidArgument("records must be FileRecord values")
            if validate_all([rec.lfn], result):
                _check_mode(rec.mode)
                mode = rec.mode & ~az.policy.umask
                rec_owner, rec_group = (rec.owner, rec.group) if az.admin else ("", "")
                recs.append(dataclasses.replace(rec, owner=rec_owner, group=rec_group, mode=mode))
        lfns = [r.lfn for r in recs]
        self._ensure_home(lfns)
        known, hidden = self._known(lfns)
        allowed: list[FileRecord] = []
        for rec in recs:
            error = self._file_write_error(rec.lfn, known, hidden, overwrite)
            if error is not None:
                result.failed[rec.lfn] = error
            else:
                allowed.append(rec)
        p = az.principal
        if allowed:
            # Missing parents are made here, so that they get the policy's umask too.
            parents = {lfnmod.dirname(r.lfn) for r in allowed} - set(known)
            if parents:
                self._inner.mkdir(
                    sorted(parents),
                    parents=True,
                    owner=p.name or "",
                    group=p.group,
                    mode=0o775 & ~az.policy.umask,
                )
            result.merge(
                self._inner.add_files(
                    allowed, owner=p.name or "", group=p.group, overwrite=overwrite
                )
            )
        reorder(result, [getattr(r, "lfn", "") for r in records])
        return result

    def _file_write_error(
        self, lfn: str, known: dict[str, Entry], hidden: dict[str, str], overwrite: bool
    ) -> DFCError | None:
        anc = _nearest(lfn, known)
        if anc is None or not anc.is_dir:
            return None  # the catalogue reports the missing or non-directory parent
        if self._home_pending(lfn, known):
            return self._authz.change_error(lfn, "create")  # the home is made on first use
        existing = known.get(lfn)
        if existing is not None and not existing.is_dir and overwrite:
            error = self._write_error(anc, lfn, "modify", hidden)
            if error is None and not self._authz.bits(existing, WRITE):
                error = InsufficientRights(f"{lfn}: permission denied (no write permission)")
            return error
        return self._write_error(anc, lfn, "create", hidden)

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[None]:
        """Unregister files from directories the caller may write in."""
        result: BulkResult[None] = BulkResult()
        valid = validate_all(lfns, result)
        known, hidden = self._known(valid)
        allowed: list[str] = []
        for lfn in dict.fromkeys(valid):
            entry, parent = known.get(lfn), known.get(lfnmod.dirname(lfn))
            if entry is None or entry.is_dir or parent is None:
                allowed.append(lfn)
            elif (error := self._write_error(parent, lfn, "modify", hidden)) is not None:
                result.failed[lfn] = error
            else:
                allowed.append(lfn)
        if allowed:
            result.merge(self._inner.remove_files(allowed))
        reorder(result, lfns)
        return result

    def _modify_error(
        self, lfn: str, known: dict[str, Entry], hidden: dict[str, str], scope: StorageOp
    ) -> DFCError | None:
        entry = known.get(lfn)
        if entry is None or entry.is_dir:
            return None  # the catalogue explains
        parent = lfnmod.dirname(lfn)
        return self._authz.modify_error(entry, known.get(parent), scope, hidden.get(parent))

    def _modifiable(
        self, lfns: Sequence[str], scope: StorageOp, result: BulkResult[None]
    ) -> set[str]:
        """The LFNs whose replicas the caller may change; the others fail in ``result``."""
        known, hidden = self._known(lfns)
        ok: set[str] = set()
        for lfn in dict.fromkeys(lfns):
            error = self._modify_error(lfn, known, hidden, scope)
            if error is not None:
                result.failed[lfn] = error
            else:
                ok.add(lfn)
        return ok

    def _items(
        self, items: Sequence[Sequence[Any]], width: int
    ) -> tuple[list[tuple[Any, ...]], BulkResult[None]]:
        result: BulkResult[None] = BulkResult()
        good: list[tuple[Any, ...]] = []
        for item in items:
            if not isinstance(item, tuple | list) or len(item) != width:
                raise InvalidArgument(f"each item must have {width} values")
            if validate_all([item[0]], result):
                good.append(tuple(item))
        return good, result

    def add_replicas(self, items: Sequence[tuple[str, Replica]]) -> BulkResult[None]:
        """Register replicas of files the caller may change (``create`` scope)."""
        good, result = self._items(items, 2)
        for _, rep in good:
            if not isinstance(rep, Replica):
                raise InvalidArgument("replicas must be Replica values")
        known, hidden = self._known([g[0] for g in good])
        chosen: list[tuple[str, Replica]] = []
        for lfn, rep in good:
            entry = known.get(lfn)
            have = {(r.se, r.path) for r in entry.replicas} if entry is not None else set()
            if (rep.se, rep.path or lfn) in have:
                chosen.append((lfn, rep))  # registered already: no change, nothing to check
            elif (error := self._modify_error(lfn, known, hidden, "create")) is not None:
                result.failed[lfn] = error
            elif lfn not in result.failed:
                chosen.append((lfn, rep))
        chosen = [c for c in chosen if c[0] not in result.failed]
        if chosen:
            result.merge(self._inner.add_replicas(chosen))
        reorder(result, [i[0] for i in items])
        return result

    def remove_replicas(self, items: Sequence[tuple[str, str]]) -> BulkResult[None]:
        """Unregister replicas of files the caller may change (``modify`` scope)."""
        good, result = self._items(items, 2)
        ok = self._modifiable([g[0] for g in good], "modify", result)
        chosen = [(g[0], g[1]) for g in good if g[0] in ok]
        if chosen:
            result.merge(self._inner.remove_replicas(chosen))
        reorder(result, [i[0] for i in items])
        return result

    def set_replica_status(self, items: Sequence[tuple[str, str, str]]) -> BulkResult[None]:
        """Set replica statuses of files the caller may change (``modify`` scope)."""
        good, result = self._items(items, 3)
        ok = self._modifiable([g[0] for g in good], "modify", result)
        chosen = [(g[0], g[1], g[2]) for g in good if g[0] in ok]
        if chosen:
            result.merge(self._inner.set_replica_status(chosen))
        reorder(result, [i[0] for i in items])
        return result

    def replicas(self, lfns: Sequence[str]) -> BulkResult[list[Replica]]:
        """Replicas of the files in directories the caller may read."""
        result: BulkResult[list[Replica]] = BulkResult()
        valid = validate_all(lfns, result)
        az = self._authz
        if not az.reads_all:
            parents = {lfn: lfnmod.dirname(lfn) for lfn in valid if lfn != "/"}
            _, hidden = self._known(set(parents.values()))
            # Without hidden directories or token scopes, read_error() refuses nothing.
            if hidden or az.identity.scopes is not None:
                allowed = []
                for lfn in valid:
                    where = hidden.get(parents[lfn]) if lfn != "/" else None
                    error = az.read_error(lfn, None, where)
                    if error is not None:
                        result.failed[lfn] = error
                    else:
                        allowed.append(lfn)
                valid = allowed
        if valid:
            result.merge(self._inner.replicas(valid))
        if result.failed:
            reorder(result, lfns)
        return result

    # ------------------------------------------------------------------ consistency (dfc check)
    def replicas_at(
        self, se: str, path: str, *, after: int = 0, limit: int = 1000
    ) -> list[ReplicaRecord]:
        """Replicas at an SE below a directory the caller may read."""
        _check_type(se, str, "se")
        _check_type(after, int, "after")
        _check_type(limit, int, "limit")
        with contextlib.suppress(LFNNotFound):  # nothing there: no replicas to show
            self._listable(self.lookup(path))
        return self._inner.replicas_at(se, path, after=after, limit=max(1, min(limit, 100_000)))

    def paths_in_use(self, se: str, paths: Sequence[str]) -> set[str]:
        """Which SE paths replicas point at."""
        _check_type(se, str, "se")
        for path in paths:
            _check_type(path, str, "path")
        return self._inner.paths_in_use(se, paths)

    # ------------------------------------------------------------------ storage elements
    def add_se(self, se: SEInfo) -> SEInfo:
        """Register an SE (administrators only)."""
        if not isinstance(se, SEInfo):
            raise InvalidArgument("se must be an SEInfo value")
        if not isinstance(se.name, str) or not _SE_NAME.fullmatch(se.name):
            raise InvalidArgument(
                f"invalid SE name {se.name!r}: use letters, digits, '-', '_' and '.' (at most 64)"
            )
        self._require_admin(f"register storage element {se.name}")
        if not isinstance(se.site, str) or len(se.site) > 64:
            raise InvalidArgument(f"invalid site name {se.site!r} (at most 64 characters)")
        return self._inner.add_se(se)

    def get_se(self, name: str) -> SEInfo:
        """One SE."""
        _check_type(name, str, "name")
        return self._inner.get_se(name)

    def list_ses(self) -> list[SEInfo]:
        """Every SE."""
        return self._inner.list_ses()

    def update_se(
        self,
        name: str,
        *,
        url: str | None = None,
        site: str | None = None,
        read: bool | None = None,
        write: bool | None = None,
    ) -> SEInfo:
        """Change an SE (administrators only)."""
        _check_type(name, str, "name")
        self._require_admin(f"change storage element {name}")
        if site is not None and (not isinstance(site, str) or len(site) > 64):
            raise InvalidArgument(f"invalid site name {site!r} (at most 64 characters)")
        return self._inner.update_se(name, url=url, site=site, read=read, write=write)

    def se_replica_count(self, name: str) -> int:
        """How many replicas an SE holds."""
        _check_type(name, str, "name")
        return self._inner.se_replica_count(name)

    def remove_se(self, name: str) -> None:
        """Unregister an SE (administrators only)."""
        _check_type(name, str, "name")
        self._require_admin(f"remove storage element {name}")
        self._inner.remove_se(name)

    # ------------------------------------------------------------------ access control
    def whoami(self) -> WhoAmI:
        """How the catalogue sees the caller."""
        return self._authz.whoami()

    def access(self, lfns: Sequence[str], what: Access) -> BulkResult[None]:
        """Whether the caller may ``read``, ``create``, ``write`` or ``remove`` each LFN."""
        if what not in ("read", "create", "write", "remove"):
            raise InvalidArgument(f"unknown access {what!r}: read, create, write or remove")
        result: BulkResult[None] = BulkResult()
        valid = validate_all(lfns, result)
        az = self._authz
        if az.reads_all and not az.identity.limited:  # an administrator: nothing to check
            result.succeeded.update(dict.fromkeys(valid))
            reorder(result, lfns)
            return result
        known, hidden = self._known(valid)
        for lfn in dict.fromkeys(valid):
            entry, parent = known.get(lfn), known.get(lfnmod.dirname(lfn))
            error: DFCError | None = None
            if what == "read":
                file = entry if entry is not None and not entry.is_dir else None
                error = az.read_error(lfn, file, hidden.get(lfnmod.dirname(lfn)))
            elif what == "create":
                error = self._file_write_error(lfn, known, hidden, True)
            elif what == "write":
                error = self._modify_error(lfn, known, hidden, "create")
            elif entry is not None and parent is not None:
                error = self._write_error(parent, lfn, "modify", hidden)
            if error is not None:
                result.failed[lfn] = error
            else:
                result.succeeded[lfn] = None
        reorder(result, lfns)
        return result

    def chmod(
        self, paths: Sequence[str], mode: int, *, recursive: bool = False
    ) -> BulkResult[None]:
        """Set the mode of entries: the owner (of everything below, with ``recursive``)."""
        _check_type(recursive, bool, "recursive")
        _check_type(mode, int, "mode")
        result: BulkResult[None] = BulkResult()
        valid = validate_all(paths, result)
        found = self.stat(valid)
        result.failed.update(found.failed)
        allowed: list[str] = []
        for path, entry in found.succeeded.items():
            error = self._authz.chmod_error(entry)
            if error is None and recursive and entry.is_dir and not self._authz.admin:
                foreign = next(
                    (e for e in self._inner.walk(path) if e.owner != self._authz.principal.name),
                    None,
                )
                if foreign is not None:
                    error = self._authz.chmod_error(foreign)
            if error is not None:
                result.failed[path] = error
            else:
                allowed.append(path)
        if allowed:
            result.merge(chmod_entries(self._inner, allowed, mode, recursive=recursive))
        reorder(result, paths)
        return result

    def chown(
        self,
        paths: Sequence[str],
        *,
        owner: str | None = None,
        group: str | None = None,
        recursive: bool = False,
    ) -> BulkResult[None]:
        """Set the owner and/or group of entries (administrators only)."""
        _check_type(recursive, bool, "recursive")
        self._require_admin("changing owner or group")
        result: BulkResult[None] = BulkResult()
        valid = validate_all(paths, result)
        changed = chown_entries(self._inner, valid, owner=owner, group=group, recursive=recursive)
        result.merge(changed)
        reorder(result, paths)
        return result

    def add_user(
        self,
        name: str,
        *,
        dns: Sequence[str] = (),
        account: str | None = None,
        group: str | None = None,
        properties: Sequence[str] | None = None,
    ) -> UserInfo:
        """Register or update a user (administrators only)."""
        self._require_admin("registering users")
        return self._acl().add_user(
            name, dns=dns, account=account, group=group, properties=properties
        )

    def remove_user_dn(self, name: str, dn: str) -> UserInfo:
        """Unmap a DN from a user (administrators only)."""
        self._require_admin("changing users")
        return self._acl().remove_user_dn(name, dn)

    def list_users(self) -> list[UserInfo]:
        """Every registered user (administrators only)."""
        self._require_admin("listing users", write=False)
        return self._acl().list_users()

    def remove_user(self, name: str) -> None:
        """Unregister a user (administrators only)."""
        self._require_admin("removing users")
        self._acl().remove_user(name)

    def add_group(self, name: str, *, properties: Sequence[str] | None = None) -> GroupInfo:
        """Create or change a group (administrators only)."""
        self._require_admin("changing groups")
        return self._acl().add_group(name, properties=properties)

    def list_groups(self) -> list[GroupInfo]:
        """Every group (administrators only)."""
        self._require_admin("listing groups", write=False)
        return self._acl().list_groups()

    def remove_group(self, name: str) -> None:
        """Delete a group (administrators only)."""
        self._require_admin("removing groups")
        self._acl().remove_group(name)

    def add_member(self, group: str, user: str) -> GroupInfo:
        """Add a user to a group (administrators only)."""
        self._require_admin("changing groups")
        return self._acl().add_member(group, user)

    def remove_member(self, group: str, user: str) -> GroupInfo:
        """Remove a user from a group (administrators only)."""
        self._require_admin("changing groups")
        return self._acl().remove_member(group, user)

    def map_fqan(self, fqan: str, group: str, *, account: str | None = None) -> FqanRule:
        """Map holders of an FQAN to a group (administrators only)."""
        self._require_admin("changing FQAN rules")
        return self._acl().map_fqan(fqan, group, account=account)

    def unmap_fqan(self, fqan: str) -> None:
        """Delete an FQAN rule (administrators only)."""
        self._require_admin("changing FQAN rules")
        self._acl().unmap_fqan(fqan)

    def list_fqan_rules(self) -> list[FqanRule]:
        """Every FQAN rule (administrators only)."""
        self._require_admin("listing FQAN rules", write=False)
        return self._acl().list_fqan_rules()

    def import_gridmap(self, text: str) -> GridmapImport:
        """Import a grid-mapfile (administrators only)."""
        self._require_admin("importing a grid-mapfile")
        return self._acl().import_gridmap(text)
