"""POS views for every signed-in operator: sign-in, sell (search, confirm, trial, vend),
the token and receipt pages, reprint, reversal with supervisor approval, engineering tokens
(supervisor), shifts and cash-up, and the language choice.

Views parse the form, call one service, and render or redirect (POST/redirect/GET, so a
reload never sells twice; the vend form also carries a request id minted on the trial page,
so a double-submitted confirmation is the same vend, by the core's idempotency)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ..errors import NotFoundError, VendingError
from ..models import Role
from ..services import (
    EngineeringKind,
    accounts,
    confirm_meter,
    directory,
    engineering_token,
    receipts,
    reverse,
    shifts,
    trial_vend,
)
from ..services.answers import MeterConfirmation
from .messages import describe
from .security import (
    before_pos_request,
    end_session,
    login_required,
    operator,
    service_context,
    start_session,
)

bp = Blueprint("pos", __name__, template_folder="templates", static_folder="static",
               static_url_path="/pos-static")
bp.before_request(before_pos_request)


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    """Everything the pages load comes from the app itself; pages are never cached (they
    show tokens) nor framed."""
    if request.blueprint in ("pos", "pos_admin"):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "pos.static":
            response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(HTTPException)
def html_http_error(exc: HTTPException) -> ResponseReturnValue:
    """POS pages answer errors with a page in the user's language, not the API's JSON."""
    code = exc.code or 500
    if code == 400 and exc.description == "csrf":
        message = _("This form has expired. Reload the page and try again.")
    elif code == 403:
        message = _("Your role does not allow this.")
    elif code == 404:
        message = _("Not found.")
    else:
        message = exc.name
    return render_template("pos/error.html", message=message, status=code), code


@bp.errorhandler(NotFoundError)
def _not_found(exc: NotFoundError) -> ResponseReturnValue:
    return render_template("pos/error.html", message=describe(exc), status=404), 404


def _lockout() -> tuple[int, timedelta]:
    cfg = current_app.config
    return (int(cfg.get("POS_LOCKOUT_ATTEMPTS", 5)),
            timedelta(minutes=int(cfg.get("POS_LOCKOUT_MINUTES", 15))))


# ----------------------------------------------------------------- sign-in


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    notice = {"idle": _("You were signed out after a period of inactivity."),
              "expired": _("Your session has ended. Sign in again."),
              "disabled": _("This account is disabled.")}.get(g.get("session_ended") or "")
    error = None
    status = 200
    if request.method == "POST":
        attempts, period = _lockout()
        try:
            op = accounts.login(service_context(), request.form.get("username", ""),
                                request.form.get("password", ""), max_failures=attempts,
                                lockout=period)
        except accounts.LoginRefusedError as exc:
            error, status = describe(exc), 401
        else:
            start_session(op)
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("pos.sell")
            return redirect(target)
    return render_template("pos/login.html", notice=notice, error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    end_session()
    return redirect(url_for("pos.login"))


@bp.post("/language")
@login_required()
def language() -> ResponseReturnValue:
    try:
        accounts.set_language(service_context(), operator().id, request.form.get("language", ""))
    except VendingError as exc:
        flash(describe(exc), "error")
    return redirect(request.form.get("back") or url_for("pos.sell"))


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("pos.sell"))


# ----------------------------------------------------------------- sell


@bp.get("/sell")
@login_required()
def sell() -> ResponseReturnValue:
    ctx = service_context()
    query = request.args.get("q", "").strip()
    results = directory.search_meters(ctx, query) if query else []
    if len(results) == 1:
        return redirect(url_for("pos.confirm", meter_number=results[0].meter_number))
    shift = shifts.current_shift(ctx, operator().id)
    recent = directory.recent_vends(ctx, actor_ref=operator().actor.ref, limit=8)
    return render_template("pos/sell.html", query=query, results=results, shift=shift,
                           recent=recent)


def _confirmation(meter_number: str) -> MeterConfirmation:
    try:
        return confirm_meter(service_context(), meter_number)
    except VendingError as exc:
        if exc.status == 404:
            raise
        abort(404)


@bp.get("/sell/<meter_number>")
@login_required()
def confirm(meter_number: str) -> ResponseReturnValue:
    ctx = service_context()
    customer = _confirmation(meter_number)
    shift = shifts.current_shift(ctx, operator().id)
    return render_template("pos/confirm.html", customer=customer, shift=shift,
                           amount=request.args.get("amount", ""),
                           payment_type=request.args.get("payment_type", "cash"),
                           payment_types=shifts.PAYMENT_TYPES)


@bp.get("/sell/<meter_number>/trial")
@login_required()
def trial(meter_number: str) -> ResponseReturnValue:
    ctx = service_context()
    customer = _confirmation(meter_number)
    amount = request.args.get("amount", "").strip()
    payment_type = request.args.get("payment_type", "cash")
    shift = shifts.current_shift(ctx, operator().id)
    try:
        answer = trial_vend(ctx, meter_number=meter_number, amount=amount)
    except VendingError as exc:
        flash(describe(exc), "error")
        return render_template("pos/confirm.html", customer=customer, shift=shift,
                               amount=amount, payment_type=payment_type,
                               payment_types=shifts.PAYMENT_TYPES), 422
    return render_template("pos/trial.html", customer=customer, answer=answer, shift=shift,
                           payment_type=payment_type, request_id=uuid.uuid4().hex)


@bp.post("/sell/<meter_number>/vend")
@login_required()
def do_vend(meter_number: str) -> ResponseReturnValue:
    op = operator()
    ctx = service_context()
    shift = shifts.current_shift(ctx, op.id)
    if shift is None:
        flash(_("Open a shift before selling."), "error")
        return redirect(url_for("pos.shift"))
    try:
        answer = shifts.sell(ctx, shift_id=shift.id, meter_number=meter_number,
                             amount=request.form.get("amount", ""),
                             payment_type=request.form.get("payment_type", ""),
                             request_id=request.form.get("request_id", ""), actor=op.actor)
    except VendingError as exc:
        flash(describe(exc), "error")
        return redirect(url_for("pos.confirm", meter_number=meter_number,
                                amount=request.form.get("amount", "")))
    assert answer.vend_id is not None
    return redirect(url_for("pos.vend_result", vend_id=answer.vend_id))


@bp.get("/vends/<int:vend_id>")
@login_required()
def vend_result(vend_id: int) -> ResponseReturnValue:
    receipt = receipts.build_receipt(service_context(), vend_id)
    return render_template("pos/vend.html", receipt=receipt)


@bp.get("/vends/<int:vend_id>/receipt")
@login_required()
def receipt(vend_id: int) -> ResponseReturnValue:
    paper = "a4" if request.args.get("paper") == "a4" else "80mm"
    ctx = service_context()
    rec = receipts.build_receipt(ctx, vend_id)
    reprint = request.args.get("reprint") == "1"
    if reprint:
        receipts.record_reprint(ctx, vend_id, actor=operator().actor)
    return render_template("pos/receipt.html", receipt=rec, paper=paper, reprint=reprint,
                           qr_svg=receipts.qr_svg(rec.qr_payload))


# ----------------------------------------------------------------- reprint and reversal


@bp.get("/reprint")
@login_required()
def reprint() -> ResponseReturnValue:
    ctx = service_context()
    query = request.args.get("q", "").strip()
    vends: list[directory.VendRow] = []
    if query:
        vend_id = directory.find_receipt_vend(ctx, query)
        if vend_id is not None:
            return redirect(url_for("pos.receipt", vend_id=vend_id, reprint=1))
        for meter in directory.search_meters(ctx, query, limit=5):
            vends += directory.recent_vends(ctx, meter_number=meter.meter_number, limit=10)
    else:
        vends = directory.recent_vends(ctx, limit=15)
    return render_template("pos/reprint.html", query=query, vends=vends)


@bp.route("/vends/<int:vend_id>/reverse", methods=["GET", "POST"])
@login_required()
def reversal(vend_id: int) -> ResponseReturnValue:
    """A clerk may ask; a supervisor approves, either signed in or by typing their own
    credentials at the clerk's till (checked, and locked out, like a sign-in)."""
    op = operator()
    ctx = service_context()
    rec = receipts.build_receipt(ctx, vend_id)
    error = None
    if request.method == "POST":
        reason = request.form.get("reason", "").strip()
        approver: accounts.Operator | None = op
        if not op.at_least(Role.SUPERVISOR):
            attempts, period = _lockout()
            try:
                approver = accounts.verify_approver(
                    ctx, request.form.get("approver", ""), request.form.get("approver_password",
                                                                            ""),
                    role=Role.SUPERVISOR, max_failures=attempts, lockout=period)
            except VendingError as exc:
                approver, error = None, describe(exc)
        if approver is not None:
            try:
                reverse(ctx, vend_id, reason=f"{reason} (requested by {op.username})"
                        if approver.id != op.id and reason else reason, actor=approver.actor)
            except VendingError as exc:
                error = describe(exc)
            else:
                flash(_("Vend reversed."), "ok")
                return redirect(url_for("pos.vend_result", vend_id=vend_id))
        return render_template("pos/reverse.html", receipt=rec, error=error), 403 if (
            approver is None and not op.at_least(Role.SUPERVISOR)) else 422
    return render_template("pos/reverse.html", receipt=rec, error=error)


