"""``flask --app wsgi COMMAND``: the operator's commands (CONTRACT §3).

Commands are thin: parse options, call one service, print the result. Errors print one line
to stderr and exit 1. Secrets come in on stdin (``--password-stdin``, the vending key of
``add-vending-key``) and are never echoed.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import services
from .database import db
from .errors import VendingError
from .services import Actor, ServiceContext

# An AppGroup runs each command inside an app context; the commands are registered top-level.
commands = AppGroup("stsvend", help="stsvend vending server commands")


def _ctx() -> ServiceContext:
    return ServiceContext.from_app(current_app, db.session)


def _actor() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "operator"
    return Actor("cli", name)


def _fail(exc: VendingError) -> click.ClickException:
    return click.ClickException(f"{exc.code}: {exc.message}")


def _read_secret(prompt: str) -> str:
    stream = sys.stdin
    if stream.isatty():
        return click.prompt(prompt, hide_input=True)
    return stream.read()


@commands.command("create-user")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "supervisor", "clerk"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def create_user_command(name: str, role: str, password_stdin: bool) -> None:
    """Create an operator account (POS and back office)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(_ctx(), username=name, role=role, password=password,
                                    actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(f"created user {user.username} ({user.role.value})")


@commands.command("add-vending-key")
@click.option("--sgc", required=True)
@click.option("--krn", type=click.IntRange(1, 15), required=True)
@click.option("--dkga", type=click.Choice(["02", "04"]), required=True)
@click.option("--base-date", type=click.Choice(["1993", "2014", "2035"]), required=True)
@click.option("--ea", type=click.Choice(["07", "09", "11"]), required=True)
@click.option("--make-current", is_flag=True,
              help="Make this KRN the supply group's current key (meters behind it get a "
                   "key change at their next vend). The first key of a group is current.")
def add_vending_key_command(sgc: str, krn: int, dkga: str, base_date: str, ea: str,
                            make_current: bool) -> None:
    """Load a supply group's vending key; the key (hex) is read from stdin, never echoed."""
    from .services.keys import parse_key_hex

    try:
        key = parse_key_hex(_read_secret("Vending key (hex)"))
        info = services.add_vending_key(_ctx(), sgc=sgc, krn=krn, dkga=dkga,
                                        base_date=int(base_date), ea=ea, key=key,
                                        actor=_actor(), make_current=make_current)
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(f"loaded SGC {info.sgc} KRN {info.krn} (DKGA-{info.dkga}, EA{info.ea}, base "
               f"date {info.base_date}) sealed under master key {info.kid}; key check value "
               f"{info.kcv}; {'current' if info.current else 'not current'}")


@commands.command("set-current-krn")
@click.option("--sgc", required=True)
@click.option("--krn", type=click.IntRange(1, 15), required=True)
def set_current_krn_command(sgc: str, krn: int) -> None:
    """Make a loaded key the supply group's current key."""
    try:
        services.set_current_krn(_ctx(), sgc=sgc, krn=krn, actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(f"SGC {sgc}: current KRN is {krn}")


@commands.command("import-meters")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
def import_meters_command(csv_file: Any) -> None:
    """Register meters from a CSV file: every row validated, nothing half-imported."""
    try:
        report = services.import_meters(_ctx(), csv_file, actor=_actor())
    except services.MeterImportError as exc:
        for row in exc.report.rejected:
            click.echo(f"line {row.line}: {row.meter_number or '-'}: {row.reason}", err=True)
        raise click.ClickException(exc.message) from None
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(f"imported {report.imported} meter(s)")


@commands.command("load-tariff")
@click.argument("json_file", type=click.File("r", encoding="utf-8"))
def load_tariff_command(json_file: Any) -> None:
    """Load a tariff document (a new version of a code is a new effective_from)."""
    try:
        document = json.load(json_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"invalid JSON: {exc}") from None
    try:
        tariff = services.load_tariff(_ctx(), document, actor=_actor())
    except VendingError as exc:
        problems = getattr(exc, "problems", None)
        if problems:  # every problem on its own line, each with its JSON path
            for problem in problems:
                click.echo(problem, err=True)
            raise click.ClickException(
                f"{exc.code}: {len(problems)} problem(s); nothing was loaded") from None
        raise _fail(exc) from None
    click.echo(f"loaded tariff {tariff.code} effective {tariff.effective_from.isoformat()}")


@commands.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo supply group, keys, tariff, meters and users (empty database only)."""
    from .seed import seed_demo

    try:
        result = seed_demo(_ctx())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(result.describe())


@commands.command("vend")
@click.argument("meter_number")
@click.argument("amount")
@click.option("--request-id", default=None, help="Idempotency key (default: a new UUID).")
@click.option("--trial", is_flag=True, help="Quote only; issue nothing.")
def vend_command(meter_number: str, amount: str, request_id: str | None, trial: bool) -> None:
    """Sell AMOUNT of electricity to METER_NUMBER and print the vend answer (JSON)."""
    try:
        if trial:
            answer = services.trial_vend(_ctx(), meter_number=meter_number, amount=amount)
        else:
            answer = services.vend(_ctx(), meter_number=meter_number, amount=amount,
                                   request_id=request_id or str(uuid.uuid4()), actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(answer.as_json(), indent=2))


@commands.command("engineering-token")
@click.argument("meter_number")
@click.argument("kind", type=click.Choice([k.value for k in services.EngineeringKind]))
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="register, watts, control, to_krn, to_ti (repeatable).")
@click.option("--request-id", default=None)
def engineering_token_command(meter_number: str, kind: str, params: tuple[str, ...],
                              request_id: str | None) -> None:
    """Issue an engineering token (or an explicit key change) and print it (JSON)."""
    values: dict[str, Any] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        values[name.strip()] = value.strip()
    try:
        answer = services.engineering_token(_ctx(), meter_number=meter_number, kind=kind,
                                            params=values, actor=_actor(),
                                            request_id=request_id or str(uuid.uuid4()))
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(answer.as_json(), indent=2))


@commands.command("rekey")
@click.option("--sgc", required=True)
@click.option("--to-krn", type=click.IntRange(1, 15), required=True)
@click.option("--to-base-date", type=click.Choice(["1993", "2014", "2035"]), required=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="JSON Lines file of key-change sets (appended; resumable).")
def rekey_command(sgc: str, to_krn: int, to_base_date: str, out_path: Path) -> None:
    """Move every meter of SGC to a new key and write their key-change sets to --out.

    Resumable: meters already in the file are skipped; a meter moved by an interrupted run is
    written from its record, never issued a second set."""
    ctx = _ctx()
    done = _meters_in(out_path)
    try:
        numbers = services.start_campaign(ctx, sgc=sgc, to_krn=to_krn,
                                          to_base_date=int(to_base_date), actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    todo = [n for n in numbers if n not in done]
    if out_path.exists() and out_path.stat().st_size:
        with out_path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            torn = handle.read(1) != b"\n"
        if torn:  # an interrupted write: end that line so the next record stands alone
            with out_path.open("a", encoding="utf-8") as out:
                out.write("\n")
    counts: dict[str, int] = {}
    with out_path.open("a", encoding="utf-8") as out, click.progressbar(
        todo, label=f"re-keying SGC {sgc}", file=sys.stderr, show_pos=True
    ) as bar:
        for number in bar:
            result = services.rekey_meter(ctx, number, sgc=sgc, to_krn=to_krn,
                                          to_base_date=int(to_base_date))
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
            if result.answer is None:
                if result.error:
                    click.echo(f"\n{number}: {result.error}", err=True)
                continue
            line = {"meter_number": number, "outcome": result.outcome.value,
                    "receipt_no": str(result.answer.receipt_no),
                    "tokens": [t.token for t in result.answer.tokens],
                    "to": {"krn": to_krn, "base_date": int(to_base_date)}}
            out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to do"
    click.echo(f"SGC {sgc} -> KRN {to_krn}/{to_base_date}: {summary}; "
               f"{len(done)} already in {out_path}")
    if counts.get("failed"):
        raise click.ClickException(f"{counts['failed']} meter(s) failed; fix and run again")


def _meters_in(path: Path) -> set[str]:
    """Meter numbers already written by an earlier run (a torn last line is ignored)."""
    done: set[str] = set()
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                done.add(json.loads(line)["meter_number"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


@commands.command("rotate-master-key")
def rotate_master_key_command() -> None:
    """Re-seal every vending key under the first (current) key of STSVEND_MASTER_KEYS."""
    try:
        count = services.rotate_master_key(_ctx(), actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    kid = getattr(current_app.extensions["stsvend.security_module"], "current_kid", "?")
    click.echo(f"re-sealed {count} vending key(s) under master key {kid}")


@commands.command("add-debt")
@click.argument("account")
@click.argument("amount")
@click.option("--description", required=True, help="What the debt is for (receipts, audit).")
def add_debt_command(account: str, amount: str, description: str) -> None:
    """Open a debt on a customer, recovered by the tariff's debt_recovery share of each vend."""
    from .services.debts import add_debt

    try:
        info = add_debt(_ctx(), account=account, amount=amount, description=description,
                        actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(info.as_json(), indent=2))


@commands.command("set-customer-category")
@click.argument("account")
@click.argument("category")
def set_customer_category_command(account: str, category: str) -> None:
    """Set a customer's tariff category ("" clears it); FBE goes to the eligible category."""
    from .services.fbe import set_customer_category

    try:
        customer = set_customer_category(_ctx(), account=account, category=category,
                                         actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(f"customer {customer.account}: category {customer.category or '(none)'}")


@commands.command("fbe")
@click.argument("meter_number")
@click.option("--request-id", default=None, help="Idempotency key (default: a new UUID).")
def fbe_command(meter_number: str, request_id: str | None) -> None:
    """Issue the free basic electricity due to METER_NUMBER without a purchase (JSON)."""
    from .services.fbe import fbe_request

    try:
        answer = fbe_request(_ctx(), meter_number=meter_number,
                             request_id=request_id or str(uuid.uuid4()), actor=_actor())
    except VendingError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(answer.as_json(), indent=2))


def register_commands(app: Flask) -> None:
    for command in commands.commands.values():
        app.cli.add_command(command)
