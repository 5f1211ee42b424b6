"""``python -m dfc.fuse``: the mount program that ``dfc mount`` and ``dfc umount`` run.

The filesystem is an adapter of its own, so the command line runs it as a
program instead of importing it::

    python -m dfc.fuse serve                  # mount, serve until unmounted
    python -m dfc.fuse start --log-file LOG   # the same in the background
    python -m dfc.fuse umount MOUNTPOINT [--lazy]

The mount request is in the environment variable ``DFC_FUSE_REQUEST`` (not on the
command line, where every user could read a catalogue URL): a JSON object with
``mountpoint`` and optionally ``catalog``, ``site`` (as the root ``dfc`` options)
and the fields of :class:`~dfc.fuse.mount.MountOptions`
(``root``, ``writable``, ``overwrite``, ``se``, ``cache_dir``, ``cache_size``,
``attr_ttl``, ``timeout``, ``direct_io``, ``debug``). Errors print one line,
``dfc: <what>``, and exit with the error's errno.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from dfc.errors import DFCError, InvalidArgument
from dfc.fuse.mount import MountOptions

__all__ = ["REQUEST_ENV", "main", "parse_request"]

#: The environment variable holding the mount request.
REQUEST_ENV = "DFC_FUSE_REQUEST"

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "root": str,
    "writable": bool,
    "overwrite": bool,
    "se": str,
    "cache_dir": str,
    "cache_size": int,
    "attr_ttl": (int, float),
    "timeout": (int, float),
    "direct_io": bool,
    "debug": bool,
}


def parse_request(text: str) -> tuple[Path, MountOptions, dict[str, str | None]]:
    """Parse a mount request: the mount point, the options, and ``catalog``/``site``.

    Raises:
        InvalidArgument: not a JSON object of the expected fields and types.
    """
    try:
        raw: Any = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid mount request: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("mountpoint"), str):
        raise InvalidArgument("invalid mount request: an object with a mountpoint is needed")
    kwargs: dict[str, Any] = {}
    for key, kind in _FIELDS.items():
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidArgument(f"invalid mount request: bad {key!r}")
        kwargs[key] = Path(str(value)) if key == "cache_dir" else value
    unknown = set(raw) - set(_FIELDS) - {"mountpoint", "catalog", "site"}
    if unknown:
        raise InvalidArgument(f"invalid mount request: unknown {', '.join(sorted(unknown))}")
    where = {k: raw.get(k) if isinstance(raw.get(k), str) else None for k in ("catalog", "site")}
    return Path(raw["mountpoint"]), MountOptions(**kwargs), where


def _api(where: dict[str, str | None]) -> Any:
    from dfc import DFC, Settings

    return DFC(Settings.load(catalog=where["catalog"], site=where["site"]))


def _log_to_stderr(debug: bool) -> None:
    """Log dfc's messages (and the FUSE binding's errors) with a time stamp on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s dfc mount: %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger("dfc").setLevel(logging.DEBUG if debug else logging.INFO)


def _serve(text: str) -> None:
    from dfc.fuse.mount import serve

    mountpoint, options, where = parse_request(text)
    _log_to_stderr(options.debug)
    with _api(where) as api:
        serve(api, mountpoint, options)


def _start(text: str, log_file: Path) -> None:
    from dfc.fuse.mount import check_mountpoint, check_root, spawn

    mountpoint, options, where = parse_request(text)
    with _api(where) as api:
        mnt = check_mountpoint(mountpoint)
        check_root(api, options.root)
    argv = [sys.executable, "-m", "dfc.fuse", "serve"]
    pid = spawn(argv, mnt, log_file.absolute(), env=os.environ)
    print(
        f"dfc: mounted {options.root} at {mnt} (pid {pid}, log {log_file}); "
        f"unmount with: dfc umount {mnt}",
        file=sys.stderr,
    )


def _request() -> str:
    text = os.environ.get(REQUEST_ENV)
    if not text:
        raise InvalidArgument(f"no mount request: set {REQUEST_ENV} (run `dfc mount`)")
    return text


def main(argv: list[str] | None = None) -> None:
    """Run the mount program; exits with the errno of a dfc error."""
    parser = argparse.ArgumentParser(prog="python -m dfc.fuse", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="mount and serve until unmounted")
    start = sub.add_parser("start", help="mount in the background")
    start.add_argument("--log-file", required=True, type=Path, help="the mount's log")
    umount = sub.add_parser("umount", help="unmount")
    umount.add_argument("mountpoint", type=Path)
    umount.add_argument("--lazy", action="store_true", help="detach now, finish when unused")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            _serve(_request())
        elif args.command == "start":
            _start(_request(), args.log_file)
        else:
            from dfc.fuse.mount import umount as do_umount

            do_umount(args.mountpoint, lazy=args.lazy)
    except DFCError as exc:
        print(f"dfc: {exc}", file=sys.stderr)
        sys.exit(min(exc.errno, 255) or 1)
    except KeyboardInterrupt:
        sys.exit(130)
