"""``dfc mount`` and ``dfc umount``: the catalogue as a filesystem."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from dfc.cli._app import app, state

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Parse ``1048576``, ``500M``, ``10G``, ``1.5T`` (powers of 1024) into bytes.

    Raises:
        typer.BadParameter: not a positive size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"invalid size {text!r}: use e.g. 500M, 10G or a byte count")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@app.command()
def mount(
    ctx: typer.Context,
    mountpoint: Annotated[
        str, typer.Argument(help="An empty local directory.", metavar="MOUNTPOINT")
    ],
    root: Annotated[str, typer.Option("--root", help="The LFN shown at MOUNTPOINT.")] = "/",
    writable: Annotated[
        bool,
        typer.Option(
            "--writable",
            help="Allow new files (uploaded and registered on close), mkdir, rmdir, rm, mv.",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Let writes replace existing files.")
    ] = False,
    se: Annotated[
        str | None, typer.Option("--se", help="SE for new files (default: as dfc put).")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Keep read blocks in this local cache.")
    ] = None,
    cache_size: Annotated[
        str, typer.Option("--cache-size", help="Cache capacity, e.g. 500M or 20G.")
    ] = "10G",
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds a replica may take to answer a read (then EIO)."),
    ] = 30.0,
    attr_timeout: Annotated[
        float, typer.Option("--attr-timeout", help="Seconds listings and attributes are cached.")
    ] = 5.0,
    direct_io: Annotated[
        bool,
        typer.Option(
            "--direct-io", help="Bypass the page cache: faster big sequential reads, no mmap."
        ),
    ] = False,
    foreground: Annotated[
        bool, typer.Option("--foreground", "-f", help="Stay in the foreground (Ctrl-C unmounts).")
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option("--log-file", help="Log of a background mount (default: DATA_DIR/mount.log)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Log every FUSE request.")] = False,
) -> None:
    """Mount the catalogue (read-only unless --writable) as a filesystem at MOUNTPOINT.

    Files read from their best replica (your site first, failing over); a file
    read whole is checksum-verified; extended attributes user.dfc.replicas,
    user.dfc.adler32, user.dfc.xxh3, user.dfc.guid, user.dfc.meta.FIELD.

    Examples: dfc mount ~/juno ; dfc mount ~/juno --root /juno/user/a/alice --writable ;
    dfc umount ~/juno
    """
    request = {
        "mountpoint": str(Path(mountpoint).absolute()),
        "catalog": state(ctx).catalog,
        "site": state(ctx).site,
        "root": root,
        "writable": writable,
        "overwrite": overwrite,
        "se": se,
        "cache_dir": str(cache_dir.absolute()) if cache_dir is not None else None,
        "cache_size": parse_size(cache_size),
        "attr_ttl": attr_timeout,
        "timeout": timeout,
        "direct_io": direct_io,
        "debug": debug,
    }
    env = _child_env()
    env["DFC_FUSE_REQUEST"] = json.dumps(request)  # not in argv: `ps` shows argv to all
    if foreground:
        # The filesystem is its own program (an adapter of its own): replace this process,
        # so that Ctrl-C reaches libfuse, which unmounts.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", "dfc.fuse", "serve"], env)
    log = log_file if log_file is not None else state(ctx).api().settings.data_dir / "mount.log"
    raise typer.Exit(_run_fuse(["start", "--log-file", str(log.absolute())], env))


def _run_fuse(args: list[str], env: dict[str, str]) -> int:
    """Run ``python -m dfc.fuse ARGS``, relay its messages, return its exit status."""
    done = subprocess.run(
        [sys.executable, "-m", "dfc.fuse", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def _child_env() -> dict[str, str]:
    """This environment, with this very dfc package first on the child's path."""
    import dfc

    env = dict(os.environ)
    here = str(Path(dfc.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


@app.command()
def umount(
    mountpoint: Annotated[
        str, typer.Argument(help="Where a dfc filesystem is mounted.", metavar="MOUNTPOINT")
    ],
    lazy: Annotated[
        bool, typer.Option("--lazy", "-z", help="Detach now even if in use; finish when unused.")
    ] = False,
) -> None:
    """Unmount a dfc filesystem (refused while in use, unless --lazy).

    Example: dfc umount ~/juno
    """
    args = ["umount", str(Path(mountpoint).absolute())]
    raise typer.Exit(_run_fuse(args + ["--lazy"] * lazy, _child_env()))
