"""``import-meters``: every row validated, rejected rows reported with line numbers and
reasons, nothing half-imported."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from vending_fixtures import ADMIN, CSV_HEADER, SGC, TestWorld, drn

import tokens
from vending.errors import InvalidInputError
from vending.models import Customer, Meter
from vending.services import MeterImportError, ServiceContext, import_meters


def _count(ctx: ServiceContext) -> int:
    return ctx.session.scalar(select(func.count()).select_from(Meter))


def test_a_valid_file_is_imported(ctx: ServiceContext, world: TestWorld) -> None:
    before = _count(ctx)
    text = (CSV_HEADER.rstrip("\n") + ",phone,email\n"
            f'{drn(10)},Jane Doe,"1 Main Rd, Town",ACC-10,{SGC},1,2,2,07,04,2014,RES,'
            "+27820000000,jane@example.org\n"
            f"{drn(11)},Jane Doe,1 Main Rd,ACC-10,{SGC},3,2,2,07,04,2014,,,\n")
    report = import_meters(ctx, io.StringIO(text), actor=ADMIN)
    assert report.ok and report.imported == 2 and _count(ctx) == before + 2
    meter = ctx.session.scalars(select(Meter).where(Meter.meter_number == drn(10))).one()
    assert meter.pan == tokens.pan_from_drn(drn(10)) and meter.tariff_code == "RES"
    assert meter.customer.address == "1 Main Rd, Town" and meter.customer.phone
    other = ctx.session.scalars(select(Meter).where(Meter.meter_number == drn(11))).one()
    assert other.customer_id == meter.customer_id and other.tariff_code is None
    assert ctx.session.scalar(select(func.count()).select_from(Customer).where(
        Customer.account == "ACC-10")) == 1


def test_bad_rows_are_reported_and_nothing_is_imported(ctx: ServiceContext,
                                                       world: TestWorld) -> None:
    before = _count(ctx)
    good = f"{drn(20)},Good,Addr,ACC-20,{SGC},1,2,2,07,04,2014,\n"
    text = CSV_HEADER + good + "".join([
        f"{drn(21)[:-1]}0,Bad Luhn,A,ACC-21,{SGC},1,2,2,07,04,2014,\n",
        f"{drn(22)},Wrong key data,A,ACC-22,{SGC},1,2,2,07,02,2014,\n",
        f"{drn(23)},No such key,A,ACC-23,{SGC},1,9,2,07,04,2014,\n",
        f"{drn(24)},Unknown SGC,A,ACC-24,111111,1,2,2,07,04,2014,\n",
        f"{drn(25)},Bad TI,A,ACC-25,{SGC},100,2,2,07,04,2014,\n",
        f"{drn(26)},Tariff,A,ACC-26,{SGC},1,2,2,07,04,2014,NOPE\n",
        f"{drn(20)},Duplicate,A,ACC-27,{SGC},1,2,2,07,04,2014,\n",
        f"{world.meters['current']},Existing,A,ACC-28,{SGC},1,2,2,07,04,2014,\n",
        f"{drn(29)},,A,ACC-29,{SGC},1,2,2,07,04,2014,\n",
        f"{drn(30)},Common key,A,ACC-30,{SGC},1,2,3,07,04,2014,\n",
        f"{drn(31)},Somebody Else,A,ACC-A,{SGC},1,2,2,07,04,2014,\n",
    ])
    with pytest.raises(MeterImportError) as err:
        import_meters(ctx, io.StringIO(text), actor=ADMIN)
    rejected = {r.line: r.reason for r in err.value.report.rejected}
    assert sorted(rejected) == list(range(3, 14))
    assert "check digit" in rejected[3]
    assert "does not match" in rejected[4]
    assert "KRN 9" in rejected[5]
    assert "111111" in rejected[6]
    assert "ti must be" in rejected[7]
    assert "NOPE" in rejected[8]
    assert "repeated (first on line 2)" in rejected[9]
    assert "already registered" in rejected[10]
    assert "customer_name is empty" in rejected[11]
    assert "kt must be 2" in rejected[12]
    assert "account ACC-A belongs to 'Customer A'" in rejected[13]
    assert _count(ctx) == before  # the good row was not imported either


def test_wrong_header_is_refused(ctx: ServiceContext, world: TestWorld) -> None:
    with pytest.raises(InvalidInputError, match="header"):
        import_meters(ctx, io.StringIO("meter,name\n1,2\n"), actor=ADMIN)
