"""Account: the logged-in person's address, password and sessions."""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from tracee.accounts import mails, two_factor
from tracee.accounts.account import (
    AccountInvalid,
    apply_email_change,
    change_email_pending,
    change_password,
    request_email_change,
)
from tracee.accounts.sessions import COOKIE
from tracee.mail import send_after_commit
from tracee.views.dashboard.auth import too_many
from tracee.views.dashboard.resources import ENTER, AccountRoot

TEMPLATES = "tracee:templates/dashboard/"
ACCOUNT = TEMPLATES + "account.jinja2"


def account_values(request, errors=None, values=None, status=200):
    request.response.status = status
    user = request.login.user
    on = two_factor.enabled(user)
    return {"login": request.login, "errors": errors or {}, "values": values or {},
            "notice": request.GET.get("done"), "two_factor_on": on,
            "codes_left": two_factor.recovery_codes_left(request.db, user) if on else 0}


def guess_wait(request) -> int:
    """Seconds to wait if this account's password or codes were guessed wrong too
    often: the login throttle, so guesses here and at /login add up."""
    return request.registry["login_throttle"].retry_after(
        request.login.user.email, request.client_address)


def guessed_wrong(request) -> None:
    request.registry["login_throttle"].failed(request.login.user.email, request.client_address)


@view_config(route_name="account", context=AccountRoot, permission=ENTER,
             request_method="GET", renderer=ACCOUNT)
def account(request):
    return account_values(request)


@view_config(route_name="account", context=AccountRoot, name="email", permission=ENTER,
             request_method="POST", require_csrf=True, renderer=ACCOUNT)
def change_email(request):
    values = {"new_email": request.POST.get("new_email", "").strip()[:320]}
    wait = guess_wait(request)
    if wait:
        return too_many(request, wait)
    user = request.login.user
    try:
        token, new_email = request_email_change(
            request.db, user, values["new_email"], request.POST.get("email_password", ""),
            password_field="email_password", email_field="new_email")
    except AccountInvalid as exc:
        if "email_password" in exc.errors:
            guessed_wrong(request)
        return account_values(request, exc.errors, values, 400)
    mail_wait = request.registry["mail_throttle"].retry_after(new_email, request.client_address)
    if mail_wait:
        minutes = max(1, -(-mail_wait // 60))
        error = f"Too many mails were sent lately; try again in {minutes} minutes."
        return account_values(request, {"new_email": error}, values, 429)
    request.registry["mail_throttle"].failed(new_email, request.client_address)
    base = request.urls.base
    send_after_commit(request, mails.email_change(
        new_email, f"{base}/account/confirm-email/{token}"))
    send_after_commit(request, mails.email_change_notice(
        user.email, new_email, f"{base}/password/forgot"))
    return HTTPFound("/account/?done=email")


@view_config(route_name="account", context=AccountRoot, name="password", permission=ENTER,
             request_method="POST", require_csrf=True, renderer=ACCOUNT)
def set_password(request):
    wait = guess_wait(request)
    if wait:
        return too_many(request, wait)
    login = request.login
    try:
        change_password(login.user, request.POST.get("current_password", ""),
                        request.POST.get("new_password", ""))
    except AccountInvalid as exc:
        if "current_password" in exc.errors:
            guessed_wrong(request)
        return account_values(request, exc.errors, status=400)
    # Whoever knew the old password is out; this browser stays in.
    request.registry["sessions"].end_others(request.db, login.user.id, keep=login.session.key_hash)
    return HTTPFound("/account/?done=password")


@view_config(route_name="account", context=AccountRoot, name="sessions", permission=ENTER,
             request_method="POST", require_csrf=True)
def sign_out_everywhere(request):
    request.registry["sessions"].end_others(request.db, request.login.user.id)
    response = HTTPFound("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def _token(request) -> str:
    if len(request.subpath) != 1:
        raise HTTPNotFound()
    return request.subpath[0]


# The link from the new address needs no login: the mail is the proof. A page
# with a button, so mail scanners that open links change nothing.
@view_config(route_name="account", context=AccountRoot, name="confirm-email",
             request_method="GET", renderer=TEMPLATES + "confirm_email.jinja2")
def confirm_form(request):
    valid = change_email_pending(request.db, _token(request))
    if not valid:
        request.response.status = 404
    return {"valid": valid, "confirmed": False}


@view_config(route_name="account", context=AccountRoot, name="confirm-email",
             request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "confirm_email.jinja2")
def confirm(request):
    if apply_email_change(request.db, _token(request)) is None:
        request.response.status = 404
        return {"valid": False, "confirmed": False}
    return {"valid": True, "confirmed": True}
