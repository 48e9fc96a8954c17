"""The security module: the only place where vending keys and decoder keys exist in clear.

Everything else handles *references*: a :class:`VendingKeyRef` (supply group key data plus the
vending key **sealed** under a master key) and a :class:`MeterKeyRef` (a meter's key data on
such a key). The :class:`SecurityModule` protocol is the seam for a hardware security module:
an HSM keeps its own keys and, like most payment HSMs, accepts keys sealed under its local
master key from the host database. :class:`SoftwareSecurityModule` is the default.

Sealing is AES-256-GCM with a random 96-bit nonce. The associated data binds the ciphertext
to the key's identity (SGC, KRN, DKGA, base date, EA), so a sealed key copied to another
row does not open. Master keys come from ``STSVEND_MASTER_KEYS`` (``kid:base64,kid:base64``;
the first seals, all unseal), which makes rotation a re-seal (``flask rotate-master-key``).

Key material never appears in ``repr``, log records, exception messages or return values:
the module returns 20-digit tokens and key check values only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import tokens
from tokens import BaseDate, Dkga, EncryptionAlgorithm, KeyType

_AAD_PREFIX = b"stsvend:vending-key:v1"


class SecurityModuleError(Exception):
    """A key operation failed. Messages name the key's identity, never its material."""


class MasterKeyError(SecurityModuleError):
    """``STSVEND_MASTER_KEYS`` is malformed, or a sealed key names an unknown master key."""


@dataclass(frozen=True, slots=True)
class SealedKey:
    """A vending key encrypted under master key ``kid``. Safe to store; useless without it."""

    kid: str
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class VendingKeyRef:
    """A supply group's vending key by identity, with its sealed material."""

    sgc: str
    krn: int
    dkga: Dkga
    base_date: BaseDate
    ea: EncryptionAlgorithm
    sealed: SealedKey = field(repr=False)

    def aad(self) -> bytes:
        return vending_key_aad(self.sgc, self.krn, self.dkga, self.base_date, self.ea)


@dataclass(frozen=True, slots=True)
class MeterKeyRef:
    """One meter's decoder key, by the data it is derived from (no key material)."""

    vending_key: VendingKeyRef
    pan: str
    kt: KeyType
    ti: int

    @property
    def krn(self) -> int:
        return self.vending_key.krn

    @property
    def base_date(self) -> BaseDate:
        return self.vending_key.base_date


def vending_key_aad(
    sgc: str, krn: int, dkga: Dkga, base_date: BaseDate, ea: EncryptionAlgorithm
) -> bytes:
    return b"|".join(
        (_AAD_PREFIX, sgc.encode(), str(krn).encode(), dkga.value.encode(),
         str(int(base_date)).encode(), ea.value.encode())
    )


class MasterKeyring:
    """The master keys, current first. ``repr`` shows key ids only."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise MasterKeyError("no master key configured (STSVEND_MASTER_KEYS)")
        seen: set[str] = set()
        for kid, key in keys:
            if not kid or kid in seen:
                raise MasterKeyError(f"master key ids must be unique and non-empty: {kid!r}")
            if len(key) != 32:
                raise MasterKeyError(f"master key {kid!r} must be 32 bytes (AES-256)")
            seen.add(kid)
        self._keys = dict(keys)
        self.current_kid = keys[0][0]

    @classmethod
    def parse(cls, text: str | None) -> MasterKeyring:
        """Parse ``kid:base64key,kid2:base64key`` (whitespace ignored)."""
        entries: list[tuple[str, bytes]] = []
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise MasterKeyError("STSVEND_MASTER_KEYS entries are 'kid:base64key'")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise MasterKeyError(f"master key {kid.strip()!r} is not valid base64") from None
            entries.append((kid.strip(), key))
        return cls(entries)

    @staticmethod
    def generate_entry(kid: str) -> str:
        """A new ``kid:base64key`` entry (for ``make run`` and rotation)."""
        return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def seal(self, plaintext: bytes, aad: bytes) -> SealedKey:
        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._keys[self.current_kid]).encrypt(nonce, plaintext, aad)
        return SealedKey(kid=self.current_kid, nonce=nonce, ciphertext=ct)

    def unseal(self, sealed: SealedKey, aad: bytes) -> bytes:
        key = self._keys.get(sealed.kid)
        if key is None:
            raise MasterKeyError(f"master key {sealed.kid!r} is not configured")
        try:
            return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, aad)
        except InvalidTag:
            raise SecurityModuleError(
                "sealed vending key does not open (wrong master key or tampered row)"
            ) from None

    def __repr__(self) -> str:
        return f"<MasterKeyring kids={self.kids} current={self.current_kid!r}>"


@runtime_checkable
class SecurityModule(Protocol):
    """What the vending services may ask of a security module."""

    def seal_vending_key(
        self, *, sgc: str, krn: int, dkga: Dkga, base_date: BaseDate,
        ea: EncryptionAlgorithm, key: bytes,
    ) -> SealedKey:
        """Validate a new vending key and return it sealed for storage."""
        ...

    def reseal(self, ref: VendingKeyRef) -> SealedKey:
        """The same key sealed under the current master key (master key rotation)."""
        ...

    def key_check_value(self, ref: VendingKeyRef) -> str:
        """A short non-secret fingerprint that lets operators confirm which key is loaded."""
        ...

    def credit_token(self, meter: MeterKeyRef, *, tid: int, units: int) -> str:
        """A Class 0 electricity credit token of ``units`` 0.1 kWh (exactly codable)."""
        ...

    def management_token(self, meter: MeterKeyRef, token: tokens.Token) -> str:
        """A Class 2 management token (not a key change) under the meter's decoder key."""
        ...

    def key_change_tokens(
        self, current: MeterKeyRef, new: MeterKeyRef, *, ken: int = 255, ro: bool = False
    ) -> list[str]:
        """The key-change set that moves a meter from ``current`` to ``new``."""
        ...

    def test_token(self, token: tokens.MeterTest) -> str:
        """A Class 1 test/display token (no key)."""
        ...


