"""The schema revisions this dfc knows, newest last (no alembic import here)."""

from __future__ import annotations

__all__ = ["HEAD", "REVISIONS"]

#: Every Alembic revision of the catalogue schema, oldest first.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")

#: The revision this dfc needs: the newest one.
HEAD: str = REVISIONS[-1]
