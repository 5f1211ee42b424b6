"""dfc: grid data management — a file catalogue, storage elements, transfers.

The public API is re-exported here; heavy modules load on first use so that the
command line starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
