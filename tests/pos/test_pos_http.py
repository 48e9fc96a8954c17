"""The POS through Flask's test client, on SQLite and PostgreSQL: CSRF on every POST, roles,
lockout, idle and absolute session timeouts, cookie flags, shifts and the cash-up, double
submits, keys never shown, assets only from the app, and the translation catalogs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from pos_client import Pos, signed_in
from pos_fixtures import PASSWORDS, REPO, FixedClock, PosWorld, make_config
from sqlalchemy import select

from vending import create_app
from vending.database import db
from vending.models import AuditEntry, Vend
from vending.services import ServiceContext
from vending.services.shifts import cash_up

POS_DIR = REPO / "vending" / "pos"
TRANSLATIONS = REPO / "vending" / "translations"


def _request_id(html: str) -> str:
    match = re.search(r'name="request_id" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _trial(pos: Pos, meter: str, amount: str, payment: str = "cash") -> str:
    return pos.text(f"/sell/{meter}/trial?amount={amount}&payment_type={payment}")


def _vend(pos: Pos, meter: str, amount: str, payment: str = "cash") -> int:
    rid = _request_id(_trial(pos, meter, amount, payment))
    response = pos.post(f"/sell/{meter}/vend", {"amount": amount, "payment_type": payment,
                                                "request_id": rid})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/vends/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


# ----------------------------------------------------------------- CSRF and sessions


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(app: Flask,
                                                                world: PosWorld) -> None:
    admin = signed_in(app, "admin")
    rules = [r for r in app.url_map.iter_rules()
             if "POST" in (r.methods or ()) and r.endpoint.split(".")[0] in ("pos", "pos_admin")]
    assert len(rules) >= 15
    for rule in rules:
        path = rule.rule.replace("<int:vend_id>", "1").replace("<int:user_id>", "1").replace(
            "<meter_number>", world.meters["current"])
        assert admin.post(path, {}, csrf=False).status_code == 400, rule.rule
        assert admin.post(path, {"csrf_token": "x" + admin.token}).status_code == 400, rule.rule
    fresh = Pos(app)
    assert fresh.post("/login", {"username": "admin", "password": PASSWORDS["admin"]},
                      csrf=False).status_code == 400  # login CSRF too


def test_every_post_form_carries_the_csrf_token(app: Flask, world: PosWorld) -> None:
    admin = signed_in(app, "admin")
    admin.post("/shift/open", {"opening_float": "0"})
    vend_id = _vend(admin, world.meters["current"], "10")
    pages = ["/sell", "/shift", f"/vends/{vend_id}", f"/vends/{vend_id}/reverse",
             "/engineering", "/admin/meters", "/admin/meters/import", "/admin/users",
             "/admin/keys", _trial_path(world)]
    for path in pages:
        html = admin.text(path)
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S)
        assert forms or path == f"/vends/{vend_id}", path
        for form in forms:
            assert f'name="csrf_token" value="{admin.token}"' in form, (path, form[:200])


def _trial_path(world: PosWorld) -> str:
    return f"/sell/{world.meters['second']}/trial?amount=20&payment_type=cash"


def test_roles(app: Flask, world: PosWorld) -> None:
    expected = {
        "clerk": {"/sell": 200, "/engineering": 403, "/shifts": 403, "/admin/meters": 403,
                  "/admin/users": 403, "/admin/keys": 403},
        "super": {"/sell": 200, "/engineering": 200, "/shifts": 200, "/admin/meters": 403,
                  "/admin/users": 403, "/admin/keys": 403},
        "admin": {"/sell": 200, "/engineering": 200, "/shifts": 200, "/admin/meters": 200,
                  "/admin/users": 200, "/admin/keys": 200},
    }
    for user, pages in expected.items():
        pos = signed_in(app, user)
        assert {p: pos.get(p).status_code for p in pages} == pages, user
    clerk = signed_in(app, "clerk")
    assert clerk.post("/engineering", {"meter_number": world.meters["current"],
                                       "kind": "clear_tamper", "request_id": "e1"}
                      ).status_code == 403
    assert clerk.post(f"/admin/users/{world.users['super']}/enabled",
                      {"enabled": "0"}).status_code == 403
    anonymous = Pos(app)
    response = anonymous.get("/admin/keys")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_lockout_after_repeated_failures_is_held_in_the_database(app: Flask, world: PosWorld,
                                                                 clock: FixedClock) -> None:
    pos = Pos(app)
    for _ in range(3):  # POS_LOCKOUT_ATTEMPTS = 3 in the test config
        response = pos.login("clerk", "wrong")
        assert response.status_code == 401
        assert "Wrong username or password." in response.get_data(as_text=True)
    locked = Pos(app).login("clerk")  # another client (no shared cookie), right password
    assert locked.status_code == 401
    assert "locked" in locked.get_data(as_text=True)
    unknown = Pos(app).login("nobody", "wrong")
    assert "Wrong username or password." in unknown.get_data(as_text=True)
    clock.advance(minutes=16)
    assert Pos(app).login("clerk").status_code == 302


def test_idle_timeout_and_absolute_lifetime(app: Flask, world: PosWorld,
                                            clock: FixedClock) -> None:
    pos = signed_in(app, "clerk")
    clock.advance(minutes=14)
    assert pos.get("/sell").status_code == 200  # activity renews the idle timer
    clock.advance(minutes=16)
    response = pos.get("/sell")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    pos = signed_in(app, "clerk")
    for _ in range(12 * 6 + 1):  # busy all day: a request every 10 minutes
        clock.advance(minutes=10)
        if pos.get("/sell").status_code != 200:
            break
    else:
        pytest.fail("the session outlived POS_SESSION_HOURS")
    assert clock.at.hour >= 9 + 12 - 1


def test_idle_notice_is_shown(app: Flask, world: PosWorld, clock: FixedClock) -> None:
    pos = signed_in(app, "clerk")
    clock.advance(minutes=20)
    html = pos.text("/login")
    assert "You were signed out after a period of inactivity." in html


def test_a_disabled_user_is_signed_out_at_the_next_request(app: Flask, world: PosWorld) -> None:
    clerk = signed_in(app, "clerk")
    admin = signed_in(app, "admin")
    assert admin.post(f"/admin/users/{world.users['clerk']}/enabled",
                      {"enabled": "0"}).status_code == 302
    response = clerk.get("/sell")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert Pos(app).login("clerk").status_code == 401


def test_session_cookie_flags(database: tuple[str, PosWorld], master_keys: str) -> None:
    for secure in (True, False):
        app = create_app(make_config(database[0], master_keys, SESSION_COOKIE_SECURE=secure))
        response = app.test_client().get("/login")
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        app.extensions["stsvend.engine"].dispose()
    from config import Config

    assert Config.SESSION_COOKIE_SECURE is True  # production default


def test_login_redirects_only_to_local_paths(app: Flask, world: PosWorld) -> None:
    pos = Pos(app)
    pos.get("/login")
    response = pos.post("/login?next=//evil.example/x", {"username": "clerk",
                                                         "password": PASSWORDS["clerk"]})
    assert response.headers["Location"] == "/sell"


# ----------------------------------------------------------------- selling and shifts


def test_selling_needs_an_open_shift_and_counts_to_it(app: Flask, world: PosWorld) -> None:
    clerk = signed_in(app, "clerk")
    meter = world.meters["current"]
    rid = _request_id(_trial(clerk, meter, "25"))
    response = clerk.post(f"/sell/{meter}/vend", {"amount": "25", "payment_type": "cash",
                                                  "request_id": rid})
    assert response.headers["Location"].endswith("/shift")
    assert clerk.post("/shift/open", {"opening_float": "150.00"}).status_code == 302
    assert "You already have an open shift." in clerk.post(
        "/shift/open", {"opening_float": "1"}, follow_redirects=True).get_data(as_text=True)
    first = _vend(clerk, meter, "25")
    # The same confirmation submitted twice (double click, reload) is one vend.
    rid = _request_id(_trial(clerk, world.meters["second"], "40", "card"))
    again = [clerk.post(f"/sell/{world.meters['second']}/vend",
                        {"amount": "40", "payment_type": "card", "request_id": rid})
             for _ in range(2)]
    assert again[0].headers["Location"] == again[1].headers["Location"]
    mobile = _vend(clerk, meter, "12.50", "mobile")
    super_ = signed_in(app, "super")
    assert super_.post(f"/vends/{mobile}/reverse", {"reason": "card declined"}
                       ).status_code == 302
    with app.app_context():
        ctx = ServiceContext.from_app(app, db.session)
        vends = db.session.scalars(select(Vend).order_by(Vend.id)).all()
        assert [v.details.get("payment_type") for v in vends] == ["cash", "card", "mobile"]
        assert first == vends[0].id
        shift_id = vends[0].details["shift_id"]
        report = cash_up(ctx, shift_id)
    assert report.sales == 3 and report.reversals == 1
    assert report.expected("cash") == Decimal("175.00")
    assert report.expected("card") == Decimal("40.00")
    assert report.expected("mobile") == Decimal("0.00")
    response = clerk.post("/shift/close", {"counted_cash": "175.00", "counted_card": "40.00",
                                           "counted_mobile": "0"})
    page = clerk.text(response.headers["Location"])
    assert 'id="vend-count">3<' in page and 'id="reversal-count">1<' in page
    csv_text = clerk.text(f"/shifts/{shift_id}/cashup.csv")
    assert "mobile,1,12.50,1,12.50,0.00,0.00,0.00" in csv_text
    # A closed shift takes no more sales.
    rid = _request_id(_trial(clerk, meter, "5"))
    assert clerk.post(f"/sell/{meter}/vend", {"amount": "5", "payment_type": "cash",
                                              "request_id": rid}
                      ).headers["Location"].endswith("/shift")
    # Another clerk may not read this cash-up; a supervisor may.
    assert signed_in(app, "clerk2").get(f"/shifts/{shift_id}/cashup").status_code == 403
    assert super_.get(f"/shifts/{shift_id}/cashup").status_code == 200


def test_confirmation_and_errors_are_shown_to_the_clerk(app: Flask, world: PosWorld) -> None:
    clerk = signed_in(app, "clerk")
    page = clerk.text(f"/sell/{world.meters['legacy']}")
    assert "Amina Yusuf" in page and "88 Baobab Rd" in page and 'id="key-change-due"' in page
    assert 'id="key-change-due"' not in clerk.text(f"/sell/{world.meters['current']}")
    bad = clerk.get(f"/sell/{world.meters['current']}/trial?amount=1.234&payment_type=cash")
    assert bad.status_code == 422
    assert "Enter an amount such as 50 or 50.00." in bad.get_data(as_text=True)
    assert clerk.get("/sell/07000000000/trial?amount=5").status_code == 404
    assert "No meter or customer matches" in clerk.text("/sell?q=nobody-like-this")
    response = clerk.get("/sell?q=Thandi")  # a single match goes straight to confirmation
    assert response.headers["Location"].endswith(f"/sell/{world.meters['current']}")
    admin = signed_in(app, "admin")
    admin.post(f"/admin/meters/{world.meters['current']}/status", {"status": "blocked"})
    page = clerk.text(f"/sell/{world.meters['current']}")
    assert 'id="cannot-vend"' in page and 'id="amount"' not in page


def test_engineering_token_by_a_supervisor(app: Flask, world: PosWorld) -> None:
    super_ = signed_in(app, "super")
    super_.get("/engineering")
    response = super_.post("/engineering", {"meter_number": world.meters["current"],
                                            "kind": "set_power_limit", "watts": "4000",
                                            "request_id": "eng-1"})
    assert response.status_code == 302
    page = super_.text(response.headers["Location"])
    assert "Set power limit" in page and page.count('class="grp"') == 5


# ----------------------------------------------------------------- keys, assets, language


def test_a_loaded_key_is_never_displayed_or_echoed(app: Flask, world: PosWorld) -> None:
    admin = signed_in(app, "admin")
    admin.get("/admin/keys")
    secret = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    bodies = []
    for form in ({"sgc": "111111", "krn": "1", "dkga": "04", "base_date": "2014", "ea": "07",
                  "vending_key": secret},
                 {"sgc": "111111", "krn": "1", "dkga": "04", "base_date": "2014", "ea": "07",
                  "vending_key": secret},  # the same KRN again: refused, the form comes back
                 {"sgc": "111112", "krn": "1", "dkga": "04", "base_date": "2014", "ea": "07",
                  "vending_key": secret[:-3] + "zz"}):  # not hex
        response = admin.post("/admin/keys", form, follow_redirects=True)
        bodies.append(response.get_data(as_text=True))
    bodies.append(admin.text("/admin/keys"))
    assert "Key loaded: SGC 111111 KRN 1" in bodies[0]
    assert "already has a key" in bodies[1] and "not valid" in bodies[2]
    for body in bodies:
        assert secret not in body.lower() and secret[:12] not in body.lower()


def test_pages_load_nothing_from_outside_the_app(app: Flask, world: PosWorld) -> None:
    response = signed_in(app, "clerk").get("/sell")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    files = list((POS_DIR / "templates").rglob("*.html")) + list((POS_DIR / "static").glob("*"))
    assert len(files) > 15
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9-]+\.[a-z0-9.-]+", text, re.I), path
        assert "url(" not in text, path  # no fonts or images fetched by the stylesheets
        assert "@import" not in text and "<script>" not in text, path


def test_chinese_is_chosen_per_user(app: Flask, world: PosWorld) -> None:
    clerk = signed_in(app, "clerk")
    assert clerk.post("/language", {"language": "zh_Hans_CN", "back": "/sell"}
                      ).status_code == 302
    page = clerk.text("/sell")
    assert "<h1>销售</h1>" in page and 'lang="zh-Hans"' in page
    assert "<h1>Sell</h1>" in signed_in(app, "clerk2").text("/sell")  # others keep English
    assert "<h1>销售</h1>" in signed_in(app, "clerk").text("/sell")  # kept across sign-ins


def test_translation_catalogs_are_complete_and_compiled() -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    po_path = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as f:
        po = read_po(f)
    with po_path.with_suffix(".mo").open("rb") as f:
        mo = read_mo(f)
    translated = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    assert set(translated) == template, "untranslated or stale messages: run pybabel update"
    assert {m.id: m.string for m in mo if m.id} == translated, "the .mo is stale: pybabel compile"
    used = set()
    for path in (POS_DIR / "templates").rglob("*.html"):
        used |= set(re.findall(r'_\("([^"]+)"', path.read_text(encoding="utf-8")))
    assert used <= template, sorted(used - template)[:5]


def test_receipt_numbers_in_paths_are_not_trusted(app: Flask, world: PosWorld) -> None:
    clerk = signed_in(app, "clerk")
    assert clerk.get("/vends/999999/receipt").status_code == 404
    assert clerk.get("/reprint?q=999999").status_code == 200
    assert Path(REPO / "docs").is_dir()


def test_a_reprint_is_the_same_slip_and_is_audited(app: Flask, world: PosWorld) -> None:
    clerk = signed_in(app, "clerk")
    clerk.post("/shift/open", {"opening_float": "0"})
    vend_id = _vend(clerk, world.meters["current"], "15")
    first = clerk.text(f"/vends/{vend_id}/receipt")
    receipt_no = re.search(r'id="r-no">(\d+)<', first)
    assert receipt_no
    response = signed_in(app, "clerk2").get(f"/reprint?q={receipt_no.group(1)}")
    assert response.headers["Location"].endswith(f"/vends/{vend_id}/receipt?reprint=1")
    again = clerk.text(f"/vends/{vend_id}/receipt?reprint=1")
    assert 'id="reprint-stamp"' in again and 'id="reprint-stamp"' not in first
    tokens_of = [re.findall(r'data-token="(\d{20})"', page) for page in (first, again)]
    assert tokens_of[0] == tokens_of[1] and len(tokens_of[0]) == 1
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "vend.reprinted")).all()
        assert [(e.actor, e.entity_id) for e in entries] == [("user:clerk", str(vend_id))]


def test_admin_edits_a_customer_and_changes_a_role(app: Flask, world: PosWorld) -> None:
    admin = signed_in(app, "admin")
    assert 'href="/admin/customers/ACC-1"' in admin.text("/admin/meters")
    admin.get("/admin/customers/ACC-1")
    response = admin.post("/admin/customers/ACC-1", {"name": "Thandi Nkosi-Dlamini",
                                                     "address": "14 Jacaranda St",
                                                     "phone": "+27 12 345 6789", "email": ""})
    assert response.status_code == 302
    clerk = signed_in(app, "clerk")
    page = clerk.text(f"/sell/{world.meters['current']}")
    assert "Thandi Nkosi-Dlamini" in page and "14 Jacaranda St" in page
    refused = admin.post("/admin/customers/ACC-1", {"name": " ", "address": "x", "phone": "",
                                                    "email": ""})
    assert refused.status_code == 422
    assert admin.get("/admin/customers/NO-SUCH").status_code == 404
    assert clerk.get("/engineering").status_code == 403
    assert admin.post(f"/admin/users/{world.users['clerk']}/role",
                      {"role": "supervisor"}).status_code == 302
    assert clerk.get("/engineering").status_code == 200  # from the next request on
    own = admin.post(f"/admin/users/{world.users['admin']}/role", {"role": "clerk"},
                     follow_redirects=True)
    assert "You cannot change your own role." in own.get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(("customer.updated", "user.role")))).all()
    assert sorted(actions) == ["customer.updated", "user.role"]


def test_sign_in_page_follows_the_browser_language(app: Flask, world: PosWorld) -> None:
    zh = app.test_client().get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "<h1>登录</h1>" in zh.get_data(as_text=True)
    en = app.test_client().get("/login", headers={"Accept-Language": "fr-FR,en;q=0.5"})
    assert "<h1>Sign in</h1>" in en.get_data(as_text=True)


def test_admin_loads_an_edited_tariff_as_a_new_version(app: Flask, world: PosWorld) -> None:
    admin = signed_in(app, "admin")
    page = admin.text("/admin/tariffs")
    assert "RES" in page and "2020-01-01" in page
    assert "&#34;flat&#34;: &#34;2.5000&#34;" in page  # the latest version, ready to edit
    bad = admin.post("/admin/tariffs", {"document": json.dumps(
        {"code": "RES", "currency": "ZAR", "effective_from": "2026-13-01",
         "energy": {"flat": 3.1}, "surprise": True})})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    problems = re.findall(r'<li class="mono">([^<]+)</li>', text)
    assert len(problems) >= 3, problems  # date, float price, unknown member: all at once
    assert any("effective_from" in p for p in problems)
    assert any("surprise" in p for p in problems)
    not_json = admin.post("/admin/tariffs", {"document": "{nope"})
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.get_data(as_text=True)
    good = admin.post("/admin/tariffs", {"document": json.dumps(
        {"code": "RES", "name": "Residential", "currency": "ZAR",
         "effective_from": "2026-07-01", "energy": {"flat": "2.7500"}})})
    assert good.status_code == 302
    listed = admin.text("/admin/tariffs")
    assert "2026-07-01" in listed and "2020-01-01" in listed  # the old version is kept
    again = admin.post("/admin/tariffs", {"document": json.dumps(
        {"code": "RES", "name": "Residential", "currency": "ZAR",
         "effective_from": "2026-07-01", "energy": {"flat": "9.0000"}})})
    assert again.status_code == 422  # a loaded version is never overwritten
    assert signed_in(app, "clerk").get("/admin/tariffs").status_code == 403
    with app.app_context():
        versions = db.session.scalars(select(AuditEntry.entity_id).where(
            AuditEntry.action == "tariff.loaded")).all()
    assert "RES@2026-07-01" in versions
