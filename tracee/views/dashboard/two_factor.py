"""Account -> Two-factor: enrol with a QR code and a code, recovery codes shown
once, and turning it off with the password and a code."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts import two_factor
from tracee.accounts.account import password_is
from tracee.views.dashboard.account import account_values, guess_wait, guessed_wrong
from tracee.views.dashboard.auth import too_many
from tracee.views.dashboard.resources import ENTER, AccountRoot

TEMPLATES = "tracee:templates/dashboard/"
ENROL = TEMPLATES + "two_factor.jinja2"


def _enrol_page(request, errors=None, status=200):
    user = request.login.user
    if two_factor.enabled(user):
        return HTTPFound("/account/")
    secret = two_factor.start_enrolment(user, two_factor.secret_box(request))
    request.response.status = status
    return {"login": request.login, "errors": errors or {}, "codes": None,
            "qr": two_factor.qr_data_uri(user.email, secret), "secret": secret,
            "required": request.GET.get("required") == "1"}


@view_config(route_name="account", context=AccountRoot, name="two-factor", permission=ENTER,
             request_method="GET", renderer=ENROL)
def enrol(request):
    return _enrol_page(request)


@view_config(route_name="account", context=AccountRoot, name="two-factor", permission=ENTER,
             request_method="POST", require_csrf=True, renderer=ENROL)
def confirm(request):
    wait = guess_wait(request)
    if wait:
        return too_many(request, wait)
    user = request.login.user
    if two_factor.enabled(user):
        return HTTPFound("/account/")
    codes = two_factor.confirm_enrolment(request.db, user, request.POST.get("code", "")[:40],
                                         two_factor.secret_box(request))
    if codes is None:
        guessed_wrong(request)
        return _enrol_page(request, {"code": "This code is not right. Enter the 6 digits your "
                                              "app shows now."}, 400)
    # Shown in this answer only (no-store): only their hashes are kept.
    return {"login": request.login, "codes": codes, "errors": {}}


@view_config(route_name="account", context=AccountRoot, name="two-factor-off",
             permission=ENTER, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "account.jinja2")
def turn_off(request):
    wait = guess_wait(request)
    if wait:
        return too_many(request, wait)
    user, errors = request.login.user, {}
    if not password_is(user, request.POST.get("off_password", "")):
        errors["off_password"] = "Your current password is not this."
    elif not two_factor.verify(request.db, user, request.POST.get("off_code", "")[:40],
                               two_factor.secret_box(request)):
        errors["off_code"] = "This code is not right."
    if errors:
        guessed_wrong(request)
        return account_values(request, errors, status=400)
    two_factor.disable(request.db, user)
    return HTTPFound("/account/?done=two-factor-off")
