"""Replies to FUSE reads without copying the bytes through Python.

libfuse's ``read_buf`` operation lets a filesystem answer a read with a
``struct fuse_bufvec`` instead of bytes. One that names a file descriptor and
an offset (``FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK``) makes libfuse move the data
itself: with ``FUSE_CAP_SPLICE_WRITE`` it splices the file's page-cache pages
into a pipe and from there into ``/dev/fuse``, so the kernel copies each byte
once, straight into the reader's pages. Bytes that do come from Python (remote
replicas, files being written) are put in a ``malloc`` buffer, as libfuse
itself would do for a plain ``read``.

libfuse frees what the reply points to (``free`` on the vector and on memory
buffers), so both are allocated with the C library's ``malloc``.

Splicing a reply needs a pipe that holds the whole reply. Without
``CAP_SYS_RESOURCE`` a pipe cannot grow beyond ``/proc/sys/fs/pipe-max-size``
(1 MiB by default), and libfuse sizes its pipe a few pages above the reply, so
1 MiB requests silently fall back to ``read`` + ``writev`` (two copies).
:func:`splice_max_request` gives the largest request that still splices, and
the filesystem caps the kernel's request size to it.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

__all__ = [
    "FUSE_CAP_SPLICE_WRITE",
    "reply_bytes",
    "reply_fd",
    "splice_max_request",
]

#: libfuse 3 ``FUSE_CAP_SPLICE_WRITE``: replies may be spliced into /dev/fuse.
FUSE_CAP_SPLICE_WRITE = 1 << 7

_BUF_IS_FD = 1 << 1
_BUF_FD_SEEK = 1 << 2
_BUF_FD_RETRY = 1 << 3
_PAGE = os.sysconf("SC_PAGE_SIZE")
#: libfuse's pipe for one reply: the reply, its 16-byte header and 3 spare pages.
_PIPE_SLACK = 3 * _PAGE + 16
_CAP_SYS_RESOURCE = 24


class _FuseBuf(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("flags", ctypes.c_int),
        ("mem", ctypes.c_void_p),
        ("fd", ctypes.c_int),
        ("pos", ctypes.c_int64),
    ]


class _FuseBufvec(ctypes.Structure):
    # struct fuse_bufvec ends in an array of one fuse_buf, not a pointer.
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("idx", ctypes.c_size_t),
        ("off", ctypes.c_size_t),
        ("buf", _FuseBuf * 1),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_malloc = _libc.malloc
_malloc.restype = ctypes.c_void_p
_malloc.argtypes = [ctypes.c_size_t]
_free = _libc.free
_free.restype = None
_free.argtypes = [ctypes.c_void_p]
_VEC_SIZE = ctypes.sizeof(_FuseBufvec)


def _alloc(size: int) -> int:
    ptr = _malloc(max(size, 1))
    if not ptr:
        raise MemoryError
    return int(ptr)


def _reply(bufpp: Any, vec_ptr: int) -> None:
    # ``bufpp`` is mfusepy's ``struct fuse_bufvec **``: store our vector in it.
    bufpp[0] = ctypes.cast(vec_ptr, type(bufpp[0]))


def _vector(size: int, flags: int, mem: int | None, fd: int, pos: int) -> int:
    ptr = _alloc(_VEC_SIZE)
    vec = _FuseBufvec.from_address(ptr)
    vec.count, vec.idx, vec.off = 1, 0, 0
    buf = vec.buf[0]
    buf.size, buf.flags, buf.mem, buf.fd, buf.pos = size, flags, mem, fd, pos
    return ptr


def reply_fd(bufpp: Any, fd: int, offset: int, size: int) -> None:
    """Answer a ``read_buf`` with ``size`` bytes of file descriptor ``fd`` at ``offset``.

    libfuse reads (or splices) them itself, after this returns; ``fd`` must stay
    open until the reply is sent (the handle's ``release`` closes it).

    Raises:
        MemoryError: ``malloc`` failed.
    """
    flags = _BUF_IS_FD | _BUF_FD_SEEK | _BUF_FD_RETRY
    _reply(bufpp, _vector(size, flags, None, fd, offset))


def reply_bytes(bufpp: Any, data: bytes) -> None:
    """Answer a ``read_buf`` with ``data`` (copied once into a buffer libfuse frees).

    Raises:
        MemoryError: ``malloc`` failed.
    """
    mem = _alloc(len(data))
    try:
        ctypes.memmove(mem, data, len(data))
        vec = _vector(len(data), 0, mem, -1, 0)
    except BaseException:
        _free(mem)
        raise
    _reply(bufpp, vec)


def _may_grow_pipes() -> bool:
    """Whether this process may grow pipes past pipe-max-size (CAP_SYS_RESOURCE)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_RESOURCE & 1)
    except (OSError, ValueError):
        pass
    return False


def splice_max_request() -> int | None:
    """The largest read reply (bytes, whole pages) libfuse can still splice.

    None when pipes may grow as needed (``CAP_SYS_RESOURCE``) or the limit is
    unknown.
    """
    if _may_grow_pipes():
        return None
    try:
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as fh:
            pipe_max = int(fh.read())
    except (OSError, ValueError):
        return None
    pages = (pipe_max - _PIPE_SLACK) // _PAGE
    return pages * _PAGE if pages >= 2 else None
