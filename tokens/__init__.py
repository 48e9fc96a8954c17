"""stsvend token library: STS (IEC 62055-41) tokens as pure logic.

No I/O, no clock, no Flask: bytes and ints in, typed values out. See ``SPEC.md`` decisions:
production STA tables by default, DES/HMAC key byte order, Decimal quantities, UTC TIDs.
"""

from .amount import (
    decode_currency_amount,
    decode_transfer_amount,
    encode_currency_amount,
    encode_transfer_amount,
    quantity_from_units,
    round_currency,
    round_up_units,
    units_from_quantity,
)
from .codec import RawToken, decode_raw, encode_raw, format_token, parse_token
from .errors import (
    CheckDigitError,
    CrcError,
    DecoderKeyError,
    FunctionError,
    IdentifierError,
    RangeError,
    StsError,
    TidRolloverError,
    TokenFormatError,
)
from .identifiers import luhn_check_digit, pan_from_drn, validate_drn, validate_pan
from .keychange import AssembledKey, NewKeyData, assemble_key, key_change_tokens
from .keys import (
    DecoderKey,
    Dkga,
    EncryptionAlgorithm,
    KeyDerivation,
    KeyType,
    derive_decoder_key,
)
from .sta import load_tables
from .tid import BaseDate, datetime_from_tid, tid_from_datetime
from .token_types import (
    ClearCredit,
    ClearTamperCondition,
    CreditKind,
    CurrencyCredit,
    CurrencyKind,
    ExtendedManagement,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    MeterTest,
    Register,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TokenClass,
    TransferCredit,
    decode,
    encode,
    from_raw,
)

__all__ = [
    "AssembledKey", "BaseDate", "CheckDigitError", "ClearCredit", "ClearTamperCondition",
    "CrcError", "CreditKind", "CurrencyCredit", "CurrencyKind", "DecoderKey", "DecoderKeyError",
    "Dkga", "EncryptionAlgorithm", "ExtendedManagement", "FunctionError", "IdentifierError",
    "KeyChange1", "KeyChange2", "KeyChange3", "KeyChange4", "KeyDerivation", "KeyType",
    "MeterTest", "NewKeyData", "RangeError", "RawToken", "Register",
    "SetMaximumPhasePowerUnbalanceLimit", "SetMaximumPowerLimit", "SetTariffRate",
    "SetWaterMeterFactor", "StsError", "TidRolloverError", "Token", "TokenClass",
    "TokenFormatError", "TransferCredit", "assemble_key", "datetime_from_tid", "decode",
    "decode_currency_amount", "decode_raw", "decode_transfer_amount", "derive_decoder_key",
    "encode", "encode_currency_amount", "encode_raw", "encode_transfer_amount", "format_token",
    "from_raw", "key_change_tokens", "load_tables", "luhn_check_digit", "pan_from_drn",
    "parse_token", "quantity_from_units", "round_currency", "round_up_units", "tid_from_datetime",
    "units_from_quantity", "validate_drn", "validate_pan",
]
