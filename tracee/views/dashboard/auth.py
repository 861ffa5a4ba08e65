"""Logging in and out, and what an anonymous or unauthorised visitor sees."""

from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPFound
from pyramid.view import forbidden_view_config, notfound_view_config, view_config

from tracee.accounts import two_factor
from tracee.accounts.models import User
from tracee.accounts.service import authenticate
from tracee.accounts.sessions import end_session, start_session
from tracee.accounts.tokens import SECOND_STEP, issue_token, use_token, valid_token

LOGIN_FAILED = "Email or password is incorrect."
WRONG_CODE = "This code is not right. Use the current code of your app, or a recovery code."
SECOND_STEP_PAGE = "tracee:templates/dashboard/second_step.jinja2"
# With two-factor, the half-done login (password right, code to come) is a
# single-use token (five minutes) in an HttpOnly cookie of its own: no session
# exists until the code is right, and the code form works only in the browser
# that gave the password. Wrong codes count in the login throttle too.
SECOND_STEP_COOKIE = "tracee_second_step"


def safe_next(value: str | None) -> str:
    """Where to go after logging in: only a dashboard (or invitation) path on this site."""
    if (value and value.startswith(("/dashboard", "/invitations/"))
            and "//" not in value and "\\" not in value):
        return value
    return "/dashboard/"


@view_config(route_name="login", request_method="GET",
             renderer="tracee:templates/dashboard/login.jinja2")
def login_form(request):
    if request.login is not None:
        return HTTPFound(safe_next(request.GET.get("next")))
    return {"email": "", "errors": {}, "next": safe_next(request.GET.get("next"))}


def too_many(request, seconds: int):
    """The 429 page, with when to try again."""
    request.override_renderer = "tracee:templates/dashboard/too_many.jinja2"
    minutes = max(1, -(-seconds // 60))
    request.response.status = 429
    request.response.headers["Retry-After"] = str(seconds)
    return {"minutes": minutes}


@view_config(route_name="login", request_method="POST", require_csrf=True,
             renderer="tracee:templates/dashboard/login.jinja2")
def login_submit(request):
    email = request.POST.get("email", "").strip()[:320]
    password = request.POST.get("password", "")
    next_path = safe_next(request.POST.get("next"))
    errors = {}
    if not email:
        errors["email"] = "Enter your email."
    if not password:
        errors["password"] = "Enter your password."
    if not errors:
        throttle = request.registry["login_throttle"]
        address = request.client_address
        wait = throttle.retry_after(email, address)
        if wait:
            return too_many(request, wait)
        user = authenticate(request.db, email, password)
        if user is not None and two_factor.enabled(user):
            return second_step(request, user, next_path)
        if user is not None:
            response = HTTPFound(next_path)
            start_session(request, response, user)
            return response
        throttle.failed(email, address)
        errors["form"] = LOGIN_FAILED
    request.response.status = 400
    return {"email": email, "errors": errors, "next": next_path}


def second_step(request, user, next_path: str):
    """Password right, two-factor on: ask for the code before any session."""
    token = issue_token(request.db, user, SECOND_STEP)
    response = HTTPFound("/login/two-factor?" + urlencode({"next": next_path}))
    response.set_cookie(SECOND_STEP_COOKIE, token, path="/login", httponly=True,
                        samesite="Lax", secure=request.scheme == "https", max_age=300)
    return response


def _pending_login(request):
    return valid_token(request.db, request.cookies.get(SECOND_STEP_COOKIE, ""), SECOND_STEP)


@view_config(route_name="login_two_factor", request_method="GET", renderer=SECOND_STEP_PAGE)
def code_form(request):
    if _pending_login(request) is None:
        return HTTPFound("/login")
    return {"errors": {}, "next": safe_next(request.GET.get("next"))}


@view_config(route_name="login_two_factor", request_method="POST", require_csrf=True,
             renderer=SECOND_STEP_PAGE)
def code_submit(request):
    row = _pending_login(request)
    if row is None:
        return HTTPFound("/login")
    next_path = safe_next(request.POST.get("next"))
    user = request.db.get(User, row.user_id)
    throttle, address = request.registry["login_throttle"], request.client_address
    wait = throttle.retry_after(user.email, address)
    if wait:
        return too_many(request, wait)
    code = request.POST.get("code", "")[:40]
    if not two_factor.verify(request.db, user, code, two_factor.secret_box(request)):
        throttle.failed(user.email, address)
        request.response.status = 400
        return {"errors": {"code": WRONG_CODE if code else "Enter the code."},
                "next": next_path}
    if use_token(request.db, request.cookies[SECOND_STEP_COOKIE], SECOND_STEP) is None:
        return HTTPFound("/login")  # another request finished this login first
    response = HTTPFound(next_path)
    response.delete_cookie(SECOND_STEP_COOKIE, path="/login")
    start_session(request, response, user)
    return response


@view_config(route_name="logout", request_method="POST", require_csrf=True)
def logout(request):
    response = HTTPFound("/login")
    end_session(request, response)
    return response


def _refusal(request, status: int):
    """Anonymous visitors go to the login form, from any dashboard address: they
    learn nothing about which tenants or pages exist. Others get ``status``."""
    if request.login is None:
        return HTTPFound("/login?" + urlencode({"next": request.path_info}))
    request.response.status = status
    return {}


@forbidden_view_config(route_name="dashboard",
                       renderer="tracee:templates/dashboard/forbidden.jinja2")
@forbidden_view_config(route_name="account",
                       renderer="tracee:templates/dashboard/forbidden.jinja2")
def forbidden(request):
    return _refusal(request, 403)


@notfound_view_config(route_name="dashboard",
                      renderer="tracee:templates/dashboard/not_found.jinja2")
def not_found(request):
    return _refusal(request, 404)
