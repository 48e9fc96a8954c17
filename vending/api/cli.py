"""API-client commands (``flask --app wsgi COMMAND``): ``create-api-client`` (CONTRACT §3:
prints the API key once), ``api-client-credit`` (top up a vendor float) and
``disable-api-client`` / ``enable-api-client``. Thin, like :mod:`vending.cli`."""

from __future__ import annotations

import getpass

import click
from flask import Flask, current_app

from ..database import db
from ..errors import VendingError
from ..services import Actor, ServiceContext
from ..services.api_clients import (
    DEFAULT_BURST,
    DEFAULT_RATE_PER_S,
    add_vendor_credit,
    create_api_client,
    set_client_enabled,
)


def _ctx() -> ServiceContext:
    return ServiceContext.from_app(current_app, db.session)


def _actor() -> Actor:
    try:
        return Actor("cli", getpass.getuser())
    except (KeyError, OSError):
        return Actor("cli", "operator")


@click.command("create-api-client")
@click.argument("name")
@click.option("--scopes", required=True, help="Comma-separated: vend,engineering,readings.")
@click.option("--vendor-credit", default=None, metavar="AMOUNT",
              help="Opening vendor credit (float); every vend is debited from it. Without "
                   "this option the client vends without a float.")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_RATE_PER_S, show_default=True, help="Requests per second.")
@click.option("--burst", type=click.IntRange(1, 1_000_000), default=DEFAULT_BURST,
              show_default=True, help="Requests allowed at once.")
@click.option("--no-rate-limit", is_flag=True, help="No rate limit (trusted channels).")
def create_api_client_command(name: str, scopes: str, vendor_credit: str | None,
                              rate_limit: float, burst: int, no_rate_limit: bool) -> None:
    """Register an API client and print its API key, once: store it now."""
    try:
        new = create_api_client(_ctx(), name=name, scopes=scopes, actor=_actor(),
                                vendor_credit=vendor_credit,
                                rate_per_s=None if no_rate_limit else rate_limit,
                                burst=None if no_rate_limit else burst)
    except VendingError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"created API client {new.name} (id {new.id}, scopes {','.join(new.scopes)})")
    click.echo(f"API key (shown once, it cannot be recovered): {new.api_key}")


@click.command("api-client-credit")
@click.argument("name")
@click.argument("amount")
def api_client_credit_command(name: str, amount: str) -> None:
    """Add AMOUNT to a client's vendor credit (a vendor deposit)."""
    try:
        balance = add_vendor_credit(_ctx(), name, amount, actor=_actor())
    except VendingError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"{name}: vendor credit {balance:f} {current_app.config['STSVEND_CURRENCY']}")


def _enabled_command(command_name: str, enabled: bool) -> click.Command:
    @click.command(command_name)
    @click.argument("name")
    def command(name: str) -> None:
        try:
            set_client_enabled(_ctx(), name, enabled, actor=_actor())
        except VendingError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        click.echo(f"API client {name} {'enabled' if enabled else 'disabled'}")

    command.help = ("Allow the client's key again." if enabled
                    else "Refuse every request of the client (403) until enabled again.")
    return command


def register(app: Flask) -> None:
    """Add the commands to ``app.cli`` (each runs inside an app context)."""
    from flask.cli import with_appcontext

    for command in (create_api_client_command, api_client_credit_command,
                    _enabled_command("disable-api-client", False),
                    _enabled_command("enable-api-client", True)):
        if command.callback is not None:
            command.callback = with_appcontext(command.callback)
        app.cli.add_command(command)
