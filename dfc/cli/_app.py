"""The typer application, its root options and the single error handler."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from dfc._gc import gc_paused
from dfc.cli._coerce import FastGroup
from dfc.cli._startup import freeze_loaded

if TYPE_CHECKING:
    from dfc import DFC

__all__ = ["JsonOpt", "State", "app", "main", "state"]

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="dfc",
    help=(
        "dfc: the grid file catalogue, storage elements and transfers.\n\n"
        "Start with `dfc init`, register storage with `dfc se add`, then "
        "`dfc put`, `dfc ls`, `dfc get`, `dfc replicate`, `dfc rm`. "
        "`dfc demo` runs a short tour in a throwaway home."
    ),
    no_args_is_help=True,
    context_settings=CONTEXT,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    cls=FastGroup,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


class State:
    """Root options, and the API object built from them on first use.

    A plain class: a dataclass's generated methods would cost every start.
    """

    __slots__ = ("_api", "catalog", "site")

    def __init__(self, catalog: str | None = None, site: str | None = None) -> None:
        self.catalog = catalog
        self.site = site
        self._api: DFC | None = None

    def api(self) -> DFC:
        """The :class:`dfc.DFC` for these options.

        Raises:
            ConfigError: the configuration file is invalid.
        """
        if self._api is None:
            with gc_paused():
                from dfc import DFC, Settings

                self._api = DFC(Settings.load(catalog=self.catalog, site=self.site))
                freeze_loaded()
        return self._api

    def close(self) -> None:
        """Close the API object if one was made."""
        if self._api is not None:
            self._api.close()


def state(ctx: typer.Context) -> State:
    """The :class:`State` of this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def _print_version(value: bool) -> None:
    if value:
        from dfc import __version__

        print(f"dfc {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog",
            metavar="URL",
            help="Catalogue URL (default: $DFC_CATALOG, the config, or the embedded SQLite).",
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option("--site", help="Your site, for replica choice (default: $DFC_SITE)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Options for every command."""
    ctx.obj = State(catalog=catalog, site=site)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None, application: typer.Typer | None = None) -> None:
    """Run the ``dfc`` command line; the one place that turns dfc errors into exit codes.

    ``application`` is the typer app to run (default: :data:`app`, with the
    commands registered so far). Usage errors are reported by typer itself
    (exit status 2).
    """
    from dfc.errors import DFCError
    from dfc.signals import TerminateAsInterrupt

    with TerminateAsInterrupt("dfc"):  # Ctrl-C and SIGTERM: exit 130 and 143
        try:
            (application or app)(args=argv, prog_name="dfc")
        except DFCError as exc:
            print(f"dfc: {exc}", file=sys.stderr)
            sys.exit(min(exc.errno, 255) or 1)
        except BrokenPipeError:
            sys.exit(0)
