"""``dfc proxy init``, ``dfc proxy info`` and ``dfc whoami``: the grid identity."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from dfc.cli._app import JsonOpt, app, state
from dfc.cli._coerce import FastGroup
from dfc.cli._output import emit_json

proxy_app = typer.Typer(
    cls=FastGroup,
    help=(
        "Make and inspect X.509 proxies (RFC 3820), the credential the catalogue server "
        "accepts.\n\nExample: dfc proxy init --valid 24 ; dfc proxy info"
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(proxy_app, name="proxy")

FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f", help="The proxy file (default $X509_USER_PROXY or /tmp/x509up_u<uid>)."
    ),
]


def _left(left: timedelta) -> str:
    seconds = max(int(left.total_seconds()), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@proxy_app.command("init")
def proxy_init(
    valid: Annotated[float, typer.Option("--valid", help="Lifetime in hours.", min=0.01)] = 12.0,
    limited: Annotated[
        bool, typer.Option("--limited", help="A limited proxy: servers allow it to read only.")
    ] = False,
    cert: Annotated[
        Path | None,
        typer.Option("--cert", help="User certificate (default ~/.globus/usercert.pem)."),
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="User key (default ~/.globus/userkey.pem).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default as for --file).")
    ] = None,
    passphrase_stdin: Annotated[
        bool, typer.Option("--pwstdin", help="Read the key's passphrase from standard input.")
    ] = False,
) -> None:
    """Make an RFC 3820 proxy from your user certificate (asks for the key's passphrase).

    The proxy file is written with mode 600.

    Example: dfc proxy init --valid 24 ; dfc proxy init --limited
    """
    from dfc.auth import locations
    from dfc.auth.proxy import load_user_credential, make_proxy, proxy_info, write_proxy

    default_cert, default_key = locations.user_credential_paths()

    def ask() -> bytes:
        if passphrase_stdin:
            return sys.stdin.readline().rstrip("\r\n").encode()
        phrase: str = typer.prompt("Enter GRID pass phrase", hide_input=True, err=True)
        return phrase.encode()

    user_cert, user_key = load_user_credential(cert or default_cert, key or default_key, ask)
    target = out or locations.proxy_path()
    write_proxy(target, make_proxy(user_cert, user_key, hours=valid, limited=limited))
    info = proxy_info(target)
    print(f"Your proxy {target} is valid until {info.not_after:%Y-%m-%d %H:%M:%S} UTC")


@proxy_app.command("info")
def proxy_info_cmd(file: FileOpt = None, json: JsonOpt = False) -> None:
    """Show a proxy: identity, type, key size, VOMS attributes (verified) and time left.

    The chain and the VOMS ACs are verified against $X509_CERT_DIR and $X509_VOMS_DIR
    when those directories exist; otherwise the attributes are shown as unverified.

    Example: dfc proxy info ; dfc proxy info --file ./x509up --json
    """
    from dfc.auth import locations
    from dfc.auth.proxy import proxy_info

    ca_dir, vomsdir = locations.ca_dir(), locations.vomsdir()
    info = proxy_info(
        file or locations.proxy_path(),
        ca_dir=ca_dir if ca_dir.is_dir() else None,
        vomsdir=vomsdir if vomsdir.is_dir() and ca_dir.is_dir() else None,
    )
    if json:
        emit_json(
            {
                "subject": info.subject,
                "issuer": info.issuer,
                "identity": info.identity,
                "type": str(info.type),
                "bits": info.bits,
                "path_length": info.path_length,
                "limited": info.limited,
                "not_after": info.not_after,
                "time_left": int(info.time_left.total_seconds()),
                "chain_verified": info.chain_verified,
                "voms": [
                    {"vo": v.vo, "fqans": list(v.fqans), "verified": v.verified,
                     "issuer": v.issuer, "not_after": v.not_after}
                    for v in info.voms
                ],
            }
        )  # fmt: skip
        return
    print(f"subject   : {info.subject}")
    print(f"issuer    : {info.issuer}")
    print(f"identity  : {info.identity}")
    print(f"type      : {info.type}")
    print(f"strength  : {info.bits} bits")
    print(f"timeleft  : {_left(info.time_left)}")
    print(f"verified  : {'yes' if info.chain_verified else 'no (no CA directory)'}")
    for v in info.voms:
        state_ = "verified" if v.verified else "NOT verified"
        print(f"=== VO {v.vo} extension information ({state_}) ===")
        print(f"issuer    : {v.issuer}")
        for fqan in v.fqans:
            print(f"attribute : {fqan}")
        print(f"timeleft  : {_left(v.not_after - datetime.now(UTC))}")
    if info.time_left.total_seconds() <= 0:
        raise typer.Exit(1)


@app.command()
def whoami(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Show how the catalogue sees you: DN, user, groups, roles and local account.

    Against a catalogue server this is what the server made of your proxy or token;
    on an embedded catalogue, your local user.

    Example: dfc whoami ; dfc --catalog https://dfc.example.org:8443 whoami --json
    """
    who = state(ctx).api().whoami()
    if json:
        emit_json(who)
        return
    rows = [
        ("principal", who.principal),
        ("via", who.via),
        ("user", who.user or "(not registered)"),
        ("group", who.group),
        ("groups", ", ".join(who.groups) or "-"),
        ("fqans", ", ".join(who.fqans) or "-"),
        ("roles", ", ".join(who.roles) or "-"),
        ("properties", ", ".join(who.properties) or "-"),
        ("account", who.account or "-"),
        ("limited", "yes" if who.limited else "no"),
        ("expires", f"{who.not_after:%Y-%m-%d %H:%M:%S} UTC" if who.not_after else "-"),
        ("home", who.home or "-"),
    ]
    for name, value in rows:
        print(f"{name:<10}: {value}")
