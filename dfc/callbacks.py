"""Progress reporting: fsspec's callback protocol, used as it is.

Library functions take ``callback: Callback | None``; the CLI supplies a Rich
subclass. The library itself never draws anything.
"""

from __future__ import annotations

from fsspec.callbacks import DEFAULT_CALLBACK, Callback, NoOpCallback

__all__ = ["DEFAULT_CALLBACK", "Callback", "NoOpCallback"]
