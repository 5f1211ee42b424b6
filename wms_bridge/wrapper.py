"""The job wrapper: what every job runs, on any backend.

``python -m wms_bridge.wrapper <task dir>/jobs/NNNNN/job.json``

1. takes the job's environment from the spec (the catalogue settings and the
   user's delegated proxy, ``X509_USER_PROXY``), reports ``running``;
2. stages the inputs into ``work/inputs/`` (closest good replica, verified)
   and writes the manifest ``inputs.json``;
3. runs the program in ``work/``, its output in ``stdout.log``/``stderr.log``;
4. stages the outputs out (upload, register, failover SEs, metadata, ancestry
   from the manifest) and writes ``outputs.json``;
5. removes ``work/`` and reports ``done`` with exit code 0, or reports
   ``failed`` with the phase, the reason and an exit code (the program's, or
   the staging error's errno), or ``killed`` (143) on SIGTERM.

The report is ``status.json`` in the attempt's directory, rewritten
atomically at each step; the wrapper's log is ``wrapper.log`` next to it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dfc import DFC, DFCError, Settings
from wms_bridge.errors import StagingError
from wms_bridge.jobfiles import JobPaths, JobSpec, Status, write_status
from wms_bridge.split import INPUT_DIR
from wms_bridge.stage import expand_patterns, read_manifest, stage_in, stage_out

if TYPE_CHECKING:
    from types import FrameType

    from dfc import BulkResult
    from wms_bridge.stage import StagedOut

__all__ = ["Wrapper", "main"]

KILLED_EXIT = 143


class _Killed(BaseException):
    """SIGTERM arrived (kill, wall time, scancel)."""


class _Failed(Exception):
    def __init__(self, phase: str, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.phase = phase
        self.reason = reason
        self.exit_code = exit_code


def _on_term(signum: int, frame: FrameType | None) -> NoReturn:
    raise _Killed


class Wrapper:
    """One attempt of one job."""

    def __init__(self, spec: JobSpec, paths: JobPaths) -> None:
        self.spec = spec
        self.paths = paths
        self.dir = paths.attempt(spec.attempt)
        self.work = paths.workdir(spec.attempt)
        self.started = time.time()
        self.phase = "start"
        self.program: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ reporting
    def log(self, message: str) -> None:
        """Append a line to ``wrapper.log``."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with (self.dir / "wrapper.log").open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp} [job {self.spec.index} attempt {self.spec.attempt}] {message}\n")

    def report(self, state: str, **extra: Any) -> None:
        """Rewrite ``status.json``."""
        status = Status(
            state=state,
            phase=self.phase,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=self.started,
            finished=time.time() if state != "running" else None,
            **extra,
        )
        write_status(self.paths.status(self.spec.attempt), status)

    def step(self, phase: str) -> None:
        """Enter ``phase`` and report it."""
        self.phase = phase
        self.log(f"phase {phase}")
        self.report("running")

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        """Run the job; return the wrapper's exit status."""
        self.dir.mkdir(parents=True, exist_ok=True)
        previous = signal.signal(signal.SIGTERM, _on_term)
        try:
            os.environ.update(self.spec.environment)
            self.step("stage-in")
            with DFC(Settings.load()) as dfc:
                ancestors = self.stage_in(dfc)
                self.step("run")
                self.run_program()
                self.step("stage-out")
                outputs = self.stage_out(dfc, ancestors)
            if not self.spec.keep_workdir:
                shutil.rmtree(self.work, ignore_errors=True)
            self.phase = "done"
            self.report("done", exit_code=0, outputs=outputs)
            self.log(f"done: {len(outputs)} outputs registered")
            return 0
        except _Failed as exc:
            self.log(f"failed in {exc.phase}: {exc.reason}")
            self.report("failed", exit_code=exc.exit_code, reason=exc.reason)
            return exc.exit_code
        except _Killed:
            self.stop_program()
            self.log(f"killed during {self.phase} (SIGTERM)")
            self.report("killed", exit_code=KILLED_EXIT, reason=f"killed during {self.phase}")
            return KILLED_EXIT
        except DFCError as exc:
            self.log(f"failed in {self.phase}: {exc}")
            self.report("failed", exit_code=min(exc.errno, 255) or 1, reason=str(exc))
            return min(exc.errno, 255) or 1
        except Exception as exc:
            # A bug here must still end as a report; the traceback follows on stderr.
            self.report("failed", exit_code=1, reason=f"wrapper error: {exc!r}")
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)

    def stage_in(self, dfc: DFC) -> list[str]:
        """Stage the inputs in; return their LFNs, read back from the manifest."""
        manifest = self.paths.manifest(self.spec.attempt)
        got = stage_in(
            dfc,
            self.spec.inputs,
            self.work / INPUT_DIR,
            preferred_se=self.spec.preferred_se,
            manifest=manifest,
        )
        for lfn, staged in got.succeeded.items():
            self.log(f"staged in {lfn} from {staged.se or 'local copy'}")
        if got.failed:
            raise _Failed("stage-in", _summary(got.failed, "input"), _errno(got.failed))
        return [entry["lfn"] for entry in read_manifest(manifest)]

    def run_program(self) -> None:
        """Run the user's program in the sandbox."""
        argv = self.spec.argv
        if not argv:
            raise _Failed("run", "the task has no executable or script", 1)
        self.work.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DFC_JOB_TASK": self.spec.task,
            "DFC_JOB_INDEX": str(self.spec.index),
            "DFC_JOB_ATTEMPT": str(self.spec.attempt),
            "DFC_JOB_INPUTS": str(self.paths.manifest(self.spec.attempt)),
        }
        logs = self.paths.logs(self.spec.attempt)
        self.log(f"running {' '.join(argv)}")
        with logs["stdout"].open("ab") as out, logs["stderr"].open("ab") as err:
            try:
                self.program = subprocess.Popen(
                    argv, cwd=self.work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
                )
            except OSError as exc:
                raise _Failed("run", f"cannot run {argv[0]}: {exc.strerror or exc}", 127) from None
            code = self.program.wait()
        self.program = None
        self.log(f"the program exited with status {code}")
        if code != 0:
            why = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise _Failed("run", f"the program {why}", 128 - code if code < 0 else code)

    def stop_program(self) -> None:
        """Terminate the program (on SIGTERM), then kill it if it lingers."""
        proc = self.program
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stage_out(self, dfc: DFC, ancestors: list[str]) -> list[dict[str, Any]]:
        """Stage the outputs out, directory by directory; return what was registered."""
        by_dir: dict[str, list[str]] = {}
        for pattern, directory in self.spec.outputs:
            by_dir.setdefault(directory, []).append(pattern)
        done: list[dict[str, Any]] = []
        failed: dict[str, DFCError] = {}
        for directory, patterns in by_dir.items():
            files, unmatched = expand_patterns(patterns, self.work)
            for pattern in unmatched:
                failed[pattern] = StagingError(f"output pattern {pattern!r} matched no file")
            if not files:
                continue
            result = stage_out(
                dfc,
                files,
                directory,
                se=self.spec.se,
                failover_se=self.spec.failover_se,
                meta=self.spec.meta,
                ancestors=ancestors,
                overwrite=self.spec.overwrite,
            )
            failed.update(result.failed)
            done.extend(self._outputs(result))
        self._write_report(done, failed)
        if failed:
            raise _Failed("stage-out", _summary(failed, "output"), _errno(failed))
        return done

    def _outputs(self, result: BulkResult[StagedOut]) -> list[dict[str, Any]]:
        out = []
        for lfn, staged in result.succeeded.items():
            note = f" (after {', '.join(staged.failed_ses)} failed)" if staged.failed_ses else ""
            self.log(f"staged out {lfn} to {staged.se}{note}")
            out.append(
                {
                    "lfn": lfn,
                    "se": staged.se,
                    "size": staged.size,
                    "adler32": staged.adler32,
                    "reused": staged.reused,
                }
            )
        return out

    def _write_report(self, done: list[dict[str, Any]], failed: dict[str, DFCError]) -> None:
        data = {
            "kind": "stage-out",
            "files": done,
            "failed": {key: str(err) for key, err in failed.items()},
        }
        target = self.paths.report(self.spec.attempt)
        target.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _summary(failed: dict[str, DFCError], what: str) -> str:
    first = next(iter(failed.values()))
    more = f" (and {len(failed) - 1} more {what}s)" if len(failed) > 1 else ""
    return f"{first}{more}"


def _errno(failed: dict[str, DFCError]) -> int:
    return min(next(iter(failed.values())).errno, 255) or 1


def main(argv: list[str] | None = None) -> int:
    """Run the job whose spec is the first argument; return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m wms_bridge.wrapper JOB_SPEC.json", file=sys.stderr)
        return 2
    spec_path = Path(args[0]).resolve()
    try:
        spec = JobSpec.from_json(json.loads(spec_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        print(f"dfc-job wrapper: cannot read {spec_path}: {exc}", file=sys.stderr)
        return 2
    task_dir = spec_path.parent.parent.parent
    return Wrapper(spec, JobPaths(task_dir, spec.index)).run()


if __name__ == "__main__":
    sys.exit(main())
