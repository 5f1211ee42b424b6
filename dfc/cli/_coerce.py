"""Parameter coercion without importing pydantic for plain strings.

typer (>= 0.2x) coerces every non-boolean parameter through a pydantic
``TypeAdapter``, built on first use even when the value is ``None`` or already
a string. Importing pydantic and building the adapters costs about as much as
the whole of ``dfc ls /`` besides SQLAlchemy, for parameters that are strings
on the command line anyway.

:class:`FastGroup` (the root group's class) gives every parameter a
:class:`_Deferred` coercion: a string (or list of strings) for a ``str`` (or
``list[str]``) parameter is returned as typer would return it, and ``None`` is
handled by typer's own base class; any other case builds typer's own coercion
on the spot and uses it from then on, so errors and conversions stay exactly
typer's. If typer's internals are not as expected, parameters keep typer's
coercion unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click import Command, Context

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - another typer: keep its own coercion
    RuntimeParam = None  # type: ignore[assignment,misc]

__all__ = ["FastGroup"]

_LIST_STR = list[str]


if RuntimeParam is not None:

    class _Deferred(RuntimeParam):
        """Coerces strings itself; builds typer's coercion for anything else.

        A plain subclass: it adds no field, and inherits ``__init__``, equality and
        immutability from the ``RuntimeParam`` dataclass (decorating it again would
        generate them all anew at every start of the command line).
        """

        def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
            if self.annotation is str and type(value) is str:
                return value
            if (
                self.annotation == _LIST_STR
                and isinstance(value, (list, tuple))
                and all(type(v) is str for v in value)
            ):
                return list(value)
            real = build_runtime_param(param.type_descriptor)
            param._runtime_param = real
            return real._coerce_value(value, param=param, ctx=ctx)


def _defer(param: object) -> None:
    """Give one typer parameter :class:`_Deferred` coercion, if it is eligible."""
    descriptor = getattr(param, "type_descriptor", None)
    if (
        RuntimeParam is not None
        and isinstance(param, _TyperParameter)
        and descriptor is not None
        and descriptor.file_annotation is None
        and descriptor.parameter_info.parser is None
        and getattr(param, "_runtime_param", False) is None
    ):
        param._runtime_param = _Deferred(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
        )


def _install(command: Command) -> None:
    for param in command.params:
        _defer(param)
    for sub in getattr(command, "commands", {}).values():
        _install(sub)


class FastGroup(TyperGroup):
    """typer's group, with :class:`_Deferred` coercion for all parameters below it.

    Use it for every group of the application (``typer.Typer(cls=FastGroup)``):
    the help options, which click creates on demand, are covered by the group
    that resolves their command.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _install(self)

    def get_help_option(self, ctx: Context) -> Any:
        """The group's help option, with deferred coercion."""
        option = super().get_help_option(ctx)
        _defer(option)
        return option

    def resolve_command(self, ctx: Context, args: list[str]) -> Any:
        """Find the subcommand; create its help option now, with deferred coercion.

        Only when the subcommand's context will have the same help option names
        as this one (the help option is cached on first creation).
        """
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not isinstance(command, FastGroup):
            settings = command.context_settings or {}
            names = settings.get("help_option_names", ctx.help_option_names)
            if names == ctx.help_option_names:
                _defer(command.get_help_option(ctx))
        return name, command, rest
