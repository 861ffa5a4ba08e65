"""Sign-up, email confirmation, and setting a new password from a mailed link."""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from tracee.accounts import mails
from tracee.accounts.passwords import PasswordRejected, check_new_password
from tracee.accounts.service import find_user, set_password
from tracee.accounts.sessions import start_session
from tracee.accounts.signup import OPEN, SignupInvalid, sign_up
from tracee.accounts.tokens import (
    CONFIRM_EMAIL,
    RESET_PASSWORD,
    issue_token,
    use_token,
    valid_token,
)
from tracee.db import utcnow
from tracee.mail import send_after_commit
from tracee.tenancy.service import TenantError

TEMPLATES = "tracee:templates/dashboard/"


def _throttled(request, email: str):
    """The 429 page's values if this address or account sent too many mails lately."""
    wait = request.registry["mail_throttle"].retry_after(email, request.client_address)
    if not wait:
        request.registry["mail_throttle"].failed(email, request.client_address)
        return None
    request.override_renderer = TEMPLATES + "too_many.jinja2"
    request.response.status = 429
    request.response.headers["Retry-After"] = str(wait)
    return {"minutes": max(1, -(-wait // 60))}


def _signup_open(request) -> None:
    if request.registry["signup"] != OPEN:
        # "invite": people join by invitation (later); "closed": only the operator adds them.
        raise HTTPNotFound()


@view_config(route_name="signup", request_method="GET", renderer=TEMPLATES + "signup.jinja2")
def signup_form(request):
    _signup_open(request)
    return {"values": {}, "errors": {}}


@view_config(route_name="signup", request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "signup.jinja2")
def signup_submit(request):
    _signup_open(request)
    post = request.POST
    values = {k: post.get(k, "")[:1000] for k in ("business_name", "email", "slug")}
    try:
        user, tenant = sign_up(request.db, values["business_name"], values["email"],
                               post.get("password", ""), values["slug"],
                               platform_hosts=request.registry["platform_hosts"])
    except SignupInvalid as exc:
        request.response.status = 400
        return {"values": values, "errors": exc.errors}
    except TenantError as exc:  # the address was taken a moment ago
        request.response.status = 400
        return {"values": values, "errors": {"slug": str(exc)}}
    throttled = _throttled(request, user.email)
    if throttled:
        return throttled
    token = issue_token(request.db, user, CONFIRM_EMAIL)
    link = f"{request.urls.base}/signup/confirm/{token}"
    send_after_commit(request, mails.confirmation(user.email, tenant.name, link))
    response = HTTPFound(f"/dashboard/{tenant.slug}/trackers/")
    start_session(request, response, user)
    return response


@view_config(route_name="confirm_email", request_method="GET",
             renderer=TEMPLATES + "confirm_email.jinja2")
def confirm_form(request):
    valid = valid_token(request.db, request.matchdict["token"], CONFIRM_EMAIL) is not None
    if not valid:
        request.response.status = 404
    return {"valid": valid, "confirmed": False}


@view_config(route_name="confirm_email", request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "confirm_email.jinja2")
def confirm(request):
    # A button, not the link itself: mail scanners that open links confirm nothing.
    user = use_token(request.db, request.matchdict["token"], CONFIRM_EMAIL)
    if user is None:
        request.response.status = 404
        return {"valid": False, "confirmed": False}
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    return {"valid": True, "confirmed": True}


@view_config(route_name="forgot_password", request_method="GET",
             renderer=TEMPLATES + "forgot_password.jinja2")
def forgot_form(request):
    return {"email": "", "errors": {}, "sent": False}


@view_config(route_name="forgot_password", request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "forgot_password.jinja2")
def forgot(request):
    email = request.POST.get("email", "").strip()[:320]
    if not email:
        request.response.status = 400
        return {"email": email, "errors": {"email": "Enter your email."}, "sent": False}
    throttled = _throttled(request, email)
    if throttled:
        return throttled
    user = find_user(request.db, email)
    if user is not None:
        token = issue_token(request.db, user, RESET_PASSWORD)
        link = f"{request.urls.base}/password/reset/{token}"
        send_after_commit(request, mails.password_reset(user.email, link))
    # The same answer whether or not the address has an account.
    return {"email": email, "errors": {}, "sent": True}


@view_config(route_name="reset_password", request_method="GET",
             renderer=TEMPLATES + "reset_password.jinja2")
def reset_form(request):
    if valid_token(request.db, request.matchdict["token"], RESET_PASSWORD) is None:
        request.response.status = 404
        return {"valid": False, "errors": {}}
    return {"valid": True, "errors": {}}


@view_config(route_name="reset_password", request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "reset_password.jinja2")
def reset(request):
    token = request.matchdict["token"]
    if valid_token(request.db, token, RESET_PASSWORD) is None:
        request.response.status = 404
        return {"valid": False, "errors": {}}
    password = request.POST.get("password", "")
    user = use_token(request.db, token, RESET_PASSWORD)
    try:
        check_new_password(password, user.email)
    except PasswordRejected as exc:
        request.response.status = 400  # rolls back the token's use with everything else
        return {"valid": True, "errors": {"password": str(exc)}}
    set_password(user, password)
    user.email_confirmed_at = user.email_confirmed_at or utcnow()  # the mail reached them
    # A reset ends every session of the user: whoever knew the old password is out.
    request.registry["sessions"].end_others(request.db, user.id)
    return HTTPFound("/login?reset=done")

