"""Tariff documents of the worked examples, and small builders shared by the tariff tests.

Block structures and prices come from the sources of /work/shared/DOMAIN.md §5; where a source
gives only the structure (Tshwane), the prices are illustrative and say so.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def variant(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with top-level fields replaced (``None`` removes one)."""
    result = copy.deepcopy(document)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


# The example document of issue 6, with the time zone made explicit.
ISSUE_EXAMPLE: dict[str, Any] = {
    "code": "RES-BLOCK", "currency": "CNY", "effective_from": "2026-01-01",
    "timezone": "Asia/Shanghai",
    "tax": {"name": "VAT", "rate": "0.13", "inclusive": True},
    "energy": {"blocks": {"period": "month", "steps": [
        {"up_to_kwh": "240", "price": "0.4883"}, {"up_to_kwh": "400", "price": "0.5383"},
        {"up_to_kwh": None, "price": "0.7883"}]}},
    "fixed_charges": [{"name": "Service fee", "amount": "5.00", "period": "month"}],
    "free_basic_kwh": {"kwh": "50", "period": "month", "eligible": "indigent"},
    "debt_recovery": {"percent": "0.25"},
    "vend_limits": {"min": "10.00", "max": "5000.00"},
}

# Eskom Homelight-like monthly inclining block: about R1.76 up to 350 kWh, R1.99 above (2022
# prices quoted by money-care.co.za; taken here as the prices, no separate VAT line).
ESKOM: dict[str, Any] = {
    "code": "ESKOM-HOMELIGHT-20A", "currency": "ZAR", "effective_from": "2022-04-01",
    "timezone": "Africa/Johannesburg",
    "energy": {"blocks": {"period": "month", "steps": [
        {"up_to_kwh": "350", "price": "1.76"}, {"up_to_kwh": None, "price": "1.99"}]}},
}

# Tshwane's four residential blocks (1-100, 101-400, 401-650, >650 kWh; alancarr.co.za). The
# prices are illustrative, net of VAT; VAT 15 % is included in the vend amount.
TSHWANE: dict[str, Any] = {
    "code": "TSHWANE-RES", "currency": "ZAR", "effective_from": "2025-07-01",
    "timezone": "Africa/Johannesburg",
    "tax": {"name": "VAT", "rate": "0.15", "inclusive": True},
    "energy": {"blocks": {"period": "month", "steps": [
        {"up_to_kwh": "100", "price": "2.1437"}, {"up_to_kwh": "400", "price": "2.6924"},
        {"up_to_kwh": "650", "price": "3.1134"}, {"up_to_kwh": None, "price": "3.4103"}]}},
    "fixed_charges": [{"name": "Network charge", "amount": "180.00", "period": "month"}],
    "free_basic_kwh": {"kwh": "50", "period": "month", "eligible": "indigent"},
}

# Beijing tiers (≤240 kWh 0.4883, 241-400 +0.05, >400 +0.30 yuan/kWh) on a residential TOU:
# the peak period carries the standard 0.4883, the valley (23:00-07:00) an illustrative 0.30.
BEIJING_TOU: dict[str, Any] = {
    "code": "BJ-RES-TOU", "currency": "CNY", "effective_from": "2026-01-01",
    "timezone": "Asia/Shanghai",
    "energy": {
        "blocks": {"period": "month", "steps": [
            {"up_to_kwh": "240", "adder": "0"}, {"up_to_kwh": "400", "adder": "0.05"},
            {"up_to_kwh": None, "adder": "0.30"}]},
        "time_of_use": {
            "periods": [{"name": "peak", "price": "0.4883"}, {"name": "valley", "price": "0.30"}],
            "calendar": {"seasons": [{"name": "all year", "months": list(range(1, 13)), "days": {
                "all": [{"from": "07:00", "to": "23:00", "period": "peak"},
                        {"from": "23:00", "to": "07:00", "period": "valley"}]}}]},
        },
    },
}

# Zhejiang annual ladder, one household one meter below 1 kV (≤2760 kWh/year 0.538,
# 2761-4800 0.588, ≥4801 0.838 yuan/kWh).
ZHEJIANG: dict[str, Any] = {
    "code": "ZJ-RES-LADDER", "currency": "CNY", "effective_from": "2026-01-01",
    "timezone": "Asia/Shanghai",
    "energy": {"blocks": {"period": "year", "steps": [
        {"up_to_kwh": "2760", "price": "0.538"}, {"up_to_kwh": "4800", "price": "0.588"},
        {"up_to_kwh": None, "price": "0.838"}]}},
}

# The same ladder with Zhejiang's TOU option: peak 0.568 / valley 0.288 in tier 1, and the tier
# adders 0 / 0.05 / 0.30. Peak 08:00-22:00, valley 22:00-08:00.
ZHEJIANG_TOU: dict[str, Any] = {
    "code": "ZJ-RES-LADDER-TOU", "currency": "CNY", "effective_from": "2026-01-01",
    "timezone": "Asia/Shanghai",
    "energy": {
        "blocks": {"period": "year", "steps": [
            {"up_to_kwh": "2760", "adder": "0"}, {"up_to_kwh": "4800", "adder": "0.05"},
            {"up_to_kwh": None, "adder": "0.30"}]},
        "time_of_use": {
            "periods": [{"name": "peak", "price": "0.568"}, {"name": "valley", "price": "0.288"}],
            "calendar": {"seasons": [{"name": "all year", "months": list(range(1, 13)), "days": {
                "all": [{"from": "08:00", "to": "22:00", "period": "peak"},
                        {"from": "22:00", "to": "08:00", "period": "valley"}]}}]},
        },
    },
}

# A South-African-style seasonal TOU (Homeflex-like structure, illustrative prices): high
# demand season June-August; weekday peaks morning and evening; Saturday standard by day;
# Sunday and public holidays off-peak all day.
SEASONAL_TOU: dict[str, Any] = {
    "code": "HOMEFLEX-LIKE", "currency": "ZAR", "effective_from": "2026-01-01",
    "timezone": "Africa/Johannesburg",
    "energy": {"time_of_use": {
        "periods": [{"name": "peak", "price": "6.00"}, {"name": "standard", "price": "2.00"},
                    {"name": "off_peak", "price": "1.00"},
                    {"name": "winter_peak", "price": "9.00"}],
        "calendar": {
            "holidays": ["2026-03-21", "2026-06-16"],
            "seasons": [
                {"name": "low", "months": [1, 2, 3, 4, 5, 9, 10, 11, 12], "days": {
                    "weekday": [{"from": "00:00", "to": "07:00", "period": "off_peak"},
                                {"from": "07:00", "to": "10:00", "period": "peak"},
                                {"from": "10:00", "to": "18:00", "period": "standard"},
                                {"from": "18:00", "to": "20:00", "period": "peak"},
                                {"from": "20:00", "to": "24:00", "period": "off_peak"}],
                    "saturday": [{"from": "07:00", "to": "12:00", "period": "standard"},
                                 {"from": "12:00", "to": "07:00", "period": "off_peak"}],
                    "sunday": [{"from": "00:00", "to": "24:00", "period": "off_peak"}]}},
                {"name": "high", "months": [6, 7, 8], "days": {
                    "weekday": [{"from": "06:00", "to": "09:00", "period": "winter_peak"},
                                {"from": "09:00", "to": "17:00", "period": "standard"},
                                {"from": "17:00", "to": "19:00", "period": "winter_peak"},
                                {"from": "19:00", "to": "06:00", "period": "off_peak"}],
                    "weekend": [{"from": "00:00", "to": "24:00", "period": "off_peak"}]}},
            ],
        },
    }},
}
