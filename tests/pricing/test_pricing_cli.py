"""The tariff commands through Flask's CLI runner, on the test transaction: load-tariff
refusing an invalid document with every problem listed, debts, categories and FBE."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricing_world import PricingWorld, block_tariff
from sqlalchemy import func, select

from vending.database import db
from vending.models import Debt, Tariff


def _tariff_count(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Tariff))


def test_load_tariff_lists_every_problem_and_loads_nothing(app: Any, runner: Any,
                                                          tmp_path: Path) -> None:
    document = block_tariff("2026-13-01")  # an impossible date
    document["energy"]["blocks"]["steps"][1]["up_to_kwh"] = "40"  # below the previous bound
    document["fixed_charge"] = [{"name": "typo", "amount": "5.00", "period": "month"}]
    del document["currency"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    before = _tariff_count(app)
    result = runner.invoke(args=["load-tariff", str(path)])
    assert result.exit_code == 1
    assert "4 problem(s)" in result.output
    problems = [line for line in result.output.splitlines() if line.startswith("$")]
    assert len(problems) == 4, result.output
    for path_text in ("$.effective_from", "$.energy.blocks.steps[1].up_to_kwh",
                      "$.fixed_charge", "$.currency"):
        assert any(line.startswith(path_text) for line in problems), (path_text, problems)
    assert _tariff_count(app) == before


def test_load_tariff_loads_a_valid_version(app: Any, runner: Any, tmp_path: Path) -> None:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(block_tariff("2026-05-01", code="CLI-BLOCK")))
    result = runner.invoke(args=["load-tariff", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded tariff CLI-BLOCK effective 2026-05-01" in result.output
    again = runner.invoke(args=["load-tariff", str(path)])
    assert again.exit_code == 1 and "tariff_exists" in again.output


def test_debt_category_and_fbe_commands(app: Any, runner: Any, world: PricingWorld) -> None:
    result = runner.invoke(args=["add-debt", world.account("debt"), "12.50",
                                 "--description", "meter tamper fine"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["balance"] == "12.50"
    with app.app_context():
        assert db.session.scalar(select(Debt.balance)) == Decimal("12.50")
    unknown = runner.invoke(args=["add-debt", "ACC-NONE", "1", "--description", "x"])
    assert unknown.exit_code == 1 and "unknown_customer" in unknown.output

    refused = runner.invoke(args=["fbe", world.meters["fbe_no"]])
    assert refused.exit_code == 1 and "fbe_not_due" in refused.output
    result = runner.invoke(args=["set-customer-category", world.account("fbe_no"), "indigent"])
    assert result.exit_code == 0 and "category indigent" in result.output
    issued = runner.invoke(args=["fbe", world.meters["fbe_no"], "--request-id", "cli-fbe"])
    assert issued.exit_code == 0, issued.output
    answer = json.loads(issued.output)
    assert [t["type"] for t in answer["tokens"]] == ["fbe"]
    assert answer["tokens"][0]["units"] == "50.0"
    assert world.decode_units("fbe_no", answer["tokens"][0]["token"]) == 50


def test_a_tariff_in_another_currency_is_refused(app: Any, runner: Any, tmp_path: Path) -> None:
    document = block_tariff(code="CNY-BLOCK")
    document["currency"] = "CNY"
    path = tmp_path / "cny.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(args=["load-tariff", str(path)])
    assert result.exit_code == 1
    assert "$.currency: CNY is not the deployment's currency ZAR" in result.output
