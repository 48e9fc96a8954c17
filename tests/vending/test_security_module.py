"""The software security module: sealing, binding, rotation, and tokens that decode under
keys derived independently by the test."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from vending_fixtures import VK_02, VK_04, drn

import tokens
from tokens import BaseDate, Dkga, EncryptionAlgorithm, KeyType
from vending.security_module import (
    MasterKeyError,
    MasterKeyring,
    MeterKeyRef,
    SecurityModule,
    SecurityModuleError,
    SoftwareSecurityModule,
    VendingKeyRef,
    security_module_from_config,
)

SGC = "123457"


def _module(*kids: str) -> SoftwareSecurityModule:
    return SoftwareSecurityModule(MasterKeyring.parse(",".join(
        MasterKeyring.generate_entry(k) for k in kids)))


def _ref(module: SoftwareSecurityModule, key: bytes, *, krn: int = 1, dkga: str = "04",
         base_date: int = 2014, ea: str = "07") -> VendingKeyRef:
    d, bd, e = Dkga(dkga), BaseDate(base_date), EncryptionAlgorithm(ea)
    sealed = module.seal_vending_key(sgc=SGC, krn=krn, dkga=d, base_date=bd, ea=e, key=key)
    return VendingKeyRef(sgc=SGC, krn=krn, dkga=d, base_date=bd, ea=e, sealed=sealed)


def _meter(ref: VendingKeyRef, serial: int = 1, ti: int = 1) -> MeterKeyRef:
    return MeterKeyRef(vending_key=ref, pan=tokens.pan_from_drn(drn(serial)), kt=KeyType.DUTK,
                       ti=ti)


def _oracle(key: bytes, meter: MeterKeyRef) -> tokens.DecoderKey:
    vk = meter.vending_key
    return tokens.KeyDerivation(dkga=vk.dkga, vending_key=key, pan=meter.pan, kt=meter.kt,
                                sgc=vk.sgc, ti=meter.ti, krn=vk.krn, base_date=vk.base_date,
                                ea=vk.ea).derive()


def test_it_satisfies_the_protocol() -> None:
    assert isinstance(_module("a"), SecurityModule)
    module = security_module_from_config({"STSVEND_SECURITY_MODULE": "software",
                                          "STSVEND_MASTER_KEYS": MasterKeyring.generate_entry("k")})
    assert isinstance(module, SoftwareSecurityModule)


def test_sealed_keys_are_bound_to_their_identity() -> None:
    module = _module("k1")
    ref = _ref(module, VK_04)
    assert VK_04 not in ref.sealed.ciphertext and ref.sealed.kid == "k1"
    assert len(module.key_check_value(ref)) == 6
    moved = dataclasses.replace(ref, krn=2)  # the same ciphertext claimed for another KRN
    with pytest.raises(SecurityModuleError, match="does not open"):
        module.key_check_value(moved)
    tampered = dataclasses.replace(ref, sealed=dataclasses.replace(
        ref.sealed, ciphertext=bytes([ref.sealed.ciphertext[0] ^ 1]) + ref.sealed.ciphertext[1:]))
    with pytest.raises(SecurityModuleError):
        module.key_check_value(tampered)


def test_tokens_decode_under_independently_derived_keys() -> None:
    module = _module("k1")
    for key, dkga, bd, ea in ((VK_04, "04", 2014, "07"), (VK_02, "02", 1993, "07"),
                              (VK_04, "04", 2014, "11"), (VK_02, "02", 1993, "09")):
        meter = _meter(_ref(module, key, dkga=dkga, base_date=bd, ea=ea))
        digits = module.credit_token(meter, tid=1234, units=321)
        decoded = tokens.decode(digits, _oracle(key, meter))
        assert (decoded.tid, decoded.units) == (1234, 321)
        limit = module.management_token(meter, tokens.SetMaximumPowerLimit(tid=1235, rnd=3,
                                                                           watts=4000))
        assert tokens.decode(limit, _oracle(key, meter)).watts == 4000
    test = module.test_token(tokens.MeterTest(control=1, mfr_code=7))
    assert isinstance(tokens.decode(test, None), tokens.MeterTest)


def test_key_change_sets_for_64_and_128_bit_keys() -> None:
    module = _module("k1")
    old = _meter(_ref(module, VK_02, dkga="02", base_date=1993))
    new64 = _meter(_ref(module, VK_04, krn=2))
    kcts = module.key_change_tokens(old, new64, ro=True)
    assert len(kcts) == 2
    assembled = tokens.assemble_key([tokens.decode(t, _oracle(VK_02, old)) for t in kcts], 64)
    assert assembled.key == _oracle(VK_04, new64).key and assembled.ro and assembled.krn == 2
    new128 = _meter(_ref(module, VK_04, krn=3, ea="11"))
    kcts = module.key_change_tokens(new64, new128)
    assert len(kcts) == 4
    assembled = tokens.assemble_key([tokens.decode(t, _oracle(VK_04, new64)) for t in kcts], 128)
    assert assembled.key == _oracle(VK_04, new128).key and assembled.sgc == SGC


def test_refuses_bad_keys_and_class_mixups() -> None:
    module = _module("k1")
    with pytest.raises(SecurityModuleError, match="64-bit"):
        _ref(module, VK_04, dkga="02", base_date=1993)
    with pytest.raises(SecurityModuleError):
        _ref(module, VK_02, ea="11", dkga="02", base_date=1993)
    meter = _meter(_ref(module, VK_04))
    with pytest.raises(SecurityModuleError, match="Class 2"):
        module.management_token(meter, tokens.MeterTest(control=1, mfr_code=7))


def test_master_key_rotation() -> None:
    old = MasterKeyring.generate_entry("old")
    new = MasterKeyring.generate_entry("new")
    before = SoftwareSecurityModule(MasterKeyring.parse(old))
    ref = _ref(before, VK_04)
    rotating = SoftwareSecurityModule(MasterKeyring.parse(f"{new},{old}"))
    assert rotating.key_check_value(ref) == before.key_check_value(ref)  # old still opens
    resealed = dataclasses.replace(ref, sealed=rotating.reseal(ref))
    assert resealed.sealed.kid == "new"
    after = SoftwareSecurityModule(MasterKeyring.parse(new))
    assert after.key_check_value(resealed) == before.key_check_value(ref)
    with pytest.raises(MasterKeyError, match="'old' is not configured"):
        after.key_check_value(ref)


@pytest.mark.parametrize("value", ["", "nokid", "k:not-base64!", "k:" + base64.b64encode(
    b"short").decode(), "a:" + base64.b64encode(bytes(32)).decode() + ",a:"
    + base64.b64encode(bytes(32)).decode()])
def test_malformed_master_keys_are_refused(value: str) -> None:
    with pytest.raises(MasterKeyError):
        MasterKeyring.parse(value)


def test_reprs_show_no_material() -> None:
    entry = MasterKeyring.generate_entry("k1")
    module = SoftwareSecurityModule(MasterKeyring.parse(entry))
    ref = _ref(module, VK_04)
    text = repr(module) + repr(ref) + repr(_meter(ref)) + repr(ref.sealed)
    assert entry.split(":")[1] not in text and VK_04.hex() not in text
    assert ref.sealed.ciphertext.hex() not in text
