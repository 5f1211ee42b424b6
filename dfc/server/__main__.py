"""``python -m dfc.server --config FILE [--host H] [--port P]``: run the catalogue server."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the server, and exit with the error's errno on failure."""
    from dfc.errors import DFCError

    parser = argparse.ArgumentParser(prog="dfc server", description="Run the catalogue server.")
    parser.add_argument("--config", "-c", type=Path, required=True)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        from dfc.server import ServerConfig, serve

        config = ServerConfig.load(args.config)
        changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        serve(dataclasses.replace(config, **changes))
    except DFCError as exc:
        print(f"dfc server: {exc}", file=sys.stderr)
        sys.exit(min(exc.errno, 255) or 1)
    except OSError as exc:
        print(f"dfc server: {exc}", file=sys.stderr)
        sys.exit(min(exc.errno or 1, 255))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
