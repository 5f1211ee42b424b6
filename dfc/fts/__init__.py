"""The bulk transfer engine (FTS): persistent, asynchronous, verified replication."""

from __future__ import annotations