class SoftwareSecurityModule:
    """The default security module: vending keys unsealed in process memory, only for one
    call (the token library keeps the cipher set-up of recently used *decoder* keys, bounded,
    never a vending key)."""

    def __init__(self, keyring: MasterKeyring) -> None:
        self._keyring = keyring

    def __repr__(self) -> str:
        return f"<SoftwareSecurityModule {self._keyring!r}>"

    @property
    def current_kid(self) -> str:
        return self._keyring.current_kid

    def seal_vending_key(
        self, *, sgc: str, krn: int, dkga: Dkga, base_date: BaseDate,
        ea: EncryptionAlgorithm, key: bytes,
    ) -> SealedKey:
        try:
            # Constructing a derivation validates the key length against DKGA and EA.
            tokens.KeyDerivation(dkga=dkga, vending_key=key, pan="600727000000000009",
                                 kt=KeyType.DUTK, sgc=sgc, ti=1, krn=krn, base_date=base_date,
                                 ea=ea)
        except tokens.StsError as exc:
            raise SecurityModuleError(f"vending key refused: {exc}") from None
        return self._keyring.seal(key, vending_key_aad(sgc, krn, dkga, base_date, ea))

    def reseal(self, ref: VendingKeyRef) -> SealedKey:
        return self._keyring.seal(self._keyring.unseal(ref.sealed, ref.aad()), ref.aad())

    def key_check_value(self, ref: VendingKeyRef) -> str:
        key = self._keyring.unseal(ref.sealed, ref.aad())
        return hmac.new(key, b"stsvend key check value", hashlib.sha256).hexdigest()[:6]

    def _decoder_key(self, meter: MeterKeyRef) -> tokens.DecoderKey:
        vk = meter.vending_key
        try:
            return tokens.KeyDerivation(
                dkga=vk.dkga, vending_key=self._keyring.unseal(vk.sealed, vk.aad()),
                pan=meter.pan, kt=meter.kt, sgc=vk.sgc, ti=meter.ti, krn=vk.krn,
                base_date=vk.base_date, ea=vk.ea,
            ).derive()
        except tokens.StsError as exc:
            raise SecurityModuleError(
                f"cannot derive the decoder key of PAN {meter.pan} (SGC {vk.sgc} KRN {vk.krn}): "
                f"{exc}"
            ) from None

    def credit_token(self, meter: MeterKeyRef, *, tid: int, units: int) -> str:
        credit = tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=tid, units=units,
                                       rnd=secrets.randbelow(16))
        return tokens.encode(credit, self._decoder_key(meter))

    def management_token(self, meter: MeterKeyRef, token: tokens.Token) -> str:
        if token.token_class is not tokens.TokenClass.MANAGEMENT or token.tid is None:
            raise SecurityModuleError("management_token takes Class 2 tokens that carry a TID")
        return tokens.encode(token, self._decoder_key(meter))

    def key_change_tokens(
        self, current: MeterKeyRef, new: MeterKeyRef, *, ken: int = 255, ro: bool = False
    ) -> list[str]:
        new_key = self._decoder_key(new)
        sgc_transfer = new.vending_key.sgc if new_key.ea is EncryptionAlgorithm.EA11 else None
        data = tokens.NewKeyData(key=new_key, kt=new.kt, krn=new.krn, ti=new.ti, ken=ken,
                                 sgc=sgc_transfer, ro=ro)
        return tokens.key_change_tokens(self._decoder_key(current), data)

    def test_token(self, token: tokens.MeterTest) -> str:
        return tokens.encode(token, None)


def security_module_from_config(config: Mapping[str, Any]) -> SecurityModule:
    """Build the configured module: ``software`` or an importable ``module:factory(config)``."""
    name = config.get("STSVEND_SECURITY_MODULE", "software")
    if name == "software":
        return SoftwareSecurityModule(MasterKeyring.parse(config.get("STSVEND_MASTER_KEYS")))
    module_name, _, attr = str(name).partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    module = factory(config)
    if not isinstance(module, SecurityModule):
        raise SecurityModuleError(f"{name} did not build a SecurityModule")
    return module
