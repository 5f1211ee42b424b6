"""``python -m wms_bridge``: the ``dfc-job`` command line."""

from __future__ import annotations

from wms_bridge.cli import main

if __name__ == "__main__":
    main()
