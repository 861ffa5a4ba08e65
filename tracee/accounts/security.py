"""The dashboard's security policy and CSRF tokens.

The identity is the user of the session cookie, looked for only under the
dashboard's paths (``tracee.accounts.sessions.in_dashboard``); the API keeps
its own key authentication in its route factory and never asks this policy.
"""

import secrets

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.interfaces import ICSRFStoragePolicy
from zope.interface import implementer

from tracee.accounts.permissions import user_principal

ANONYMOUS_CSRF_COOKIE = "tracee_csrf"


class DashboardSecurityPolicy:
    def identity(self, request):
        return request.login

    def authenticated_userid(self, request):
        login = request.login
        return login.user.id if login else None

    def permits(self, request, context, permission):
        principals = [Everyone]
        login = request.login
        if login is not None:
            principals += [Authenticated, user_principal(login.user.id)]
        return ACLHelper().permits(context, principals, permission)

    def remember(self, request, userid, **kw):
        return []  # tracee.accounts.sessions.start_session sets the cookie

    def forget(self, request, **kw):
        return []


@implementer(ICSRFStoragePolicy)
class SessionCSRFPolicy:
    """Logged in: the token kept with the server-side session. Before that
    (the login and sign-up forms): a random token in its own cookie, which the
    form must repeat."""

    def _anonymous(self, request) -> str:
        token = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
        if token and 20 <= len(token) <= 64:
            return token
        token = request.__dict__.get("_new_csrf_token")
        if token is None:
            token = request.__dict__["_new_csrf_token"] = secrets.token_urlsafe(32)

            def set_cookie(request, response):
                response.set_cookie(
                    ANONYMOUS_CSRF_COOKIE, token, path="/", httponly=True, samesite="Lax",
                    secure=request.scheme == "https",
                )

            request.add_response_callback(set_cookie)
        return token

    def get_csrf_token(self, request) -> str:
        login = request.login
        return login.session.csrf_token if login else self._anonymous(request)

    new_csrf_token = get_csrf_token

    def check_csrf_token(self, request, supplied_token) -> bool:
        login = request.login
        expected = login.session.csrf_token if login else request.cookies.get(
            ANONYMOUS_CSRF_COOKIE, "")
        return bool(expected) and secrets.compare_digest(
            expected.encode(), (supplied_token or "").encode())


def includeme(config):
    config.set_security_policy(DashboardSecurityPolicy())
    config.set_csrf_storage_policy(SessionCSRFPolicy())
    config.add_request_method(
        lambda request: SessionCSRFPolicy().get_csrf_token(request), "csrf_token", reify=True
    )
