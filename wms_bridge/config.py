"""Where the job bridge keeps its state, read from the dfc settings.

Each value comes from the environment, else the ``[jobs]`` table of the dfc
configuration file, else a default:

- ``DFC_JOB_DIR`` / ``dir``: task directories (scripts, job specs, logs);
  default ``<dfc data dir>/jobs``;
- ``DFC_JOB_DB`` / ``db``: the task and job database; default the catalogue's
  own PostgreSQL when the catalogue is PostgreSQL, else
  ``sqlite:///<job dir>/jobs.db``;
- ``DFC_JOB_SLOTS`` / ``local_slots``: cores the ``local`` backend may use at
  once (default: the number of CPUs);
- ``DFC_JOB_RUNNER_IDLE`` / ``runner_idle``: seconds the local runner waits
  with nothing to do before it exits (default 60);
- ``vo``: the VO root of default output directories (default ``juno``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wms_bridge.errors import JobConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dfc import Settings

__all__ = ["JobSettings"]


@dataclass(frozen=True)
class JobSettings:
    """The job bridge's settings, next to the dfc settings they derive from.

    Attributes:
        dfc: the dfc settings (catalogue, site, user).
        jobs_dir: where task directories live.
        db_url: SQLAlchemy URL of the task/job database.
        local_slots: cores the local backend may use at once.
        runner_idle: seconds the local runner idles before exiting.
        vo: VO root for default output directories.
    """

    dfc: Settings
    jobs_dir: Path
    db_url: str
    local_slots: int
    runner_idle: float
    vo: str = "juno"

    @classmethod
    def load(cls, settings: Settings, env: Mapping[str, str] | None = None) -> JobSettings:
        """Derive the job settings from ``settings`` and the environment.

        Raises:
            JobConfigError: a ``[jobs]`` value has the wrong type.
        """
        env = os.environ if env is None else env
        raw = settings.raw.get("jobs", {})
        if not isinstance(raw, dict):
            raise JobConfigError(f"{settings.config_file}: [jobs] must be a table")
        where = f"{settings.config_file}: [jobs]"
        jobs_dir = Path(
            env.get("DFC_JOB_DIR") or _get(raw, "dir", str, where) or settings.data_dir / "jobs"
        ).expanduser()
        db_url = env.get("DFC_JOB_DB") or _get(raw, "db", str, where)
        if not db_url:
            if settings.catalog_url.startswith("postgresql"):
                db_url = settings.catalog_url
            else:
                db_url = f"sqlite:///{jobs_dir / 'jobs.db'}"
        slots = _number(env.get("DFC_JOB_SLOTS"), raw, "local_slots", where, int)
        idle = _number(env.get("DFC_JOB_RUNNER_IDLE"), raw, "runner_idle", where, float)
        vo = _get(raw, "vo", str, where) or "juno"
        return cls(
            dfc=settings,
            jobs_dir=jobs_dir,
            db_url=db_url,
            local_slots=int(slots) if slots is not None else max(os.cpu_count() or 1, 1),
            runner_idle=float(idle) if idle is not None else 60.0,
            vo=vo.strip("/"),
        )

    def env(self) -> dict[str, str]:
        """Variables that make a child process (runner, job) see the same settings."""
        out = {
            "DFC_CONFIG": str(self.dfc.config_file),
            "DFC_DATA_DIR": str(self.dfc.data_dir),
            "DFC_CATALOG": self.dfc.catalog_url,
            "DFC_JOB_DIR": str(self.jobs_dir),
            "DFC_JOB_DB": self.db_url,
            "DFC_JOB_SLOTS": str(self.local_slots),
            "DFC_JOB_RUNNER_IDLE": str(self.runner_idle),
        }
        if self.dfc.site:
            out["DFC_SITE"] = self.dfc.site
        return out


def _get(raw: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = raw.get(key)
    if value is not None and not isinstance(value, kind):
        raise JobConfigError(f"{where} {key}: expected a {kind.__name__}, got {value!r}")
    return value


def _number(
    env_value: str | None, raw: Mapping[str, Any], key: str, where: str, kind: type
) -> float | None:
    value: Any = env_value if env_value else raw.get(key)
    if value is None:
        return None
    try:
        number = float(kind(value))
    except (TypeError, ValueError):
        raise JobConfigError(f"{where} {key}: expected a positive number, got {value!r}") from None
    if number <= 0:
        raise JobConfigError(f"{where} {key}: expected a positive number, got {value!r}")
    return number