# ----------------------------------------------------------------- engineering


@bp.route("/engineering", methods=["GET", "POST"])
@login_required(Role.SUPERVISOR)
def engineering() -> ResponseReturnValue:
    kinds = [k.value for k in EngineeringKind]
    form = {"meter_number": request.values.get("meter_number", ""),
            "kind": request.values.get("kind", "clear_tamper"),
            "watts": request.values.get("watts", "")}
    if request.method == "POST":
        params: dict[str, object] = {}
        if form["kind"] in ("set_power_limit", "set_phase_unbalance"):
            params["watts"] = form["watts"]
        try:
            answer = engineering_token(
                service_context(), meter_number=form["meter_number"], kind=form["kind"],
                request_id=request.form.get("request_id", ""), actor=operator().actor,
                params=params)
        except VendingError as exc:
            flash(describe(exc), "error")
        else:
            assert answer.vend_id is not None
            return redirect(url_for("pos.vend_result", vend_id=answer.vend_id))
    return render_template("pos/engineering.html", kinds=kinds, form=form,
                           request_id=uuid.uuid4().hex)


# ----------------------------------------------------------------- shifts


@bp.get("/shift")
@login_required()
def shift() -> ResponseReturnValue:
    ctx = service_context()
    current = shifts.current_shift(ctx, operator().id)
    report = shifts.cash_up(ctx, current.id) if current else None
    return render_template("pos/shift.html", shift=current, report=report,
                           payment_types=shifts.PAYMENT_TYPES)


