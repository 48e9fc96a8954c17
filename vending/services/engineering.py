"""Engineering tokens: clear credit, clear tamper, set power limit, set phase unbalance limit,
an explicit key change, and Class 1 test tokens. Each is issued and recorded like a vend
(receipt, idempotency on (client, request_id), audit entry); the Class 2 ones take TIDs from
the same per-meter sequence as credit and get a due key change prepended like a vend does."""

from __future__ import annotations

import enum
import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError

import tokens

from ..errors import BusinessRuleError, InvalidInputError
from ..models import TokenType, VendKind
from ..security_module import MeterKeyRef, SecurityModule
from .answers import VendAnswer
from .context import Actor, ServiceContext
from .issuing import (
    Issue,
    TokenSpec,
    issue_tokens,
    replayed,
    request_hash,
    validate_request_id,
)
from .keystate import KeyPlan, lock_meter_state, plan_key, validate_meter_number


class EngineeringKind(enum.StrEnum):
    CLEAR_CREDIT = "clear_credit"
    CLEAR_TAMPER = "clear_tamper"
    SET_POWER_LIMIT = "set_power_limit"
    SET_PHASE_UNBALANCE = "set_phase_unbalance"
    KEY_CHANGE = "key_change"
    METER_TEST = "meter_test"


def _management(token_type: TokenType, make: Any) -> TokenSpec:
    def build(security: SecurityModule, key: MeterKeyRef | None, tid: int | None) -> str:
        assert tid is not None and key is not None
        return security.management_token(key, make(tid, secrets.randbelow(16)))

    return TokenSpec(type=token_type, build=build)


def _int_param(params: dict[str, Any], name: str, low: int, high: int, default: Any = None) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or value is None:
        raise InvalidInputError("invalid_parameter", f"{name} is required")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError("invalid_parameter", f"{name} must be an integer") from None
    if not low <= number <= high:
        raise InvalidInputError("invalid_parameter", f"{name} must be {low}..{high}")
    return number


def _specs(kind: EngineeringKind, params: dict[str, Any], meter_number: str) -> list[TokenSpec]:
    """The tokens of one engineering request (a key change has none: only its KCT set)."""
    try:
        if kind is EngineeringKind.CLEAR_CREDIT:
            register = params.get("register", tokens.Register.ALL)
            register = _int_param({"register": register}, "register", 0, 0xFFFF)
            if register not in (*range(8), 0xFFFF):
                raise InvalidInputError("invalid_parameter", "register must be 0..7 or 65535")
            return [_management(TokenType.CLEAR_CREDIT, lambda tid, rnd: tokens.ClearCredit(
                tid=tid, rnd=rnd, register=register))]
        if kind is EngineeringKind.CLEAR_TAMPER:
            return [_management(TokenType.CLEAR_TAMPER, lambda tid, rnd:
                                tokens.ClearTamperCondition(tid=tid, rnd=rnd))]
        if kind in (EngineeringKind.SET_POWER_LIMIT, EngineeringKind.SET_PHASE_UNBALANCE):
            watts = tokens.round_up_units(_int_param(params, "watts", 0, 18_201_624))
            if kind is EngineeringKind.SET_POWER_LIMIT:
                return [_management(TokenType.SET_POWER_LIMIT, lambda tid, rnd:
                                    tokens.SetMaximumPowerLimit(tid=tid, rnd=rnd, watts=watts))]
            return [_management(TokenType.SET_PHASE_UNBALANCE, lambda tid, rnd:
                                tokens.SetMaximumPhasePowerUnbalanceLimit(
                                    tid=tid, rnd=rnd, watts=watts))]
        if kind is EngineeringKind.METER_TEST:
            # The manufacturer code is the DRN's prefix: 2 digits (11-digit DRN) or 4 (13).
            variant = 0 if len(meter_number) == 11 else 1
            mfr = int(meter_number[:2] if variant == 0 else meter_number[:4])
            full = (1 << (36 if variant == 0 else 28)) - 1
            control = _int_param(params, "control", 1, full, default=full)
            test = tokens.MeterTest(control=control, mfr_code=mfr, variant=variant)
            return [TokenSpec(type=TokenType.METER_TEST, needs_tid=False,
                              build=lambda security, _key, _tid: security.test_token(test))]
    except tokens.StsError as exc:
        raise InvalidInputError("invalid_parameter", str(exc)) from None
    return []


def engineering_token(
    ctx: ServiceContext,
    *,
    meter_number: str,
    kind: EngineeringKind | str,
    request_id: str,
    actor: Actor,
    params: dict[str, Any] | None = None,
) -> VendAnswer:
    """Issue one engineering token (or an explicit key-change set) for a meter.

    ``params``: ``register`` (clear_credit; default all), ``watts`` (limits), ``control``
    (meter_test; default "test all"), ``to_krn``/``to_ti`` (key_change; default the supply
    group's current KRN and the meter's TI). Blocked meters may receive engineering tokens.
    """
    number = validate_meter_number(meter_number)
    try:
        kind = EngineeringKind(kind)
    except ValueError:
        raise InvalidInputError("invalid_kind", f"unknown engineering token {kind!r}") from None
    params = dict(params or {})
    rid = validate_request_id(request_id)
    body_hash = request_hash({"op": "engineering", "meter_number": number, "kind": kind.value,
                              "params": params})
    specs = _specs(kind, params, number)
    session = ctx.session
    try:
        connection = session.connection()
        meter = lock_meter_state(connection, number)
        # Under the lock: a duplicate for this meter that committed while we waited is seen.
        if (replay := replayed(session, actor, rid, body_hash)) is not None:
            return replay
        at = ctx.now()
        plan: KeyPlan | None
        if kind is EngineeringKind.METER_TEST:
            plan = None  # Class 1: no key, no TID, no key change
        elif kind is EngineeringKind.KEY_CHANGE:
            to_krn = _int_param(params, "to_krn", 1, 15,
                                default=meter.current_krn or meter.krn)
            to_ti = _int_param(params, "to_ti", 0, 99, default=meter.ti)
            plan = plan_key(connection, meter, at, to_krn=to_krn, to_ti=to_ti)
            if not plan.due:
                raise BusinessRuleError("same_key", "the meter is already on that key")
        else:
            plan = plan_key(connection, meter, at)
        answer = issue_tokens(
            connection, ctx.security, meter, plan, specs,
            Issue(kind=VendKind.KEY_CHANGE if kind is EngineeringKind.KEY_CHANGE
                  else VendKind.ENGINEERING, actor=actor, request_id=rid,
                  request_hash=body_hash, details={"engineering": kind.value, "params": params}),
            at,
        )
        session.commit()
        return answer
    except IntegrityError:
        session.rollback()
        if (replay := replayed(session, actor, rid, body_hash)) is None:
            raise
        return replay
    finally:
        session.rollback()
