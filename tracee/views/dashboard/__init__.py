"""The dashboard: logging in and the pages of a tenant, server-rendered.

Everything here is reached through routes whose factory is
:class:`~tracee.views.dashboard.resources.DashboardRoot`, the only code that
reads the session cookie.
"""

from tracee.accounts.throttle import LoginThrottle


def includeme(config):
    config.include("tracee.accounts.sessions")
    config.include("tracee.accounts.security")
    settings = config.get_settings()
    config.registry["login_throttle"] = LoginThrottle(
        config.registry["ratelimiter"], settings.get("tracee.ratelimit.login", "10/5 minutes")
    )
    factory = "tracee.views.dashboard.resources.DashboardRoot"
    config.add_route("login", "/login", factory=factory)
    config.add_route("logout", "/logout", factory=factory)
    config.add_route("dashboard_bare", "/dashboard")
    config.add_route("dashboard", "/dashboard/*traverse", factory=factory)
