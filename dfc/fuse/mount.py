"""Mounting and unmounting: the FUSE main loop, a background mount, ``umount``.

:func:`serve` mounts in the calling process and serves until unmounted (by
:func:`umount`, ``fusermount3 -u``, or Ctrl-C / SIGTERM, which libfuse turns
into a clean unmount). :func:`spawn` starts such a process in the background
and returns once the mount is up, or says why it failed.
"""

from __future__ import annotations

import errno
import gc
import importlib
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfc import lfn as lfnmod
from dfc._sync import LoopThread
from dfc.errors import (
    DFCError,
    InvalidArgument,
    NotADirectory,
    OptionalDependencyMissing,
    StorageError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dfc import DFC, Entry

__all__ = [
    "FSTYPE",
    "MountBusy",
    "MountOptions",
    "dfc_mounts",
    "is_mounted",
    "serve",
    "spawn",
    "tune_read_ahead",
    "umount",
]

log = logging.getLogger("dfc.fuse")

#: The filesystem type of dfc mounts in /proc/mounts.
FSTYPE = "fuse.dfc"
#: fuse_main()'s status when its loop ended (e.g. on Ctrl-C) after a good mount.
_LOOP_ENDED = 8


class MountBusy(DFCError, OSError):
    """The mount is in use (open files, a shell inside it): unmount refused."""

    errno = errno.EBUSY


@dataclass(frozen=True, slots=True)
class MountOptions:
    """How to mount.

    Attributes:
        root: the LFN shown at the mount point.
        writable: allow new files, mkdir, rmdir, unlink and rename.
        overwrite: allow replacing existing files (writable mounts).
        se: the SE new files are uploaded to (default: as ``dfc put``).
        cache_dir: a local block cache directory (none: no cache).
        cache_size: the cache's capacity in bytes.
        attr_ttl: seconds attributes and listings are cached.
        timeout: seconds a replica may take to answer one read before EIO or failover.
        read_ahead_kb: kernel read-ahead set once mounted (needs root; 0: leave alone).
        spool_dir: where files being written are kept (default: the temp dir).
        direct_io: bypass the kernel page cache: programs' reads reach the mount
            at their own size (faster for large sequential reads; no mmap, no
            caching between readers).
        debug: libfuse debug output on stderr.
    """

    root: str = "/"
    writable: bool = False
    overwrite: bool = False
    se: str | None = None
    cache_dir: Path | None = None
    cache_size: int = 10 << 30
    attr_ttl: float = 5.0
    timeout: float = 30.0
    read_ahead_kb: int = 1024
    spool_dir: Path | None = None
    direct_io: bool = False
    debug: bool = False


# ---------------------------------------------------------------- mount table
def _unescape(field: str) -> str:
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def dfc_mounts() -> list[Path]:
    """Every dfc mount point on this machine (from ``/proc/self/mountinfo``)."""
    out: list[Path] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if sep + 1 < len(fields) and fields[sep + 1] == FSTYPE:
            out.append(Path(_unescape(fields[4])))
    return out


def _absolute(path: Path) -> Path:
    # realpath() tolerates a dead mount (ENOTCONN) where resolve(strict=True) fails.
    return Path(os.path.realpath(os.path.abspath(path)))


def is_mounted(path: Path) -> bool:
    """Whether a dfc filesystem is mounted at ``path``."""
    return _absolute(path) in dfc_mounts()


# ---------------------------------------------------------------- serving
def _mfusepy() -> Any:
    """Import mfusepy (the ``fuse`` extra) and libfuse 3.

    Raises:
        OptionalDependencyMissing: mfusepy or libfuse is missing.
    """
    try:
        # Imported by name: mfusepy ships no type information.
        return importlib.import_module("mfusepy")
    except ImportError as exc:
        raise OptionalDependencyMissing(
            f"dfc mount needs mfusepy ({exc}); install it with: pip install 'dfc[fuse]'"
        ) from None
    except OSError as exc:
        raise OptionalDependencyMissing(
            f"dfc mount needs libfuse 3 ({exc}); install the fuse3 package"
        ) from None


def check_mountpoint(mountpoint: Path) -> Path:
    """Return the absolute mount point if it is a directory with nothing mounted on it.

    Raises:
        NotADirectory: it is not a directory.
        AlreadyExists: a dfc filesystem is mounted there already.
    """
    from dfc.errors import AlreadyExists

    mnt = _absolute(mountpoint)
    if is_mounted(mnt):
        raise AlreadyExists(f"{mnt}: a dfc filesystem is mounted there already")
    if not mnt.is_dir():
        raise NotADirectory(f"mount point {mnt} is not a directory")
    return mnt


def check_root(api: DFC, root: str) -> Entry:
    """Return the catalogue directory to mount.

    Raises:
        InvalidLFN: ``root`` is not a valid LFN.
        LFNNotFound: it does not exist.
        NotADirectory: it is a file.
    """
    root = lfnmod.validate(root)
    found = api.stat([root])
    found.raise_first()
    entry = found.succeeded[root]
    if not entry.is_dir:
        raise NotADirectory(f"{root}: not a directory")
    return entry


def _log_skip(entry: Entry, se: str, why: str) -> None:
    log.warning("%s: replica at %s failed, trying the next: %s", entry.lfn, se, why)


def serve(api: DFC, mountpoint: Path, options: MountOptions) -> None:
    """Mount the catalogue at ``mountpoint`` and serve it until unmounted.

    Blocks. Ctrl-C and SIGTERM unmount cleanly.

    Raises:
        OptionalDependencyMissing: mfusepy or libfuse 3 is missing.
        NotADirectory, AlreadyExists: the mount point is not usable.
        LFNNotFound, NotADirectory: ``options.root`` is not a catalogue directory.
        StorageError: libfuse could not mount (its message is on stderr).
    """
    from dfc.fuse.cache import BlockCache
    from dfc.fuse.ops import DFCOperations
    from dfc.fuse.spool import Spool

    fuse = _mfusepy()
    mnt = check_mountpoint(mountpoint)
    check_root(api, options.root)
    cache = BlockCache(options.cache_dir, options.cache_size) if options.cache_dir else None
    spool = Spool(options.spool_dir) if options.writable else None
    loop = LoopThread("dfc-fuse-io")
    loop.start()
    reader = api.open_reader(timeout=options.timeout, on_skip=_log_skip)
    ops = DFCOperations(api, options, mnt, loop, reader, cache, spool)
    ttl = options.attr_ttl
    # Everything loaded so far lives as long as the mount: keep it out of the
    # garbage collector's scans, which otherwise cost every read request.
    gc.collect()
    gc.freeze()
    log.info("mounting %s at %s%s", options.root, mnt, " (writable)" if options.writable else "")
    try:
        fuse.FUSE(
            ops,
            str(mnt),
            foreground=True,
            debug=options.debug,
            ro=not options.writable,
            fsname="dfc",
            subtype="dfc",
            attr_timeout=ttl,
            entry_timeout=ttl,
            negative_timeout=min(ttl, 1.0),
            auto_cache=True,
            **({"direct_io": 1} if options.direct_io else {}),  # an int: a bool breaks init
        )
    except RuntimeError as exc:
        # libfuse returns 8 when its loop ends on an error, which includes being
        # stopped by SIGINT/SIGTERM: it has unmounted by then, a normal end.
        if exc.args != (_LOOP_ENDED,):
            raise StorageError(f"cannot mount {mnt}: libfuse failed ({exc})") from None
        log.info("stopped by a signal")
    finally:
        try:
            ops.close()
            loop.close(reader.aclose())
        finally:
            if spool is not None:
                spool.close()
    log.info("unmounted %s", mnt)


def tune_read_ahead(mountpoint: Path, kb: int) -> None:
    """Raise the kernel read-ahead of a FUSE mount to ``kb`` KiB, for 1 MiB reads.

    Run by the serving process once mounted: the ``stat`` of the mount point
    waits for libfuse's INIT reply, which would otherwise reset the value. That
    ``stat`` runs in a child process (``stat(1)``, which does not inherit
    ``/dev/fuse``): a thread of the serving process waiting on its own mount
    could not be interrupted, so a mount killed before answering it would never
    finish exiting, and its mount would hang every caller. Needs root; without
    it the default (128 KiB) stays and this logs why.
    """
    try:
        done = subprocess.run(
            ["stat", "-c", "%d", str(mountpoint)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        dev = int(done.stdout)
        bdi = Path(f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb")
        bdi.write_text(str(kb))
    except subprocess.CalledProcessError as exc:
        log.info("kernel read-ahead left at its default: %s", exc.stderr.strip() or exc)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.info("kernel read-ahead left at its default: %s", getattr(exc, "strerror", None) or exc)


# ---------------------------------------------------------------- background mounts
def spawn(
    argv: Sequence[str],
    mountpoint: Path,
    log_file: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> int:
    """Run ``argv`` (a foreground mount) detached; return its pid once mounted.

    Its output goes to ``log_file``; ``env`` replaces the environment.

    Raises:
        StorageError: it exited or did not mount within ``timeout`` seconds
            (the message has the end of its log).
    """
    mnt = _absolute(mountpoint)
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        start = log_file.stat().st_size if log_file.exists() else 0
        # posix_spawn, not Popen: the child is meant to outlive this process.
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            dict(os.environ if env is None else env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (
                    os.POSIX_SPAWN_OPEN,
                    1,
                    str(log_file),
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                    0o644,
                ),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise StorageError(f"cannot start the mount process: {exc.strerror or exc}") from None
    deadline = time.monotonic() + timeout
    while not is_mounted(mnt):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            raise StorageError(f"mount failed (status {code}): {_tail(log_file, start)}")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise StorageError(f"not mounted after {timeout:g} s: {_tail(log_file, start)}")
        time.sleep(0.05)
    return pid


def _tail(log_file: Path, start: int) -> str:
    try:
        with log_file.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace").strip()
    except OSError:
        return f"see {log_file}"
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:]) or f"no output (see {log_file})"


def umount(mountpoint: Path, *, lazy: bool = False, timeout: float = 10.0) -> None:
    """Unmount the dfc filesystem at ``mountpoint``.

    ``lazy`` detaches it now and lets it go once no longer used.

    Raises:
        InvalidArgument: no dfc filesystem is mounted there.
        MountBusy: it is in use (and ``lazy`` was not given).
        StorageError: the unmount failed for another reason.
    """
    mnt = _absolute(mountpoint)
    if not is_mounted(mnt):
        raise InvalidArgument(f"{mnt} is not a dfc mount")
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    if tool is not None:
        cmd = [tool, "-u", *(["-z"] if lazy else []), str(mnt)]
    else:
        cmd = ["umount", *(["-l"] if lazy else []), str(mnt)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StorageError(f"cannot unmount {mnt}: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        message = why[-1] if why else f"{cmd[0]} exited with status {done.returncode}"
        if "busy" in message.lower():
            raise MountBusy(f"{mnt} is in use ({message}); close what uses it or use --lazy")
        raise StorageError(f"cannot unmount {mnt}: {message}")
    deadline = time.monotonic() + timeout
    while is_mounted(mnt) and time.monotonic() < deadline:
        time.sleep(0.02)
