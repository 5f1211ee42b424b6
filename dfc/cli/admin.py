"""``dfc admin``: the identity registry (users, groups, FQAN rules, grid-mapfiles)."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - typer reads the annotations at run time
from typing import TYPE_CHECKING, Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json, warn

if TYPE_CHECKING:
    from dfc.api import GroupInfo, UserInfo

_CTX = {"help_option_names": ["-h", "--help"]}
admin_app = typer.Typer(
    cls=FastGroup,
    help=(
        "Administer who is who in the catalogue (administrators only).\n\n"
        "Example: dfc admin user add alice --dn '/DC=org/DC=example/CN=Alice' --group juno"
    ),
    no_args_is_help=True,
    context_settings=_CTX,
)
user_app = typer.Typer(
    cls=FastGroup,
    help=(
        "Users: a name (owner of entries), the DNs or token subjects that map to it, a "
        "local account, a default group and properties (admin, production).\n\n"
        "Example: dfc admin user add alice --dn '/DC=org/DC=example/CN=Alice' ; "
        "dfc admin user list ; dfc admin user rm alice"
    ),
    no_args_is_help=True,
    context_settings=_CTX,
)
group_app = typer.Typer(
    cls=FastGroup,
    help=(
        "Groups of users, with properties (admin: may do everything; production: a "
        "production manager).\n\n"
        "Example: dfc admin group add juno_prod --property production ; "
        "dfc admin group adduser juno_prod alice"
    ),
    no_args_is_help=True,
    context_settings=_CTX,
)
map_app = typer.Typer(
    cls=FastGroup,
    help=(
        "Rules from VOMS FQANs (and token groups) to groups, and grid-mapfile import.\n\n"
        "Example: dfc admin map add /juno/production/Role=production juno_prod ; "
        "dfc admin map import /etc/grid-security/grid-mapfile"
    ),
    no_args_is_help=True,
    context_settings=_CTX,
)
app.add_typer(admin_app, name="admin")
admin_app.add_typer(user_app, name="user")
admin_app.add_typer(group_app, name="group")
admin_app.add_typer(map_app, name="map")

Props = Annotated[
    list[str] | None,
    typer.Option("--property", "-p", help="admin or production (repeatable)."),
]


def _print_user(user: UserInfo) -> None:
    props = ",".join(user.properties) or "-"
    groups = ",".join(user.groups) or "-"
    print(
        f"{user.name:<16} account={user.account or '-'} group={user.group or '-'} "
        f"groups={groups} properties={props}"
    )
    for dn in user.dns:
        print(f"    {dn}")


def _print_group(group: GroupInfo) -> None:
    print(
        f"{group.name:<16} properties={','.join(group.properties) or '-'} "
        f"members={','.join(group.members) or '-'} fqans={','.join(group.fqans) or '-'}"
    )


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    dn: Annotated[
        list[str] | None,
        typer.Option("--dn", help="A DN, token '<issuer>#<subject>' or 'local:<user>'."),
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="Local account.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Default group.")] = None,
    properties: Props = None,
    json: JsonOpt = False,
) -> None:
    """Register a user, or add DNs to an existing one.

    Example: dfc admin user add alice --dn '/DC=org/DC=example/O=JUNO/CN=Alice' --group juno
    """
    user = (
        state(ctx)
        .api()
        .user_add(name, dns=dn or [], account=account, group=group, properties=properties)
    )
    emit_json(user) if json else _print_user(user)


@user_app.command("list")
def user_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List users with their DNs.

    Example: dfc admin user list --json
    """
    users = state(ctx).api().user_list()
    if json:
        emit_json(users)
        return
    for user in users:
        _print_user(user)


@user_app.command("rm")
def user_rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    dn: Annotated[str | None, typer.Option("--dn", help="Only unmap this DN.")] = None,
) -> None:
    """Unregister a user (their entries keep their owner name), or unmap one DN.

    Example: dfc admin user rm alice ; dfc admin user rm alice --dn '/DC=org/CN=Old'
    """
    state(ctx).api().user_remove(name, dn=dn)


@group_app.command("add")
def group_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Group name.")],
    properties: Props = None,
    json: JsonOpt = False,
) -> None:
    """Create a group, or set the properties of an existing one.

    Example: dfc admin group add juno_prod --property production
    """
    group = state(ctx).api().group_add(name, properties=properties)
    emit_json(group) if json else _print_group(group)


@group_app.command("list")
def group_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List groups with properties, members and FQANs.

    Example: dfc admin group list
    """
    groups = state(ctx).api().group_list()
    if json:
        emit_json(groups)
        return
    for group in groups:
        _print_group(group)


@group_app.command("rm")
def group_rm(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Group name.")]) -> None:
    """Delete a group with its memberships and FQAN rules.

    Example: dfc admin group rm old_group
    """
    state(ctx).api().group_remove(name)


@group_app.command("adduser")
def group_adduser(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name.")],
    user: Annotated[str, typer.Argument(help="User name.")],
) -> None:
    """Add a user to a group.

    Example: dfc admin group adduser juno_prod alice
    """
    _print_group(state(ctx).api().group_member(group, user))


@group_app.command("deluser")
def group_deluser(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name.")],
    user: Annotated[str, typer.Argument(help="User name.")],
) -> None:
    """Remove a user from a group.

    Example: dfc admin group deluser juno_prod alice
    """
    _print_group(state(ctx).api().group_member(group, user, remove=True))


@map_app.command("add")
def map_add(
    ctx: typer.Context,
    fqan: Annotated[str, typer.Argument(help="FQAN, e.g. /juno/production/Role=production.")],
    group: Annotated[str, typer.Argument(help="The group its holders belong to.")],
    account: Annotated[
        str | None, typer.Option("--account", help="Local account when it is the primary FQAN.")
    ] = None,
) -> None:
    """Make holders of an FQAN members of a group.

    Example: dfc admin map add /juno/production/Role=production juno_prod --account junoprd
    """
    rule = state(ctx).api().map_add(fqan, group, account=account)
    print(f"{rule.fqan} -> {rule.group}" + (f" (account {rule.account})" if rule.account else ""))


@map_app.command("list")
def map_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List the FQAN rules.

    Example: dfc admin map list
    """
    rules = state(ctx).api().map_list()
    if json:
        emit_json(rules)
        return
    for rule in rules:
        print(f"{rule.fqan:<48} {rule.group:<16} {rule.account or '-'}")


@map_app.command("rm")
def map_rm(ctx: typer.Context, fqan: Annotated[str, typer.Argument(help="FQAN.")]) -> None:
    """Delete the rule of an FQAN.

    Example: dfc admin map rm /juno/production/Role=production
    """
    state(ctx).api().map_remove(fqan)


@map_app.command("import")
def map_import(
    ctx: typer.Context,
    gridmap: Annotated[Path, typer.Argument(help="A grid-mapfile ('\"DN\" account' lines).")],
    json: JsonOpt = False,
) -> None:
    """Import a grid-mapfile: each DN becomes (or joins) the user named by its account.

    Pool accounts (.juno) are skipped, as are DNs mapped to another user already.

    Example: dfc admin map import /etc/grid-security/grid-mapfile
    """
    result = state(ctx).api().gridmap_import(gridmap)
    if json:
        emit_json(result)
        return
    print(
        f"added {len(result.added)}, updated {len(result.updated)}, skipped {len(result.skipped)}"
    )
    for line in result.skipped:
        warn(f"skipped {line}")
