"""Who the client is, when our own proxies stand between it and us.

``X-Forwarded-For`` is a list anyone can start: each proxy appends the
address it received the request from. Only entries appended by proxies we
run can be believed, so the header is read only when the request comes from
an address listed in ``tracee.proxy.trusted``, and then from the right,
past every trusted proxy, to the first address that is not ours: the client
as our outermost proxy saw it. Entries left of that are the client's own
claims.
"""

import ipaddress
from functools import lru_cache

UNIX_SOCKET = "unix"  # the setting's word for a peer on a Unix socket (no address)


class TrustedProxies:
    """The addresses and networks in ``tracee.proxy.trusted``, e.g. ``127.0.0.1 10.0.0.0/8``."""

    def __init__(self, spec: str):
        self.networks = []
        self.unix_socket = False
        for word in spec.split():
            if word == UNIX_SOCKET:
                self.unix_socket = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                raise ValueError(
                    f"tracee.proxy.trusted: {word!r} is not an IP address, a network "
                    f"such as 10.0.0.0/8, or {UNIX_SOCKET!r}"
                ) from None
        # The same few proxy and client addresses recur: parse each once per worker.
        self.trusts = lru_cache(maxsize=4096)(self._trusts)

    def __bool__(self) -> bool:
        return bool(self.networks) or self.unix_socket

    def _trusts(self, address: str) -> bool:
        if not address:
            return self.unix_socket  # gunicorn's REMOTE_ADDR on a Unix socket
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        if parsed.version == 6 and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        return any(parsed in network for network in self.networks)

    def client_address(self, environ) -> str:
        """The client's address: REMOTE_ADDR, unless that is one of our proxies."""
        remote = environ.get("REMOTE_ADDR") or ""
        if not self or not self.trusts(remote):
            return remote or "unknown"
        forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        for address in reversed(forwarded):
            if not self.trusts(address):
                return address
        # Every hop is ours (a request from inside): the first one is the client.
        return forwarded[0] if forwarded else remote or "unknown"
