"""The SSRF guard: webhooks go to public addresses only.

Checked twice: when an endpoint is saved (every address its host resolves
to must be public) and when a delivery connects. At connect time
requests-hardened resolves the host once and pins the connection to that
address (the Host header and TLS name stay the URL's), so a host that
resolves to a public address when checked and to 127.0.0.1 a moment later
(DNS rebinding) reaches nothing; we apply our own, stricter address rule
to the very address it pinned. Redirects are never followed.
"""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolveTimeout
from urllib.parse import urlsplit

import requests
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from tracee.webhooks.config import WebhookSettings

# Beyond what ipaddress calls non-global: ranges that carry or translate to
# IPv4 addresses (so could reach a private one) and other special ranges.
REFUSED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "100.64.0.0/10",  # CGNAT (shared address space)
    "192.0.0.0/24",  # IETF protocol assignments
    "192.88.99.0/24",  # 6to4 relay anycast
    "::/96",  # IPv4-compatible (deprecated)
    "64:ff9b::/96",  # NAT64
    "64:ff9b:1::/48",  # local-use NAT64
    "2002::/16",  # 6to4
    "2001::/32",  # Teredo
    "fec0::/10",  # site-local (deprecated)
))


class TargetRefused(requests.RequestException):
    """A webhook target that is not a public http(s) address."""


# getaddrinfo takes no timeout, so it runs here and the request stops waiting
# after tracee.webhooks.resolve_timeout; a lookup that hangs holds one of these
# threads, never a request.
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


def resolve(host: str, port: int, timeout: float) -> list:
    """getaddrinfo's answer for ``host``; TargetRefused when there is none in time."""
    lookup = _lookups.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout=timeout)
    except ResolveTimeout:
        raise TargetRefused(f"host {host} did not resolve within {timeout:g} s") from None
    except (OSError, UnicodeError):
        raise TargetRefused(f"host {host} does not resolve") from None


def refusal(address: str) -> str | None:
    """Why a connection to ``address`` is refused, or None when it is public."""
    ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is a {kind.replace('_', '-')} address"
    if any(ip in network for network in REFUSED_NETWORKS) or not ip.is_global:
        return f"{ip} is not a public address"
    return None


def check_url(url: str, settings: WebhookSettings) -> None:
    """Refuse (TargetRefused) a URL the worker must not be sent to."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise TargetRefused(f"is not a URL: {exc}") from None
    allowed = ("https", "http") if settings.allow_http else ("https",)
    if parts.scheme not in allowed:
        raise TargetRefused(f"must be an {' or '.join(allowed)} URL")
    if not parts.hostname:
        raise TargetRefused("must name a host")
    if parts.username or parts.password:
        raise TargetRefused("must not carry a user name or password")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    elif port == 0:  # urlsplit takes it; no connection can be made to it
        raise TargetRefused("has an invalid port")
    if settings.allow_private_targets:
        return
    for *_, address in resolve(parts.hostname, port, settings.resolve_timeout):
        reason = refusal(address[0])
        if reason:
            raise TargetRefused(f"host {parts.hostname} resolves to a refused address: {reason}")


class _PublicOnlyAdapter(IPFilterAdapter):
    """requests-hardened's resolve-then-pin, with our address rule on the pinned address."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        try:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert)
        except InvalidIPAddress as exc:  # its own, laxer rule refused it first
            raise TargetRefused(refusal(str(exc)) or f"{exc} is not a public address") from None
        reason = refusal(host_params["host"])
        if reason:
            raise TargetRefused(reason)
        return host_params, pool_kwargs


def delivery_session(settings: WebhookSettings) -> requests.Session:
    """A session that follows no redirect and, unless private targets are
    allowed (development), connects only to the public address it checked."""
    config = Config(
        ip_filter_enable=not settings.allow_private_targets,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=(settings.timeout, settings.timeout),
    )
    session = HTTPSession(config)
    session.trust_env = False  # no proxy from the environment: it would connect for us
    if config.ip_filter_enable:
        for scheme in ("http://", "https://"):
            session.mount(scheme, _PublicOnlyAdapter(is_https_proto=scheme == "https://"))
    return session
