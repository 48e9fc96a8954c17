"""The POS in a real browser: Debian's chromium driven by Playwright against the app on a
real HTTP server. Sign-in, a vend with its key change, the token and receipt (digits decoded
back by the meter's key, the QR code read back by OpenCV's decoder), a reprint, a reversal
refused to a clerk and allowed to a supervisor, role and CSRF checks, the admin screens and
the Chinese UI.

Screenshots of the main screens are taken on every run (into the test's temporary folder);
with ``POS_SCREENSHOTS=1`` the SQLite run writes them to ``docs/screenshots/`` instead.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect
from pos_fixtures import PASSWORDS, REPO, PosWorld, decoder_key, drn, make_config
from werkzeug.serving import make_server

import tokens
from vending import create_app

pytestmark = pytest.mark.browser
# Generous waits: the shared CI machine can be busy; a wait ends as soon as the page is ready.
expect.set_options(timeout=15_000)
# The vend flow runs on both databases; the other browser tests on SQLite only (their server
# side is covered on PostgreSQL by test_pos_http.py), to keep the suite under three minutes.
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots when asked for (SQLite run only)."""
    if os.environ.get("POS_SCREENSHOTS") == "1" and "sqlite" in request.node.name:
        return REPO / "docs" / "screenshots"
    return tmp_path


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1024, "height": 768},
                                  device_scale_factor=2, locale="en-GB")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def shot(page: Page, folder: Path, name: str, *, full: bool = True) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full, scale="css")
    assert path.stat().st_size < 300_000, f"{name}.png is too large"


