"""``python -m tokens``: streaming JSON Lines batch commands and single-token commands.

Batch commands (CONTRACT §1) read one JSON record per line on stdin and write one JSON line per
input line, in order, on stdout: ``encode``, ``decode``, ``derive-key``. They stream (constant
memory, output flushed in blocks) and keep a bounded cache of key set-ups so bulk runs under
one key pay the key schedule once. Exit status: 0 all lines succeeded, 1 some line failed (it is
reported on its own line), 2 usage error.

Single-token commands for an engineer at a terminal: ``describe`` (decode and explain one
token), ``credit`` (make one electricity credit token), ``format`` (group the digits).
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from . import amount as amounts
from .codec import decode_raw, encode_raw, format_token, is_tid_bearing, pack_fields
from .errors import DecoderKeyError, StsError, TokenFormatError
from .fastpath import FastEncoder
from .keys import BlockCipher, DecoderKey, derive_key, make_cipher
from .sta import StaTables, load_tables
from .tid import datetime_from_tid, tid_from_datetime
from .token_types import CreditKind, TransferCredit, encode, from_raw

EXIT_OK, EXIT_LINE_FAILED, EXIT_USAGE = 0, 1, 2
_CACHE_LIMIT = 256  # key set-ups kept; small enough to stay in CPU caches
_FLUSH_EVERY = 512


class InputError(StsError):
    """A batch line is not a usable record (bad JSON, missing or mistyped member)."""

    code = "input_error"


_DERIVATION_MEMBERS = frozenset(
    ("dkga", "vending_key", "pan", "kt", "sgc", "ti", "krn", "base_date", "ea")
)


class KeyResolver:
    """Turns the ``key`` member of a record into a block cipher, with a bounded cache.

    The cache key is the record's own key text, so nothing is derived twice for a run of
    lines under one meter, and memory stays flat however long the input is.
    """

    def __init__(self, tables: StaTables) -> None:
        self.tables = tables
        self._ciphers: dict[object, tuple[DecoderKey, BlockCipher]] = {}

    def resolve(self, key: object) -> tuple[DecoderKey, BlockCipher]:
        if not isinstance(key, dict):
            raise DecoderKeyError("'key' must be an object: a derivation or a ready decoder key")
        try:
            # the member types are part of the key: 1, 1.0 and true are equal (and hash
            # alike) in Python but not alike to the key checks
            cache_key = (tuple(key.items()), tuple(map(type, key.values())))
            hit = self._ciphers.get(cache_key)
        except TypeError:  # unhashable member values: resolve without caching
            cache_key, hit = (), None
        if hit is not None:
            return hit
        decoder_key = self._decoder_key(key)
        result = (decoder_key, make_cipher(decoder_key.key, decoder_key.ea, self.tables))
        if cache_key:
            if len(self._ciphers) >= _CACHE_LIMIT:
                self._ciphers.clear()
            self._ciphers[cache_key] = result
        return result

    @staticmethod
    def _decoder_key(key: dict[str, Any]) -> DecoderKey:
        if "decoder_key" in key:
            hex_key = key["decoder_key"]
            if not isinstance(hex_key, str):
                raise DecoderKeyError("'decoder_key' must be a hex string")
            return DecoderKey.from_hex(hex_key, key.get("ea", "07"))
        missing = _DERIVATION_MEMBERS - key.keys()
        if missing:
            raise DecoderKeyError(f"key derivation is missing {', '.join(sorted(missing))}")
        vending_key = key["vending_key"]
        if not isinstance(vending_key, str):
            raise DecoderKeyError("'vending_key' must be a hex string")
        try:
            vk = bytes.fromhex(vending_key)
        except ValueError:
            raise DecoderKeyError("'vending_key' is not hexadecimal") from None
        ti, krn, sgc = key["ti"], key["krn"], key["sgc"]
        return derive_key(
            key["dkga"], vk, key["pan"], key["kt"], sgc,
            int(ti) if _is_number_text(ti) else ti, int(krn) if _is_number_text(krn) else krn,
            key["base_date"], key["ea"],
        )


def _is_number_text(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _member_int(record: dict[str, Any], name: str, low: int, high: int) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InputError(f"'{name}' must be an integer {low}..{high}")
    return value


def _payload(record: dict[str, Any], token_class: int, subclass: int) -> int:
    payload = record.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or len(payload) != 11:
            raise InputError("'payload' must be 11 hex digits (the 44 payload bits)")
        try:
            return int(payload, 16)
        except ValueError:
            raise InputError("'payload' must be 11 hex digits (the 44 payload bits)") from None
    fields = {k: v for k, v in record.items() if k not in ("id", "key", "class", "subclass")}
    if "rnd" not in fields and is_tid_bearing(token_class, subclass) and "se" not in fields:
        fields["rnd"] = secrets.randbelow(16)
    return pack_fields(token_class, subclass, fields)


def encode_line(record: dict[str, Any], keys: KeyResolver) -> str:
    token_class = _member_int(record, "class", 0, 3)
    subclass = _member_int(record, "subclass", 0, 15)
    payload = _payload(record, token_class, subclass)
    no_key = token_class == 1 and "key" not in record  # class 1 is not encrypted
    cipher = None if no_key else keys.resolve(record.get("key"))[1]
    token = encode_raw(token_class, subclass, payload, cipher)
    # The answer line is built directly (the hot path of bulk encoding): only the id needs
    # JSON encoding, and an int id (the common case) needs none.
    record_id = record.get("id")
    id_json = str(record_id) if type(record_id) is int else _dumps(record_id)
    return f'{{"id": {id_json}, "token": "{token}"}}'


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def decode_line(record: dict[str, Any], keys: KeyResolver) -> dict[str, Any]:
    token = record.get("token")
    if not isinstance(token, str):
        raise TokenFormatError("'token' must be a string of 20 digits")
    cipher = keys.resolve(record["key"])[1] if "key" in record else None
    raw = decode_raw(token, cipher)
    out: dict[str, Any] = {
        "id": record.get("id"),
        "class": raw.token_class,
        "subclass": raw.subclass,
        "payload": f"{raw.payload:011x}",
    }
    tid = raw.tid
    if tid is not None:
        out["tid"] = tid
    out["fields"] = raw.fields
    return out


def derive_line(record: dict[str, Any], keys: KeyResolver) -> dict[str, Any]:
    key = record.get("key")
    if not isinstance(key, dict) or "decoder_key" in key:
        raise DecoderKeyError("'key' must be a derivation (dkga, vending_key, pan, ...)")
    decoder_key, _ = keys.resolve(key)
    return {"id": record.get("id"), "decoder_key": decoder_key.hex()}


# A handler answers with a JSON object, or with its JSON text when it builds that faster.
LineHandler = Callable[[dict[str, Any], KeyResolver], dict[str, Any] | str]
BATCH_COMMANDS: dict[str, LineHandler] = {
    "encode": encode_line,
    "decode": decode_line,
    "derive-key": derive_line,
}


def run_batch(
    handler: LineHandler, lines: Iterable[str], out: IO[str], tables: StaTables,
    *, fast_path: bool = True,
) -> int:
    """Process JSON Lines; one output line per non-blank input line. Returns the exit status.

    ``encode`` takes the fast path (:mod:`tokens.fastpath`) for lines of the common shape;
    ``fast_path=False`` sends every line through the general path (the tests compare both).
    """
    keys = KeyResolver(tables)
    # The hot loop creates no reference cycles; generational GC passes over the cached key
    # schedules would only cost time, so collection is paused for the batch.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        fast = FastEncoder(tables) if fast_path and handler is encode_line else None
        return _run_batch(handler, lines, out, keys, fast)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_batch(
    handler: LineHandler, lines: Iterable[str], out: IO[str], keys: KeyResolver,
    fast: FastEncoder | None,
) -> int:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    loads = json.loads
    # encode: lines of the common shape take the fast path; it answers None for every other
    # line (and for every line that fails), which the general path below then processes
    failed = False
    buffer: list[str] = []
    for line in lines:
        if fast is not None:
            answer = fast(line)
            if answer is not None:
                buffer.append(answer)
                if len(buffer) >= _FLUSH_EVERY:
                    out.write("\n".join(buffer) + "\n")
                    buffer.clear()
                continue
        if not line.strip():
            continue
        record_id = None
        try:
            record = loads(line)
            if not isinstance(record, dict):
                raise InputError("each line must be a JSON object")
            record_id = record.get("id")
            result = handler(record, keys)
        except json.JSONDecodeError as exc:
            failed = True
            result = _error(None, InputError(f"line is not valid JSON ({exc.msg})"))
        except StsError as exc:
            failed = True
            result = _error(record_id, exc)
        except (TypeError, ValueError, KeyError) as exc:  # a member of an unexpected type
            failed = True
            result = _error(record_id, InputError(f"malformed record ({type(exc).__name__})"))
        buffer.append(result if isinstance(result, str) else dumps(result))
        if len(buffer) >= _FLUSH_EVERY:
            out.write("\n".join(buffer) + "\n")
            buffer.clear()
    if buffer:
        out.write("\n".join(buffer) + "\n")
    out.flush()
    return EXIT_LINE_FAILED if failed else EXIT_OK


def _error(record_id: object, exc: StsError) -> dict[str, Any]:
    return {"id": record_id, "error": {"code": exc.code, "message": str(exc)}}


def _tables_arg(value: str) -> StaTables:
    try:
        return load_tables(value)
    except StsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _decimal_arg(value: str) -> Decimal:
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{value!r} is not a decimal number") from None
    if not result.is_finite() or result < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a non-negative number")
    return result


def _datetime_arg(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone (e.g. 2026-11-28T10:00Z): TIDs are UTC")
    return when


def _ready_key(args: argparse.Namespace) -> DecoderKey:
    return DecoderKey.from_hex(args.decoder_key, args.ea)


def cmd_describe(args: argparse.Namespace) -> int:
    key = _ready_key(args) if args.decoder_key else None
    raw = decode_raw(args.token, key.cipher(args.tables) if key else None)
    token = from_raw(raw)
    print(f"token      {format_token(args.token)}")
    print(f"class      {raw.token_class}  subclass {raw.subclass}  ({type(token).__name__})")
    if raw.tid is not None:
        issued = datetime_from_tid(raw.tid, args.base_date).isoformat()
        print(f"tid        {raw.tid}  (issued {issued}, base date {args.base_date})")
    for name, value in raw.fields.items():
        print(f"{name:<10} {value}")
    if isinstance(token, TransferCredit):
        print(f"value      {amounts.quantity_from_units(token.units)} ({token.kind.name.lower()})")
    return EXIT_OK


def cmd_credit(args: argparse.Namespace) -> int:
    key = _ready_key(args)
    when = args.at or datetime.now(UTC)
    units = amounts.round_up_units(amounts.units_from_quantity(args.kwh))
    token = TransferCredit(
        kind=CreditKind.ELECTRICITY,
        tid=tid_from_datetime(when, args.base_date),
        units=units,
        rnd=secrets.randbelow(16),
    )
    print(format_token(encode(token, key, args.tables)))
    print(f"{amounts.quantity_from_units(units)} kWh, TID {token.tid}", file=sys.stderr)
    return EXIT_OK


def cmd_format(args: argparse.Namespace) -> int:
    print(format_token(args.token))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tokens",
        description="STS (IEC 62055-41) tokens: encode, decode and derive keys.",
        epilog="Batch commands read JSON Lines on stdin (the interchange record of CONTRACT §1) "
        "and write one JSON line per input line. Exit 0: all lines succeeded; 1: a line failed "
        "(its error is on its own line); 2: usage error.",
    )
    parser.add_argument(
        "--tables",
        type=_tables_arg,
        default=None,
        metavar="SET",
        help="STA (EA07) table set: 'production' (default, needed for real meters), 'sample' "
        "(the standard's illustration tables) or the path of a JSON table file",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (
        ("encode", "records without 'token' -> {id, token}; fields as 'payload' (11 hex digits) "
         "or named (rnd, tid, amount, ...); a missing rnd is drawn at random"),
        ("decode", "{id, key, token} -> {id, class, subclass, payload, tid, fields}"),
        ("derive-key", "{id, key: derivation} -> {id, decoder_key}"),
    ):
        batch = sub.add_parser(name, help=text, description=text)
        batch.add_argument("--tables", type=_tables_arg, default=argparse.SUPPRESS,
                           metavar="SET", help="as above; accepted after the command too")
    key_help = "ready decoder key, hex (DES/HMAC byte order)"
    describe = sub.add_parser("describe", help="decode one token and explain its fields")
    describe.add_argument("token", help="20 digits; spaces and dashes between groups are fine")
    describe.add_argument("--decoder-key", help=key_help + "; not needed for class 1 tokens")
    describe.add_argument("--ea", default="07", choices=["07", "09", "11"],
                          help="encryption algorithm of the key (default 07, STA)")
    describe.add_argument("--base-date", type=int, default=1993, choices=[1993, 2014, 2035],
                          help="base date of the key, to show when the TID was issued")
    credit = sub.add_parser("credit", help="make one electricity credit token")
    credit.add_argument("--decoder-key", required=True, help=key_help)
    credit.add_argument("--ea", default="07", choices=["07", "09", "11"],
                        help="encryption algorithm of the key (default 07)")
    credit.add_argument("--kwh", type=_decimal_arg, required=True,
                        help="energy to credit; rounded down to 0.1 kWh, then up to the "
                        "16-bit coding's grid")
    credit.add_argument("--at", type=_datetime_arg, default=None,
                        help="issue time with zone (default: now); gives the TID")
    credit.add_argument("--base-date", type=int, default=1993, choices=[1993, 2014, 2035],
                        help="base date of the key (default 1993)")
    fmt = sub.add_parser("format", help="print a token in groups of four digits")
    fmt.add_argument("token", help="20 digits")
    return parser


def main(argv: list[str] | None = None, stdin: Iterator[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    if args.tables is None:
        args.tables = load_tables()
    if args.command in BATCH_COMMANDS:
        source = stdin if stdin is not None else sys.stdin
        return run_batch(BATCH_COMMANDS[args.command], source, sys.stdout, args.tables)
    handlers = {"describe": cmd_describe, "credit": cmd_credit, "format": cmd_format}
    try:
        return handlers[args.command](args)
    except StsError as exc:
        print(f"error ({exc.code}): {exc}", file=sys.stderr)
        return EXIT_LINE_FAILED


__all__ = ["main", "run_batch"]
