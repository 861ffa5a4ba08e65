"""A minimal Redis client for the one call every request makes: a script by its SHA.

redis-py spends 136-185 us of CPU on a call (connection pool checkout,
command packing, response callbacks); this spends ~40: one persistent
socket per process, the command written as bytes, the reply parsed by hand.
It speaks only what the limiter needs (``EVALSHA``, falling back to
``SCRIPT LOAD`` when Redis has lost the script) and is not a general client:
everything else keeps using redis-py.

A failure closes the socket and raises :class:`RedisUnavailable`; the next
call reconnects, unless connecting failed less than ``retry_after`` seconds
ago, so a Redis that is down costs a request nothing but a clock read.
"""

import hashlib
import os
import re
import socket
import ssl
import threading
import time
import weakref
from urllib.parse import unquote, urlsplit


class RedisUnavailable(Exception):
    """No answer from Redis (down, unreachable, timed out, or it replied an error)."""


class _NoScript(Exception):
    pass


def _command(*parts) -> bytes:
    """A RESP command of bytes, text and numbers (floats at full precision)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        # Converted here, not by a function per argument: five per request.
        if part.__class__ is not bytes:
            part = (repr(part) if isinstance(part, float) else str(part)).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class _Incomplete(Exception):
    pass


def _parse(buffer: bytes, at: int):
    """One RESP value from ``buffer`` at ``at``: (value, next position)."""
    end = buffer.find(b"\r\n", at)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[at:at + 1], buffer[at + 1:end]
    at = end + 2
    if kind == b":":
        return int(line), at
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, at
        if len(buffer) < at + length + 2:
            raise _Incomplete
        return buffer[at:at + length], at + length + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, at
        items = []
        for _ in range(count):
            item, at = _parse(buffer, at)
            items.append(item)
        return items, at
    if kind == b"+":
        return line, at
    if kind == b"-":
        if line.startswith(b"NOSCRIPT"):
            raise _NoScript
        raise RedisUnavailable(line.decode(errors="replace"))
    raise RedisUnavailable(f"unexpected reply {kind!r}")


def _parse_reply(buffer: bytes):
    """The whole reply in ``buffer``: :func:`_parse`, or for the usual reply (an
    array of integers and bulk strings, as the limiter's script returns) one
    split instead of a call per element."""
    if buffer[:1] == b"*" and buffer[-2:] == b"\r\n":
        lines = buffer.split(b"\r\n")
        count = int(lines[0][1:])
        items, at = [], 1
        last = len(lines) - 1  # the empty piece after the final CRLF
        for _ in range(count):
            if at >= last:
                break
            line = lines[at]
            kind = line[:1]
            if kind == b":":
                items.append(int(line[1:]))
                at += 1
            # A string holding CRLF was split: its first piece is shorter than its length.
            elif kind == b"$" and len(lines[at + 1]) == int(line[1:]):
                items.append(lines[at + 1])
                at += 2
            else:  # a null, a nested array, a split string, or the reply not all here
                break
        else:
            if at == last:  # every line read: the whole reply, nothing after
                return None if count < 0 else items
    value, _ = _parse(buffer, 0)
    return value


class Script:
    """A Lua script run over :class:`RespClient`: ``client.run(script, keys, args)``."""

    def __init__(self, source: str):
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest().encode()


class PreparedCall:
    """A script's EVALSHA with its keys and every argument but one encoded once,
    for a call made again and again with one value changing (a rate limit's
    window and the time): ``args`` holds None where that value goes.

    ``reply``, if given, is a pattern the script's usual reply matches whole:
    such a reply is answered with the pattern's groups, as bytes, from one
    match in C rather than a parse element by element (some 200 bytecodes).
    Any other (an error, a string holding a line break, a reply not all
    received yet) is parsed as :func:`_parse_reply` parses it."""

    def __init__(self, script: Script, keys: list, args: list, reply: re.Pattern | None = None):
        at = args.index(None)
        parts = [b"EVALSHA", script.sha, b"%d" % len(keys), *keys, *args]
        split = 3 + len(keys) + at
        # Each part encoded as _command does, less the count _command puts first.
        self.head = b"*%d\r\n" % len(parts) + _command(*parts[:split]).split(b"\r\n", 1)[1]
        self.tail = _command(*parts[split + 1:]).split(b"\r\n", 1)[1]
        self.script = script
        self.reply = reply

    def command(self, value) -> bytes:
        if value.__class__ is not bytes:
            value = (repr(value) if isinstance(value, float) else str(value)).encode()
        return b"%s$%d\r\n%s\r\n%s" % (self.head, len(value), value, self.tail)


class RespClient:
    def __init__(self, url: str, timeout: float = 1.0, retry_after: float = 1.0):
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"the rate limiter speaks to redis:// or rediss:// (TLS), "
                             f"not {parts.scheme}://")
        self.tls = ssl.create_default_context() if parts.scheme == "rediss" else None
        self.address = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.password = unquote(parts.password) if parts.password else None
        self.username = unquote(parts.username) if parts.username else None
        self.db = int((parts.path or "/0").lstrip("/") or 0)
        self.timeout = timeout
        self.retry_after = retry_after
        self._socket: socket.socket | None = None
        self._failed_at = -float("inf")
        self._lock = threading.Lock()  # one call at a time on the socket
        _forget_after_fork.add(self)

    def run(self, script: Script, keys: list, args: list):
        """The script's reply; :class:`RedisUnavailable` if Redis cannot give one.

        A connection that broke while idle (Redis restarted, a timeout on its
        side) is replaced once, at once; only a failed connect waits.
        """
        return self._send(script, _command(b"EVALSHA", script.sha, b"%d" % len(keys), *keys, *args))

    def run_prepared(self, call: PreparedCall, value):
        """``run`` of a :class:`PreparedCall` with ``value`` in its open place."""
        return self._send(call.script, call.command(value), call.reply)

    def _send(self, script: Script, command: bytes, reply: re.Pattern | None = None):
        with self._lock:
            for retry in (self._socket is not None, False):
                try:
                    try:
                        return self._call(command, reply)
                    except _NoScript:  # a restart or SCRIPT FLUSH: load it, run it again
                        self._call(_command(b"SCRIPT", b"LOAD", script.source))
                        return self._call(command, reply)
                except (OSError, ValueError, _NoScript, _Incomplete) as exc:
                    self._drop()
                    if not retry:
                        raise RedisUnavailable(str(exc) or type(exc).__name__) from None
                except RedisUnavailable:
                    self._drop()
                    raise
        raise AssertionError("unreachable")

    def _call(self, command: bytes, reply: re.Pattern | None = None):
        return self._exchange(self._socket or self._connect(), command, reply)

    @staticmethod
    def _exchange(sock: socket.socket, command: bytes, reply: re.Pattern | None = None):
        sock.sendall(command)
        buffer = sock.recv(65536)
        while True:
            if not buffer:
                raise ConnectionError("Redis closed the connection")
            if reply is not None and (found := reply.fullmatch(buffer)) is not None:
                return found.groups()
            try:
                return _parse_reply(buffer)
            except _Incomplete:
                more = sock.recv(65536)
                if not more:
                    raise ConnectionError("Redis closed the connection") from None
                buffer += more

    def _connect(self) -> socket.socket:
        if time.monotonic() - self._failed_at < self.retry_after:
            raise ConnectionError("Redis failed moments ago; not retried yet")
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.address[0])
            if self.password is not None:
                auth = [b"AUTH"] + ([self.username.encode()] if self.username else [])
                self._exchange(sock, _command(*auth, self.password.encode()))
            if self.db:
                self._exchange(sock, _command(b"SELECT", b"%d" % self.db))
        except Exception:
            if "sock" in locals():
                sock.close()
            self._failed_at = time.monotonic()
            raise
        self._socket = sock
        return sock

    def _drop(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
            self._socket = None


# A socket opened before gunicorn forks would be shared by every worker, their
# replies crossing; each child starts without one and connects on first use.
_forget_after_fork: "weakref.WeakSet[RespClient]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_forget_after_fork):
        client._socket = None
        client._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
