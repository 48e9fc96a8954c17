"""Back-office screens (admin): meters and customers with the CSV import and its validation
report, operator accounts, tariff versions, and vending keys. A vending key is typed into a
password field, sealed by the security module at once, and never shown again: the list shows
its identity and key check value only."""

from __future__ import annotations

import io
import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ..errors import VendingError
from ..models import MeterStatus, Role
from ..pricing import TariffRejectedError
from ..services import (
    MeterImportError,
    accounts,
    add_vending_key,
    create_user,
    customers,
    directory,
    import_meters,
    set_current_krn,
    set_meter_status,
)
from ..services.keys import parse_key_hex
from ..services.tariffs import list_tariffs, load_tariff
from .messages import describe
from .security import before_pos_request, login_required, operator, service_context
from .views import html_http_error

bp = Blueprint("pos_admin", __name__, url_prefix="/admin")
bp.before_request(before_pos_request)
bp.register_error_handler(HTTPException, html_http_error)

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_TARIFF_CHARS = 200_000


@bp.route("/tariffs", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def tariffs() -> ResponseReturnValue:
    """Tariff versions. A stored version is never changed (a receipt names the version it was
    priced with): editing means loading the edited document as a new version with a later
    ``effective_from``; every problem of an invalid document is listed at once."""
    ctx = service_context()
    rows = list_tariffs(ctx)
    problems: list[str] = []
    status = 200
    text = request.form.get("document", "")
    if request.method == "POST":
        try:
            if len(text) > MAX_TARIFF_CHARS:
                raise ValueError(_("The document is too large."))
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(_("The document is not valid JSON (line %(line)s: %(msg)s).",
                                   line=exc.lineno, msg=exc.msg)) from None
            tariff = load_tariff(ctx, document, actor=operator().actor)
        except ValueError as exc:
            flash(str(exc), "error")
            status = 400
        except TariffRejectedError as exc:
            problems = exc.problems
            flash(_("The tariff was not loaded: %(n)s problem(s).", n=len(problems)), "error")
            status = 422
        except VendingError as exc:
            flash(describe(exc), "error")
            status = 422
        else:
            flash(_("Tariff %(code)s effective %(date)s loaded.", code=tariff.code,
                    date=tariff.effective_from.isoformat()), "ok")
            return redirect(url_for("pos_admin.tariffs"))
    elif rows:
        wanted = request.args.get("code")
        base = next((r for r in reversed(rows) if r.code == wanted), rows[-1])
        text = json.dumps(base.document, indent=2, ensure_ascii=False)
    return render_template("pos/admin/tariffs.html", rows=rows, document=text,
                           problems=problems), status


@bp.get("/meters")
@login_required(Role.ADMIN)
def meters() -> ResponseReturnValue:
    ctx = service_context()
    query = request.args.get("q", "").strip()
    rows = directory.search_meters(ctx, query, limit=200) if query else directory.list_meters(ctx)
    return render_template("pos/admin/meters.html", rows=rows, query=query)


@bp.post("/meters/<meter_number>/status")
@login_required(Role.ADMIN)
def meter_status(meter_number: str) -> ResponseReturnValue:
    status = request.form.get("status", "")
    try:
        set_meter_status(service_context(), meter_number, status, actor=operator().actor)
    except VendingError as exc:
        flash(describe(exc), "error")
    else:
        flash(_("Meter %(meter)s is now %(status)s.", meter=meter_number,
                status=_("blocked") if status == MeterStatus.BLOCKED.value else _("active")),
              "ok")
    return redirect(url_for("pos_admin.meters", q=request.form.get("q", "")))


@bp.route("/meters/import", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def meters_import() -> ResponseReturnValue:
    report = None
    rejected = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read(MAX_IMPORT_BYTES + 1) if upload else b""
        if not data:
            flash(_("Choose a CSV file to import."), "error")
            status = 400
        elif len(data) > MAX_IMPORT_BYTES:
            flash(_("The file is too large."), "error")
            status = 400
        else:
            try:
                text = data.decode("utf-8-sig")
                report = import_meters(service_context(), io.StringIO(text, newline=""),
                                       actor=operator().actor)
            except UnicodeDecodeError:
                flash(_("The file is not UTF-8 text."), "error")
                status = 400
            except MeterImportError as exc:
                rejected = exc.report.rejected
                flash(describe(exc), "error")
                status = 422
            except VendingError as exc:
                flash(describe(exc), "error")
                status = 400
    return render_template("pos/admin/import.html", report=report, rejected=rejected), status


@bp.route("/users", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def users() -> ResponseReturnValue:
    ctx = service_context()
    status = 200
    if request.method == "POST":
        try:
            create_user(ctx, username=request.form.get("username", "").strip(),
                        role=request.form.get("role", ""),
                        password=request.form.get("password", ""), actor=operator().actor)
        except VendingError as exc:
            flash(describe(exc), "error")
            status = 422
        else:
            flash(_("User created."), "ok")
            return redirect(url_for("pos_admin.users"))
    return render_template("pos/admin/users.html", rows=accounts.list_operators(ctx),
                           roles=[r.value for r in Role]), status


@bp.post("/users/<int:user_id>/enabled")
@login_required(Role.ADMIN)
def user_enabled(user_id: int) -> ResponseReturnValue:
    enable = request.form.get("enabled") == "1"
    if not enable and user_id == operator().id:
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("pos_admin.users"))
    try:
        accounts.set_enabled(service_context(), user_id, enable, actor=operator().actor)
    except VendingError as exc:
        flash(describe(exc), "error")
    return redirect(url_for("pos_admin.users"))


@bp.post("/users/<int:user_id>/password")
@login_required(Role.ADMIN)
def user_password(user_id: int) -> ResponseReturnValue:
    try:
        accounts.reset_password(service_context(), user_id, request.form.get("password", ""),
                                actor=operator().actor)
    except VendingError as exc:
        flash(describe(exc), "error")
    else:
        flash(_("Password changed; the account is unlocked."), "ok")
    return redirect(url_for("pos_admin.users"))


@bp.route("/keys", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def keys() -> ResponseReturnValue:
    ctx = service_context()
    status = 200
    if request.method == "POST":
        try:
            krn_text = request.form.get("krn", "")
            krn = int(krn_text) if krn_text.isascii() and krn_text.isdigit() else 0
            info = add_vending_key(
                ctx, sgc=request.form.get("sgc", "").strip(), krn=krn,
                dkga=request.form.get("dkga", ""), base_date=request.form.get("base_date", ""),
                ea=request.form.get("ea", ""),
                key=parse_key_hex(request.form.get("vending_key", "")),
                actor=operator().actor, make_current=request.form.get("make_current") == "1")
        except VendingError as exc:
            flash(describe(exc), "error")
            status = 422
        else:
            flash(_("Key loaded: SGC %(sgc)s KRN %(krn)s, check value %(kcv)s.", sgc=info.sgc,
                    krn=info.krn, kcv=info.kcv), "ok")
            return redirect(url_for("pos_admin.keys"))
    return render_template("pos/admin/keys.html", rows=directory.list_vending_keys(ctx)), status


@bp.post("/keys/current")
@login_required(Role.ADMIN)
def keys_current() -> ResponseReturnValue:
    try:
        set_current_krn(service_context(), sgc=request.form.get("sgc", ""),
                        krn=int(request.form.get("krn", "0")), actor=operator().actor)
    except (VendingError, ValueError) as exc:
        flash(describe(exc) if isinstance(exc, VendingError) else str(exc), "error")
    else:
        flash(_("Current key changed: meters get a key change at their next vend."), "ok")
    return redirect(url_for("pos_admin.keys"))


@bp.post("/users/<int:user_id>/role")
@login_required(Role.ADMIN)
def user_role(user_id: int) -> ResponseReturnValue:
    if user_id == operator().id:
        flash(_("You cannot change your own role."), "error")
        return redirect(url_for("pos_admin.users"))
    try:
        accounts.set_role(service_context(), user_id, request.form.get("role", ""),
                          actor=operator().actor)
    except VendingError as exc:
        flash(describe(exc), "error")
    else:
        flash(_("Role changed."), "ok")
    return redirect(url_for("pos_admin.users"))


@bp.route("/customers/<account>", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def customer(account: str) -> ResponseReturnValue:
    ctx = service_context()
    status = 200
    form = None
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("name", "address", "phone", "email")}
        try:
            customers.update_customer(ctx, account, actor=operator().actor, **form)
        except VendingError as exc:
            flash(describe(exc), "error")
            status = 422
        else:
            flash(_("Customer details saved."), "ok")
            return redirect(url_for("pos_admin.customer", account=account))
    details = customers.get_customer(ctx, account)
    return render_template("pos/admin/customer.html", customer=details,
                           form=form or {"name": details.name, "address": details.address,
                                         "phone": details.phone, "email": details.email}
                           ), status
