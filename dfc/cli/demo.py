"""``dfc demo``: a short printed tour in a throwaway home."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from dfc.cli._app import app


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the throwaway directory and print its path.")
    ] = False,
) -> None:
    """Run a short tour: two local SEs, put, replicate, list, find and get back, verified.

    Everything happens in a temporary directory; your own configuration and
    catalogue are not touched.

    Example: dfc demo
    """
    tmp = Path(tempfile.mkdtemp(prefix="dfc-demo-"))
    env = dict(os.environ)
    env.update(
        DFC_CONFIG=str(tmp / "config.toml"),
        DFC_DATA_DIR=str(tmp / "data"),
        DFC_SITE="IHEP",
    )
    env.pop("DFC_CATALOG", None)
    work = tmp / "work"
    work.mkdir()
    for i in range(1, 4):
        (work / f"detsim-00{i}.root").write_bytes(os.urandom(256 * 1024 * i))
    run = tmp / "run2"
    run.mkdir()
    for i in range(1, 3):
        (run / f"elecsim-00{i}.root").write_bytes(os.urandom(64 * 1024))
    steps = [
        "init",
        f"se add IHEP-DISK file://{tmp}/se/ihep --site IHEP",
        f"se add CNAF-DISK file://{tmp}/se/cnaf --site CNAF",
        "se list",
        "mkdir -p /juno/user/a/alice/run1",
        f"put {work}/detsim-001.root {work}/detsim-002.root {work}/detsim-003.root "
        "/juno/user/a/alice/run1/ --se IHEP-DISK",
        f"put -r {run} /juno/user/a/alice/ --se CNAF-DISK",
        "replicate -r /juno/user/a/alice/run1 --to CNAF-DISK",
        "ls -l /juno/user/a/alice/run1",
        "ls -R /juno/user/a/alice",
        "replicas /juno/user/a/alice/run1/detsim-001.root",
        f"get /juno/user/a/alice/run1/detsim-001.root {tmp}/copy.root",
        f"get -r /juno/user/a/alice/run2 {tmp}/run2-copy",
        "rm --se IHEP-DISK /juno/user/a/alice/run1/detsim-002.root",
        "rm /juno/user/a/alice/run1/detsim-003.root",
        "ls -l /juno/user/a/alice/run1",
    ]
    print(f"dfc demo in {tmp} (site IHEP)\n")
    try:
        for step in steps:
            print(f"$ dfc {step}")
            sys.stdout.flush()
            done = subprocess.run(
                [sys.executable, "-m", "dfc", *shlex.split(step)], env=env, check=False
            )
            if done.returncode != 0:
                print(f"dfc demo: step failed with status {done.returncode}", file=sys.stderr)
                raise typer.Exit(done.returncode)
            print()
        same = (tmp / "copy.root").read_bytes() == (work / "detsim-001.root").read_bytes()
        print(f"copy.root identical to the original: {same}")
        if not same:
            raise typer.Exit(1)
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
