"""Settings: where the configuration, the data and the catalogue live.

Resolution order for each value: the explicit argument (a CLI option), then the
environment, then the configuration file, then the built-in default.

- configuration file: ``$DFC_CONFIG``, else
  ``${XDG_CONFIG_HOME:-~/.config}/dfc/config.toml``;
- data directory: ``$DFC_DATA_DIR``, else ``${XDG_DATA_HOME:-~/.local/share}/dfc``;
- catalogue URL: ``--catalog``, ``$DFC_CATALOG``, ``catalog`` in the file, else
  ``sqlite:///<data dir>/catalog.db``;
- site: ``--site``, ``$DFC_SITE``, ``site`` in the file.

The file may also hold per-SE options (credentials, endpoints) under
``[se.NAME]``; they are local to this machine and never stored in the catalogue.
"""

from __future__ import annotations

import getpass
import grp
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from dfc.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Settings", "config_path", "data_dir", "default_identity"]


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the path of the configuration file (which may not exist yet)."""
    env = os.environ if env is None else env
    if env.get("DFC_CONFIG"):
        return Path(env["DFC_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "dfc" / "config.toml"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the data directory (for the embedded SQLite catalogue)."""
    env = os.environ if env is None else env
    if env.get("DFC_DATA_DIR"):
        return Path(env["DFC_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "dfc"


def default_identity() -> tuple[str, str]:
    """Return the local OS user and primary group names."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    try:
        group = grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        group = str(os.getgid())
    return user, group


@dataclass(frozen=True)
class Settings:
    """Everything dfc needs to know about its environment.

    Build it with :meth:`load`; pass it down explicitly (there are no globals).
    ``transfer_concurrency`` (``[transfers] concurrency``) is how many files of
    1 MiB or more a command copies at once; ``small_file_concurrency``
    (``[transfers] small_file_concurrency``) how many copies in all when the
    files are smaller (their copies mostly wait for round trips).
    """

    config_file: Path
    data_dir: Path
    catalog_url: str
    site: str | None = None
    user: str = "nobody"
    group: str = "nobody"
    se_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    transfer_concurrency: int = 8
    small_file_concurrency: int = 32
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def default_catalog_url(self) -> str:
        """The embedded SQLite catalogue's URL."""
        return f"sqlite:///{self.data_dir / 'catalog.db'}"

    @classmethod
    def load(
        cls,
        *,
        catalog: str | None = None,
        site: str | None = None,
        config_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build the settings from arguments, environment and configuration file.

        Raises:
            ConfigError: the configuration file is not valid TOML or has a value
                of the wrong type.
        """
        env = os.environ if env is None else env
        path = config_file or config_path(env)
        raw: dict[str, Any] = {}
        if path.is_file():
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: invalid TOML: {exc}") from None
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        data = data_dir(env)
        if raw.get("data_dir"):
            data = Path(_str(raw, "data_dir", path)).expanduser()
        url = catalog or env.get("DFC_CATALOG") or _str(raw, "catalog", path)
        if not url:
            url = f"sqlite:///{data / 'catalog.db'}"
        user, group = default_identity()
        ses = raw.get("se", {})
        if not isinstance(ses, dict) or not all(isinstance(v, dict) for v in ses.values()):
            raise ConfigError(f"{path}: [se.NAME] sections must be tables")
        transfers = raw.get("transfers", {})
        transfers = transfers if isinstance(transfers, dict) else {}
        conc = _positive(transfers, "concurrency", 8, path)
        small = _positive(transfers, "small_file_concurrency", 32, path)
        return cls(
            config_file=path,
            data_dir=data,
            catalog_url=url,
            site=site or env.get("DFC_SITE") or _str(raw, "site", path) or None,
            user=user,
            group=group,
            se_options=MappingProxyType({k: MappingProxyType(v) for k, v in ses.items()}),
            transfer_concurrency=conc,
            small_file_concurrency=small,
            raw=MappingProxyType(raw),
        )


def _positive(raw: Mapping[str, Any], key: str, default: int, path: Path) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{path}: transfers.{key} must be a positive integer")
    return value


def _str(raw: Mapping[str, Any], key: str, path: Path) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key!r} must be a string")
    return value
