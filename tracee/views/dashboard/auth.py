"""Logging in and out, and what an anonymous or unauthorised visitor sees."""

from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPFound
from pyramid.view import forbidden_view_config, notfound_view_config, view_config

from tracee.accounts.service import authenticate
from tracee.accounts.sessions import end_session, start_session

LOGIN_FAILED = "Email or password is incorrect."


def safe_next(value: str | None) -> str:
    """Where to go after logging in: only a dashboard path on this site."""
    if value and value.startswith("/dashboard") and "//" not in value and "\\" not in value:
        return value
    return "/dashboard/"


@view_config(route_name="login", request_method="GET",
             renderer="tracee:templates/dashboard/login.jinja2")
def login_form(request):
    if request.login is not None:
        return HTTPFound(safe_next(request.GET.get("next")))
    return {"email": "", "errors": {}, "next": safe_next(request.GET.get("next"))}


def _too_many(request, seconds: int):
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
            request.override_renderer = "tracee:templates/dashboard/too_many.jinja2"
            return _too_many(request, wait)
        user = authenticate(request.db, email, password)
        if user is not None:
            response = HTTPFound(next_path)
            start_session(request, response, user)
            return response
        throttle.failed(email, address)
        errors["form"] = LOGIN_FAILED
    request.response.status = 400
    return {"email": email, "errors": errors, "next": next_path}


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
def forbidden(request):
    return _refusal(request, 403)


@notfound_view_config(route_name="dashboard",
                      renderer="tracee:templates/dashboard/not_found.jinja2")
def not_found(request):
    return _refusal(request, 404)
