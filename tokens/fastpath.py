"""The fast path of ``python -m tokens encode`` for the common record shape (bulk encoding).

``json.loads`` and the member-by-member checks of the general path cost about as much as the
STA encryption itself. Most bulk input has one fixed shape, the one ``json.dumps`` writes::

    {"id": 7, "key": {"decoder_key": "...", "ea": "07"}, "class": 0, "subclass": 0,
     "payload": "0123456789a"}

with either a ready key or a derivation (``dkga``, ``vending_key``, ``pan``, ``kt``, ``sgc``,
``ti``, ``krn``, ``base_date``, ``ea`` in that order) as ``key``. :class:`FastEncoder` matches
such a line with a regular expression (one for json.dumps's own layout, tried first, and one
that allows any JSON whitespace) which only accepts text whose JSON meaning is plain
(integers without leading zeros, fractions or exponents, strings of hex or decimal digits,
an ``id`` string without escapes or control characters), so the captured text *is* the
value. Key set-ups are cached by the key object's exact text (bounded, like the general
path's cache). Everything else is left to the general path: a line that does not have
exactly this shape, and any line that fails (bad key, wrong check digit, reserved class, ...)
returns ``None`` and is processed again by the general path, which writes the error. The
answer of a line that succeeds here is the same text the general path writes;
``tests/tokens/test_tokens_fastpath.py`` checks both on generated and mutated records.

Validation is not duplicated: the key goes through the library's own :func:`derive_key_bytes` /
:meth:`DecoderKey.from_hex` and the token through :func:`encode_raw`, with typed values.
"""

from __future__ import annotations

import re

from .codec import encode_raw
from .errors import StsError
from .keys import (
    BlockCipher,
    DecoderKey,
    Dkga,
    EncryptionAlgorithm,
    KeyType,
    derive_key_bytes,
    make_cipher,
)
from .sta import StaTables
from .tid import BaseDate

_CACHE_LIMIT = 256  # key set-ups kept, as in the general path's KeyResolver

# JSON whitespace (not Python's \s, which is wider); possessive: nothing to backtrack into
_WS = "[ \t\n\r]*+"


def _object(members: list[tuple[str, str]], strict: bool) -> str:
    """``{"name": value, ...}``: strict as json.dumps writes it (``", "`` and ``": "``), else
    with JSON whitespace around every token."""
    if strict:
        return r"\{" + ", ".join(f'"{name}": {value}' for name, value in members) + r"\}"
    body = f"{_WS},".join(f'{_WS}"{name}"{_WS}:{_WS}{value}' for name, value in members)
    return rf"\{{{body}{_WS}\}}"


_HEX = r'"([0-9a-fA-F]*)"'
_EA = r'"(07|09|11)"'
# id: an integer that is its own canonical text (str(int(text)) == text), or a string that
# JSON encodes back verbatim (no escapes, no control characters)
_ID = r'(0|-?[1-9][0-9]{0,17}|"[^"\\\x00-\x1f]*")'
_READY_KEY = [("decoder_key", _HEX), ("ea", _EA)]
_DERIVATION = [
    ("dkga", '"(02|04)"'),
    ("vending_key", _HEX),
    ("pan", '"([0-9]{18})"'),
    ("kt", "([0-3])"),
    ("sgc", '"([0-9]{6})"'),
    ("ti", "(0|[1-9][0-9]?)"),
    ("krn", "([1-9]|1[0-5])"),
    ("base_date", "(1993|2014|2035)"),
    ("ea", _EA),
]


def _records() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A whole line, the record with a ready key or a derivation as ``key`` (the key object's
    text is group 2; the groups of the other key form are None): as json.dumps writes it
    (tried first: cheaper to match) and with any JSON whitespace. The first matches a subset
    of the second's lines, with the same groups."""
    patterns = []
    for strict in (True, False):
        key = f"({_object(_READY_KEY, strict)}|{_object(_DERIVATION, strict)})"
        record = _object(
            [
                ("id", _ID),
                ("key", key),
                ("class", "([0-3])"),
                ("subclass", "([0-9]|1[0-5])"),
                ("payload", r'"([0-9a-fA-F]{11})"'),
            ],
            strict,
        )
        patterns.append(re.compile(record + "\n?" if strict else _WS + record + _WS))
    return patterns[0], patterns[1]


_RECORD, _RECORD_WS = _records()
_DKGA = {d.value: d for d in Dkga}
_EAS = {ea.value: ea for ea in EncryptionAlgorithm}
_KEY_TYPES = {str(int(kt)): kt for kt in KeyType}
_BASE_DATES = {str(int(bd)): bd for bd in BaseDate}
_SMALL_INTS = {str(n): n for n in range(100)}


class FastEncoder:
    """``encode`` for lines of the common shape; ``None`` means "use the general path"."""

    __slots__ = ("_ciphers", "tables")

    def __init__(self, tables: StaTables) -> None:
        self.tables = tables
        self._ciphers: dict[str, BlockCipher] = {}

    def __call__(self, line: str) -> str | None:
        match = _RECORD.fullmatch(line) or _RECORD_WS.fullmatch(line)
        if match is None:
            return None
        (record_id, key_text, hex_key, ready_ea, dkga, vending_key, pan, kt, sgc, ti, krn,
         base_date, ea, token_class, subclass, payload) = match.groups()
        try:
            cipher = self._ciphers.get(key_text)
            if cipher is None:
                if hex_key is not None:  # a ready key
                    decoder_key = DecoderKey.from_hex(hex_key, _EAS[ready_ea])
                    cipher = self._cache(key_text, decoder_key.key, decoder_key.ea)
                else:  # a derivation
                    ea_ = _EAS[ea]
                    key = derive_key_bytes(
                        _DKGA[dkga], bytes.fromhex(vending_key), pan, _KEY_TYPES[kt], sgc,
                        _SMALL_INTS[ti], _SMALL_INTS[krn], _BASE_DATES[base_date], ea_,
                    )
                    cipher = self._cache(key_text, key, ea_)
            token = encode_raw(
                _SMALL_INTS[token_class], _SMALL_INTS[subclass], int(payload, 16), cipher
            )
        except (StsError, ValueError):
            return None  # the general path writes the error
        return f'{{"id": {record_id}, "token": "{token}"}}'

    def _cache(self, key_text: str, key: bytes, ea: EncryptionAlgorithm) -> BlockCipher:
        cipher = make_cipher(key, ea, self.tables)
        if len(self._ciphers) >= _CACHE_LIMIT:
            self._ciphers.clear()
        self._ciphers[key_text] = cipher
        return cipher
