"""EA09: DES of the data block under the decoder key. **Legacy**: withdrawn in IEC 62055-41
Ed 3 (2018); keep it for old meters only. DES is also the primitive of DKGA-02.

Single DES comes from ``cryptography``'s decrepit TripleDES with the key repeated three times
(K‖K‖K computes exactly single DES without the 8-byte-key deprecation warning, SPEC §5.6).
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from .errors import DecoderKeyError, RangeError

MASK64 = (1 << 64) - 1


def des_encrypt(key: bytes, block: bytes) -> bytes:
    """Single-DES ECB encryption of one 8-byte block."""
    if len(key) != 8 or len(block) != 8:
        raise DecoderKeyError("DES needs an 8-byte key and an 8-byte block")
    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


class LegacyDes:
    """EA09 block cipher on 64-bit integers (legacy, see module docstring)."""

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != 8:
            raise DecoderKeyError("EA09 (DES) needs an 8-byte decoder key")
        self._cipher = Cipher(TripleDES(bytes(key) * 3), modes.ECB())

    def __repr__(self) -> str:
        return "LegacyDes(<key redacted>)"

    def encrypt_block(self, block: int) -> int:
        if not 0 <= block <= MASK64:
            raise RangeError("DES block must be a 64-bit unsigned integer")
        enc = self._cipher.encryptor()
        return int.from_bytes(enc.update(block.to_bytes(8, "big")) + enc.finalize(), "big")

    def decrypt_block(self, block: int) -> int:
        if not 0 <= block <= MASK64:
            raise RangeError("DES block must be a 64-bit unsigned integer")
        dec = self._cipher.decryptor()
        return int.from_bytes(dec.update(block.to_bytes(8, "big")) + dec.finalize(), "big")
