"""The public API facade: :class:`DFC` and the result types of its operations."""

from __future__ import annotations

from dfc.api._facade import DFC
from dfc.api._results import GetResult, InitResult, RemoveResult, ReplicateResult, SEProbe

__all__ = ["DFC", "GetResult", "InitResult", "RemoveResult", "ReplicateResult", "SEProbe"]