def sign_in(page: Page, username: str, password: str | None = None) -> None:
    page.goto("/login")
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS[username] if password is None else password)
    page.keyboard.press("Enter")
    if password is None:
        expect(page).not_to_have_url(re.compile(r"/login"))
    else:
        expect(page.locator("#login-error")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def open_shift(page: Page, opening_float: str) -> None:
    page.goto("/shift")
    page.fill("#opening_float", opening_float)
    page.keyboard.press("Enter")
    expect(page.locator("#q")).to_be_focused()


def sell(page: Page, query: str, amount: str, payment: str = "cash") -> int:
    """Search, confirm, trial, confirm sale, by keyboard; returns the vend id."""
    page.goto("/sell")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    expect(page.locator("#amount")).to_be_focused()
    page.keyboard.type(amount)
    page.select_option("#payment_type", payment)
    page.locator("#amount").press("Enter")
    expect(page.locator("#confirm-vend")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#tokens")).to_be_visible()
    match = re.search(r"/vends/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def page_tokens(page: Page) -> list[tuple[str, str]]:
    """(kind label, 20 digits) of each token as displayed, the digits read from the groups."""
    lines = []
    for item in page.locator("#tokens li").all():
        groups = item.locator(".grp").all_inner_texts()
        assert all(re.fullmatch(r"\d{4}", g) for g in groups) and len(groups) == 5, groups
        lines.append((item.get_attribute("class") or "", "".join(groups)))
    return lines


def pdf_page_size_mm(page: Page) -> tuple[float, float]:
    """The first page size of the page printed to PDF by chromium with its CSS @page size."""
    pdf = page.pdf(prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1, "the receipt spans several pages"
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box, "no MediaBox in the PDF"
    return float(box.group(1)) / 72 * 25.4, float(box.group(2)) / 72 * 25.4


def read_qr(page: Page) -> str:
    """Decode the receipt's QR code from pixels the browser rendered, with OpenCV.

    The SVG is drawn 80 mm wide for the capture (about 7 device pixels per module) and
    binarised with a white margin. OpenCV's ArUco-based detector reads it; the classic
    detector, which misses some clean codes, is the fallback."""
    svg = page.locator("#qr svg")
    svg.evaluate("el => { el.style.width = '80mm'; el.style.height = '80mm'; }")
    try:
        png = svg.screenshot(scale="device")
    finally:
        svg.evaluate("el => { el.style.width = ''; el.style.height = ''; }")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    _, image = cv2.threshold(image, 128, 255, cv2.THRESH_BINARY)
    image = cv2.copyMakeBorder(image, 32, 32, 32, 32, cv2.BORDER_CONSTANT, value=255)
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        text, points, _ = detector.detectAndDecode(image)
        if text and points is not None:
            return str(text)
    pytest.fail("the QR code could not be decoded")


def test_clerk_sells_with_a_key_change_and_prints_the_receipt(
        page: Page, world: PosWorld, shots: Path) -> None:
    meter = world.meters["legacy"]  # on base date 1993: the vend carries the key change
    page.goto("/sell")
    expect(page).to_have_url(re.compile(r"/login"))
    shot(page, shots, "01-login")
    sign_in(page, "clerk", "wrong-password")
    expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
    sign_in(page, "clerk")
    expect(page.locator("#q")).to_be_focused()
    expect(page.get_by_text("No shift is open.")).to_be_visible()
    open_shift(page, "200.00")

    page.fill("#q", "07")
    page.keyboard.press("Enter")
    expect(page.locator("#results tbody tr")).to_have_count(3)
    shot(page, shots, "02-sell-search")

    page.goto("/sell")
    # the page focuses the search box from its script: type only once it has (typing earlier
    # went nowhere, a flake seen once in CI)
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("Amina")
    page.keyboard.press("Enter")
    expect(page.locator("#c-meter")).to_have_text(meter)
    expect(page.locator("#c-name")).to_have_text("Amina Yusuf")
    expect(page.locator("#c-address")).to_have_text("88 Baobab Rd")
    expect(page.locator("#c-tariff")).to_have_text("RES")
    expect(page.locator("#key-change-due")).to_be_visible()
    expect(page.locator("#amount")).to_be_focused()
    page.keyboard.type("50")
    page.keyboard.press("Enter")
    expect(page.locator("#t-units")).to_have_text("20.0 kWh")  # 50.00 at 2.50/kWh
    expect(page.locator("#breakdown tbody tr").first).to_contain_text("50.00")
    shot(page, shots, "03-confirm-breakdown")
    page.keyboard.press("Enter")

    expect(page.locator("#enter-order")).to_be_visible()
    shown = page_tokens(page)
    shot(page, shots, "04-token")
    kinds = [k for k, _ in shown]
    assert kinds[-1].endswith("credit") and all(k.endswith("key_change") for k in kinds[:-1])
    assert len(kinds) >= 3  # a DKGA-02 -> DKGA-04 move with the rollover: two or more KCTs
    font_px = page.locator("#tokens .token").last.evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)")
    assert font_px >= 32  # large
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet in portrait
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 768  # no sideways scroll
    shot(page, shots, "04b-token-tablet")
    page.set_viewport_size({"width": 1024, "height": 768})
    credit = tokens.decode(shown[-1][1], decoder_key(meter, krn=2))
    assert isinstance(credit, tokens.TransferCredit) and credit.units == 200

    receipt_no = page.locator("h1").inner_text().split()[1]
    page.locator("#print-80").click()
    expect(page.locator("#r-no")).to_have_text(receipt_no)
    expect(page.locator("#r-meter")).to_have_text(meter)
    expect(page.locator("#r-sgc")).to_have_text("654321")
    expect(page.locator("#r-krn")).to_have_text("1 → 2")
    expect(page.locator("#r-units")).to_have_text("20.0 kWh")
    receipt_tokens = ["".join(li.locator(".grp").all_inner_texts())
                      for li in page.locator("#receipt ol.tokens li").all()]
    assert receipt_tokens == [t for _, t in shown]
    assert read_qr(page) == f"STSVEND|R={receipt_no}|M={meter}|T={','.join(receipt_tokens)}"
    width_px = page.locator("#receipt").evaluate("el => el.getBoundingClientRect().width")
    width_mm = width_px / 96 * 25.4
    assert 70 <= width_mm <= 74
    shot(page, shots, "05-receipt-80mm")
    width, length = pdf_page_size_mm(page)  # one continuous slip as long as the receipt
    assert width == pytest.approx(80, abs=0.5) and 100 < length < 297
    page.goto(page.url + "?paper=a4")
    expect(page.locator("#r-no")).to_have_text(receipt_no)
    shot(page, shots, "06-receipt-a4")
    assert pdf_page_size_mm(page) == pytest.approx((210, 297), abs=0.5)
    page.emulate_media(media="print")
    expect(page.locator(".toolbar")).to_be_hidden()
    page.emulate_media(media="screen")

    page.goto("/reprint")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(receipt_no)
    page.keyboard.press("Enter")
    expect(page.locator("#reprint-stamp")).to_have_text("REPRINT")
    assert ["".join(li.locator(".grp").all_inner_texts())
            for li in page.locator("#receipt ol.tokens li").all()] == receipt_tokens

    sell(page, "Nkosi", "20.50", payment="card")
    page.goto("/shift")
    expect(page.locator("#cashup-cash .expected")).to_have_text("250.00")  # float + 50.00
    expect(page.locator("#cashup-card .expected")).to_have_text("20.50")
    page.fill("#counted_cash", "245.00")
    page.locator("#close-shift").click()
    expect(page.locator("#vend-count")).to_have_text("2")
    expect(page.locator("#cashup-cash td").last).to_have_text("-5.00")
    shot(page, shots, "07-cashup")
    with page.expect_download() as download:
        page.locator("#cashup-csv").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "cash,1,50.00,0,0.00,250.00,245.00,-5.00" in csv_text


@sqlite_only
def test_reversal_is_refused_to_a_clerk_and_allowed_to_a_supervisor(
        page: Page, world: PosWorld, shots: Path) -> None:
    sign_in(page, "clerk")
    open_shift(page, "0.00")
    first = sell(page, "Nkosi", "30")
    page.locator("#reverse-link").click()
    expect(page.locator("#approver")).to_be_visible()  # a clerk needs a supervisor
    page.fill("#reason", "customer left without paying")
    page.fill("#approver", "clerk2")
    page.fill("#approver_password", PASSWORDS["clerk2"])
    page.locator("#do-reverse").click()
    expect(page.locator("#reverse-error")).to_contain_text("may not approve")
    page.fill("#reason", "customer left without paying")
    page.fill("#approver", "super")
    page.fill("#approver_password", "not-the-password")
    page.locator("#do-reverse").click()
    expect(page.locator("#reverse-error")).to_contain_text("Wrong username or password")
    page.goto(f"/vends/{first}")
    expect(page.locator("#reversed-badge")).to_have_count(0)
    page.locator("#reverse-link").click()
    page.fill("#reason", "customer left without paying")
    page.fill("#approver", "super")
    page.fill("#approver_password", PASSWORDS["super"])
    shot(page, shots, "08-reversal-approval")
    page.locator("#do-reverse").click()
    expect(page.locator("#reversed-badge")).to_be_visible()
    expect(page.get_by_text("Reversed by user:super")).to_be_visible()

    second = sell(page, world.meters["second"], "10")
    sign_out(page)
    sign_in(page, "super")
    page.goto(f"/vends/{second}/reverse")
    expect(page.locator("#approver")).to_have_count(0)  # the supervisor approves as themselves
    page.fill("#reason", "wrong meter")
    page.locator("#do-reverse").click()
    expect(page.locator("#reversed-badge")).to_be_visible()
    page.goto(f"/vends/{second}/receipt")
    expect(page.locator("#reversed-stamp")).to_be_visible()


@sqlite_only
def test_roles_and_csrf_in_the_browser(page: Page, world: PosWorld, live_server: str) -> None:
    sign_in(page, "clerk")
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#nav-engineering")).to_have_count(0)
    for path in ("/admin/users", "/admin/keys", "/admin/meters", "/engineering", "/shifts"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.locator("#error-message")).to_have_text("Your role does not allow this.")
    # A POST without the session's CSRF token (what a forged cross-site form sends) is
    # refused even with the session cookie; with the token from the page it succeeds.
    no_token = page.request.post(f"{live_server}/shift/open", form={"opening_float": "5.00"})
    assert no_token.status == 400
    forged = page.request.post(f"{live_server}/shift/open",
                               form={"opening_float": "5.00", "csrf_token": "forged"})
    assert forged.status == 400
    page.goto("/shift")
    expect(page.get_by_text("Open a shift")).to_be_visible()  # nothing was opened
    page.locator("#open-shift").click()
    expect(page.get_by_text("Shift opened.")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


@sqlite_only
def test_admin_screens_keys_import_and_chinese(page: Page, world: PosWorld, shots: Path,
                                               tmp_path: Path) -> None:
    sign_in(page, "admin")
    page.goto("/admin/meters")
    expect(page.locator("#meter-list tbody tr")).to_have_count(3)
    shot(page, shots, "09-admin-meters")

    bad = tmp_path / "meters.csv"
    good, wrong_digit = drn(4), drn(5)[:-1] + str((int(drn(5)[-1]) + 1) % 10)
    bad.write_text(
        "meter_number,customer_name,address,account,sgc,ti,krn,kt,ea,dkga,base_date,tariff\n"
        f"{good},New Customer,1 Main Rd,ACC-9,654321,1,2,2,07,04,2014,\n"
        f"{wrong_digit},Bad Check Digit,2 Main Rd,ACC-10,654321,1,2,2,07,04,2014,\n"
        f"{drn(6)},Unknown Group,3 Main Rd,ACC-11,999999,1,2,2,07,04,2014,\n",
        encoding="utf-8")
    page.goto("/admin/meters/import")
    page.set_input_files("#file", str(bad))
    page.locator("#do-import").click()
    report = page.locator("#import-report tbody tr")
    expect(report).to_have_count(2)
    expect(report.nth(0)).to_contain_text(wrong_digit)
    expect(report.nth(1)).to_contain_text("999999")
    shot(page, shots, "10-admin-import-report")
    page.goto("/admin/meters")
    expect(page.locator("#meter-list tbody tr")).to_have_count(3)  # all or nothing

    page.goto("/admin/users")
    page.fill("#new-username", "clerk3")
    page.fill("#new-password", "clerk3-pass-1")
    page.locator("#create-user").click()
    expect(page.locator("#user-list")).to_contain_text("clerk3")
    shot(page, shots, "11-admin-users")

    secret_hex = "00112233445566778899aabbccddeeff01234567"
    page.goto("/admin/keys")
    page.fill("#k-sgc", "123456")
    page.fill("#k-krn", "1")
    page.fill("#k-key", secret_hex)
    page.locator("#load-key").click()
    expect(page.locator("#key-list")).to_contain_text("123456")
    html = page.content().lower()
    assert secret_hex not in html and secret_hex[:16] not in html
    shot(page, shots, "12-admin-keys")

    page.select_option("select[name=language]", "zh_Hans_CN")
    expect(page.locator("#nav-sell")).to_contain_text("销售")
    page.goto("/sell")
    expect(page.locator("h1")).to_have_text("销售")
    shot(page, shots, "13-sell-zh")


@sqlite_only
def test_sign_in_works_with_the_production_secure_cookie_over_local_http(
        browser: Any, database: tuple[str, PosWorld], master_keys: str) -> None:
    """``make run`` serves plain http on 127.0.0.1 with SESSION_COOKIE_SECURE's production
    default (true): browsers treat loopback as a secure context and keep the cookie."""
    app = create_app(make_config(database[0], master_keys, SESSION_COOKIE_SECURE=True))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}")
    try:
        tab = context.new_page()
        sign_in(tab, "clerk")
        expect(tab.locator("#nav-sell")).to_be_visible()
        assert next(c for c in context.cookies() if c["name"] == "session")["secure"]
    finally:
        context.close()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["stsvend.engine"].dispose()


@sqlite_only
def test_an_unattended_till_signs_itself_out(page: Page, world: PosWorld) -> None:
    page.clock.install()
    sign_in(page, "clerk")
    expect(page.locator("#q")).to_be_focused()
    page.clock.run_for("14:00")
    page.keyboard.type("07")  # activity restarts the idle timer
    page.clock.run_for("14:00")
    expect(page.locator("#q")).to_be_visible()
    page.clock.run_for("01:01")
    expect(page).to_have_url(re.compile(r"/login$"))
    response = page.goto("/sell")
    assert response is not None and "/login" in page.url  # the session really ended