@bp.post("/shift/open")
@login_required()
def open_shift() -> ResponseReturnValue:
    op = operator()
    try:
        shifts.open_shift(service_context(), op.id, request.form.get("opening_float", ""),
                          actor=op.actor)
    except VendingError as exc:
        flash(describe(exc), "error")
        return redirect(url_for("pos.shift"))
    flash(_("Shift opened."), "ok")
    return redirect(url_for("pos.sell"))


@bp.post("/shift/close")
@login_required()
def close_shift() -> ResponseReturnValue:
    op = operator()
    ctx = service_context()
    current = shifts.current_shift(ctx, op.id)
    if current is None:
        return redirect(url_for("pos.shift"))
    counted = {p: request.form.get(f"counted_{p}", "") for p in shifts.PAYMENT_TYPES}
    try:
        shifts.close_shift(ctx, current.id, counted, actor=op.actor)
    except VendingError as exc:
        flash(describe(exc), "error")
        return redirect(url_for("pos.shift"))
    return redirect(url_for("pos.cashup", shift_id=current.id))


def _own_or_supervisor(shift_id: int) -> shifts.CashUp:
    report = shifts.cash_up(service_context(), shift_id)
    op = operator()
    if report.shift.user_id != op.id and not op.at_least(Role.SUPERVISOR):
        abort(403)
    return report


@bp.get("/shifts/<int:shift_id>/cashup")
@login_required()
def cashup(shift_id: int) -> ResponseReturnValue:
    return render_template("pos/cashup.html", report=_own_or_supervisor(shift_id),
                           payment_types=shifts.PAYMENT_TYPES)


@bp.get("/shifts/<int:shift_id>/cashup.csv")
@login_required()
def cashup_csv(shift_id: int) -> ResponseReturnValue:
    report = _own_or_supervisor(shift_id)
    return Response(report.csv_text(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cashup-shift-{shift_id}.csv"'})


@bp.get("/shifts")
@login_required(Role.SUPERVISOR)
def shift_list() -> ResponseReturnValue:
    return render_template("pos/shifts.html", shifts=shifts.recent_shifts(service_context()))
