"""Translated, clerk-facing wording of the services' error codes. The services speak
English to logs and the API; the POS shows these instead, in the user's language, and falls
back to the service's own message for a code not listed here."""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

from ..errors import VendingError

_MESSAGES = {
    "invalid_amount": lazy_gettext("Enter an amount such as 50 or 50.00."),
    "amount_out_of_limits": lazy_gettext("The amount is outside the allowed limits."),
    "amount_too_small": lazy_gettext("The amount buys less than 0.1 kWh."),
    "amount_too_large": lazy_gettext("The amount is more than one token can carry."),
    "meter_blocked": lazy_gettext("This meter is blocked: no sales are allowed."),
    "unknown_meter": lazy_gettext("No meter has this number."),
    "invalid_meter_number": lazy_gettext("This is not a valid meter number."),
    "check_digit": lazy_gettext("The meter number's check digit is wrong: check the digits."),
    "shift_closed": lazy_gettext("Open a shift before selling."),
    "shift_open": lazy_gettext("You already have an open shift."),
    "not_reversible": lazy_gettext("This vend cannot be reversed."),
    "reason_required": lazy_gettext("A reversal needs a reason."),
    "bad_credentials": lazy_gettext("Wrong username or password."),
    "locked_out": lazy_gettext("This account is locked after repeated failures. Try later."),
    "not_authorised": lazy_gettext("This user may not approve this action."),
    "no_tariff": lazy_gettext("No tariff is in force for this meter."),
    "weak_password": lazy_gettext("The password needs at least 8 characters."),
    "user_exists": lazy_gettext("A user with this name already exists."),
    "invalid_username": lazy_gettext("Usernames use letters, digits and _ . @ - only."),
    "key_exists": lazy_gettext("This supply group already has a key with this KRN."),
    "invalid_key": lazy_gettext("The vending key is not valid (hexadecimal of the right length)."),
    "import_rejected": lazy_gettext("Some rows were rejected; nothing was imported."),
    "invalid_name": lazy_gettext("The name needs 1 to 200 characters."),
    "invalid_customer": lazy_gettext("Check the address, phone and e-mail."),
    "unknown_customer": lazy_gettext("No customer has this account."),
    "invalid_header": lazy_gettext("The CSV header is not the expected one."),
}


def describe(exc: VendingError) -> str:
    message = _MESSAGES.get(exc.code)
    return str(message) if message is not None else gettext("Refused: %(reason)s",
                                                            reason=exc.message)
