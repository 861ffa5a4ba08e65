"""The dashboard: logging in and the pages of a tenant, server-rendered.

Everything here is reached through routes whose factory is
:class:`~tracee.views.dashboard.resources.DashboardRoot`, the only code that
reads the session cookie.
"""

from tracee.accounts.signup import CLOSED, INVITE, OPEN
from tracee.accounts.throttle import Throttle


def includeme(config):
    config.include("tracee.mail")
    config.include("tracee.accounts.sessions")
    config.include("tracee.accounts.security")
    settings = config.get_settings()
    limiter = config.registry["ratelimiter"]
    config.registry["login_throttle"] = Throttle(
        limiter, settings.get("tracee.ratelimit.login", "10/5 minutes"), "login")
    # Each of these sends a mail: a cap keeps the app from being used to flood an inbox.
    config.registry["mail_throttle"] = Throttle(
        limiter, settings.get("tracee.ratelimit.mail", "5/hour"), "mail")
    signup = settings.get("tracee.signup", CLOSED)
    if signup not in (OPEN, INVITE, CLOSED):
        raise ValueError(f"tracee.signup must be open, invite or closed, not {signup!r}")
    config.registry["signup"] = signup
    factory = "tracee.views.dashboard.resources.DashboardRoot"
    config.add_route("login", "/login", factory=factory)
    config.add_route("logout", "/logout", factory=factory)
    config.add_route("signup", "/signup", factory=factory)
    config.add_route("confirm_email", "/signup/confirm/{token}", factory=factory)
    config.add_route("forgot_password", "/password/forgot", factory=factory)
    config.add_route("reset_password", "/password/reset/{token}", factory=factory)
    config.add_route("dashboard_bare", "/dashboard")
    config.add_route("dashboard", "/dashboard/*traverse", factory=factory)
