"""The floor: the benchmark's requests answered by a bare WSGI app (no framework, no ORM).

It runs on the same gunicorn with the same settings and the same database
role as the app, and for each endpoint issues the SQL statements the app
issues per request (listed in docs/performance.md), written straight against
psycopg, then builds a response of the same shape and size. Whatever the app
spends beyond this is framework, ORM, templates and our own code.

The QR route serves a fixed PNG (``BENCH_QR_PNG``, the bytes the app renders
for the repeated tracker) as raw bytes: the floor of a cached image.

Rate limits: ``app`` pays the Redis round trip a rate limit needs wherever
the app must pay it (API requests per key, pages per client address): one
EVALSHA of the app's own script (tracee.ratelimit.ONE_CALL: counts the
window, returns the X-RateLimit figures and the cache epoch) over a bare
socket, and sends the same X-RateLimit headers. ``limiter_free_app`` is the
floor as it was before it did: no Redis call, no headers. The public QR
repeat and the idle poll are answered in front of the app's limiter, so
neither floor counts them.

Nothing here is production code; it is deliberately simple and unchecked.
"""

import base64
import hashlib
import hmac
import html
import json
import math
import os
import re
import secrets
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from tracee.cache_epoch import EPOCH_KEY as _EPOCH_KEY
from tracee.progress_front import _RAISE as RAISE
from tracee.ratelimit import ONE_CALL

DSN = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
PUBLIC = os.environ["TRACEE_PUBLIC_URL"].rstrip("/")
QR_FILE = Path(os.environ.get("BENCH_QR_PNG", "/nonexistent"))
QR_PNG = QR_FILE.read_bytes() if QR_FILE.is_file() else b""

# As production.ini has the app send (tracee.hsts_seconds, with an https public URL).
HSTS = ("Strict-Transport-Security", "max-age=31536000")
API_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    HSTS,
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
PAGE_CSP = (
    "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)

JOINED_SQL = (  # a tracker, its token and its steps in one query, as the app loads one
    "SELECT t.id, t.number, t.name, t.template_slug, t.created_at, t.updated_at, "
    "t.completed_at, t.event_seq, l.token, t.ready_by, t.step_due_at, s.position, s.name, "
    "s.visible, s.started_at, s.completed_at, s.expected_minutes FROM trackers t "
    "JOIN tracking_links l ON l.tenant_id = t.tenant_id AND l.tracker_id = t.id "
    "LEFT JOIN tracker_steps s ON s.tenant_id = t.tenant_id AND s.tracker_id = t.id "
    "WHERE t.tenant_id = %s AND t.id = %s ORDER BY s.position"
)
TRACKER_SQL = (
    "SELECT t.id, t.number, t.name, t.template_slug, t.created_at, t.updated_at, "
    "t.completed_at, t.event_seq, l.token FROM trackers t "
    "JOIN tracking_links l ON l.tenant_id = t.tenant_id AND l.tracker_id = t.id "
    "WHERE t.tenant_id = %s AND t.id = %s"
)
STEPS_SQL = (
    "SELECT position, name, visible, started_at, completed_at FROM tracker_steps "
    "WHERE tenant_id = %s AND tracker_id = %s ORDER BY position"
)
TEMPLATE_STEPS = [  # the built-in 3d-printing workflow, as the benchmark creates it
    ("Preparing/Slicing", True), ("3D Printing", True), ("Post-Processing", True),
    ("Quality Check", False), ("Packaging", True), ("Ready for Shipping", True),
]

# How long the app remembers a key (tracee.api.key_cache_seconds; bench/run.py
# passes the app's value). 0: looked up on every request, as the app does then.
KEY_CACHE_SECONDS = float(os.environ.get("BENCH_KEY_CACHE_SECONDS", "0"))
LAST_USED_SECONDS = 60

SCRIPT, SCRIPT_SHA, EPOCH_KEY = ONE_CALL.source, ONE_CALL.sha, _EPOCH_KEY.encode()

_connection = None
_keys = {}  # key hash -> (expires, [id, tenant_id, rate_limit, last_used_at])


def connection():
    """One connection per worker process, opened after the fork."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(DSN, autocommit=True)
    return _connection


def iso(value):
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def status_of(step):
    return "completed" if step[4] else "in_progress" if step[3] else "pending"


_redis_socket = None
_epoch = [None]  # the cache epoch the remembered keys were read under


def rate_limit(identity: str, amount: int):
    """The app's one limiter call: ``[allowed, count, oldest, epoch]`` from one EVALSHA
    over a socket kept per worker (opened after the fork)."""
    global _redis_socket
    if _redis_socket is None:
        url = urlsplit(os.environ["REDIS_URL"])
        _redis_socket = socket.create_connection((url.hostname, url.port or 6379))
        _redis_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        db = (url.path or "/0").strip("/") or "0"
        _redis_socket.sendall(resp(b"SELECT", db.encode()) + resp(b"SCRIPT", b"LOAD", SCRIPT)
                              + resp(b"SCRIPT", b"LOAD", RAISE.source))
        answer = b""
        while answer.count(b"\r\n") < 5:  # +OK, then $40 and the SHA, twice
            answer += _redis_socket.recv(4096)
    key = f"LIMITS:LIMITER/{identity}/{amount}/1/minute".encode()
    _redis_socket.sendall(resp(b"EVALSHA", SCRIPT_SHA, b"2", key, EPOCH_KEY,
                               repr(time.time()).encode(), str(amount).encode(), b"60"))
    reply = _redis_socket.recv(4096).split(b"\r\n")
    # *4, :allowed, :count, $n, oldest, $n, epoch
    return int(reply[1][1:]), int(reply[2][1:]), float(reply[4]), int(reply[6])


def raise_version(token, seq: int) -> None:
    """After a status change commits, the app raises the tracker's shared version
    (tracee.progress_front) over the limiter's socket: one EVALSHA, here the same."""
    _redis_socket.sendall(resp(b"EVALSHA", RAISE.sha, b"1", f"tracee:progress:{token}".encode(),
                               str(seq).encode(), b"3600"))
    _redis_socket.recv(4096)  # $-1: the script returns nothing


def resp(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def rate_limit_headers(amount: int, count: int, oldest: float) -> list:
    return [("X-RateLimit-Limit", str(amount)), ("X-RateLimit-Remaining", str(amount - count)),
            ("X-RateLimit-Reset", str(math.ceil(oldest + 60)))]


def cached_key(environ):
    """Key hash and the remembered key (KEY_CACHE_SECONDS, as the app), if any."""
    digest = hashlib.sha256(environ.get("HTTP_X_API_KEY", "").encode()).hexdigest()
    expires, key = _keys.get(digest, (0, None))
    if key is not None and expires <= time.monotonic():
        key = None
    return digest, key


def lookup_key(cur, digest):
    """The lookup sets the RLS tenant as it reads the row, as the app's does."""
    cur.execute(
        "SELECT id, tenant_id, rate_limit, last_used_at, "
        "set_config('app.tenant_id', CAST(tenant_id AS TEXT), true) FROM api_keys "
        "WHERE key_hash = %s AND revoked_at IS NULL",
        (digest,),
    )
    key = list(cur.fetchone())[:4]
    if KEY_CACHE_SECONDS > 0:
        _keys[digest] = (time.monotonic() + KEY_CACHE_SECONDS, key)
    return key


def limit_key(environ, key, limited: bool) -> list:
    """Count the request against the key (the app's one call), as the app; the headers."""
    if not limited:
        return []
    amount = int((key[2] or "100/minute").split("/")[0])
    _, count, oldest, epoch = rate_limit(f"key/{key[0]}", amount)
    if epoch != _epoch[0]:  # never moves during a run; the app compares it too
        _epoch[0] = epoch
    return rate_limit_headers(amount, count, oldest)


def authenticate(cur, environ, limited=True):
    """Key -> tenant, remembered like the app; a remembered key needs a set_config
    of its own for the RLS tenant. Then the rate limit, and last_used_at once a minute."""
    digest, key = cached_key(environ)
    if key is None:
        key = lookup_key(cur, digest)
        headers = limit_key(environ, key, limited)
    else:
        headers = limit_key(environ, key, limited)
        cur.execute("SELECT set_config('app.tenant_id', %s, true)", (str(key[1]),))
    wall = datetime.now(UTC)
    if key[3] is None or (wall - key[3]).total_seconds() >= LAST_USED_SECONDS:
        cur.execute("UPDATE api_keys SET last_used_at = %s WHERE id = %s", (wall, key[0]))
        key[3] = wall
    return key, headers


def load_tracker(cur, tenant_id, tracker_id):
    """(tracker, steps, timing): timing is what the estimate needs (``estimate``)."""
    cur.execute(JOINED_SQL, (tenant_id, tracker_id))
    rows = cur.fetchall()
    steps = [r[11:16] for r in rows if r[11] is not None]
    timing = (rows[0][9], rows[0][10], [r[16] for r in rows if r[11] is not None])
    return rows[0][:9], steps, timing


NO_TIMING = (None, None, None)  # no date set, no step due, no durations: no estimate


def estimate(completed, steps, timing, now):
    """(ready_at, source, late) as the app shows them (tracee.tracking.estimates), plainly."""
    ready_by, due, expected = timing
    if completed is not None or expected is None:
        return None, None, False
    active = next((i for i, s in enumerate(steps) if s[4] is None), None)
    if ready_by is not None:
        return (None, "set", True) if ready_by < now else (ready_by, "set", False)
    if active is None:
        return None, None, False
    if due is not None and due < now:
        return None, "expected", True
    after = expected[active + 1:]
    if due is None or None in after:
        return None, None, False
    return due + timedelta(minutes=sum(after)), "expected", False


def tracker_json(row, steps, timing=NO_TIMING):
    tracker_id, number, name, template, created, updated, completed, _seq, token = row
    started = [s for s in steps if s[3] is not None]
    ready_at, source, late = estimate(completed, steps, timing, datetime.now(UTC))
    minutes = timing[2] or [None] * len(steps)
    return {
        "id": tracker_id,
        "number": number,
        "name": name,
        "template": template,
        "tracking_token": str(token),
        "tracking_url": f"{PUBLIC}/track/{token}",
        "api_url": f"{PUBLIC}/api/v1/trackers/{tracker_id}/",
        "embed_code": f'<iframe src="{PUBLIC}/embed/{token}/" width="100%" height="400" '
        'frameborder="0" title="Order tracking" loading="lazy" '
        'style="border:0;border-radius:12px;box-shadow:0 2px 8px rgba(0,0,0,0.1);"></iframe>',
        "qr_code_url": f"{PUBLIC}/api/v1/trackers/{tracker_id}/qr/",
        "current_process": started[-1][1] if started else None,
        "is_completed": completed is not None,
        "estimated_ready_at": iso(ready_at),
        "estimate_source": source,
        "is_late": late,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "history": [
            {"process": s[1], "status": status_of(s), "started_at": iso(s[3]),
             "completed_at": iso(s[4])}
            for s in started
        ],
        "steps": [
            {"name": s[1], "order": s[0], "visible": s[2], "status": status_of(s),
             "started_at": iso(s[3]), "completed_at": iso(s[4]),
             **({} if m is None else {"expected_minutes": m})}
            for s, m in zip(steps, minutes, strict=True)
        ],
    }


def get_tracker(environ, tracker_id, limited):
    with connection().transaction(), connection().cursor() as cur:
        key, headers = authenticate(cur, environ, limited)
        row, steps, timing = load_tracker(cur, key[1], tracker_id)
    return "200 OK", tracker_json(row, steps, timing), headers


def create_tracker(environ, limited):
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    now = datetime.now(UTC)
    conn = connection()
    with conn.transaction(), conn.cursor() as cur:
        key, headers = authenticate(cur, environ, limited)
        tenant_id = key[1]
        # The app sends a write's statements in two pipelines (tracee.statements):
        # the id and the number first, then the rows.
        with conn.pipeline():
            taken = conn.execute(
                "UPDATE tenants SET tracker_seq = tracker_seq + 1 WHERE id = %s "
                "RETURNING tracker_seq", (tenant_id,))
            highest = conn.execute("SELECT max(number) FROM trackers WHERE tenant_id = %s",
                                   (tenant_id,))
        tracker_id = taken.fetchone()[0]
        number = (highest.fetchone()[0] or 0) + 1
        steps = [(i, name, visible, None, None) for i, (name, visible) in
                 enumerate(TEMPLATE_STEPS, 1)]
        token = uuid.uuid4()
        with conn.pipeline():
            cur.execute(
                "INSERT INTO trackers (tenant_id, id, number, name, template_slug, created_at, "
                "updated_at, completed_at, event_seq) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, 1)",
                (tenant_id, tracker_id, number, body["name"], body["template"], now, now),
            )
            cur.executemany(
                "INSERT INTO tracker_steps (tenant_id, tracker_id, position, name, visible, "
                "started_at, completed_at) VALUES (%s, %s, %s, %s, %s, NULL, NULL)",
                [(tenant_id, tracker_id, s[0], s[1], s[2]) for s in steps],
            )
            cur.execute(
                "INSERT INTO tracking_links (token, tenant_id, tracker_id) VALUES (%s, %s, %s)",
                (token, tenant_id, tracker_id),
            )
            cur.execute(
                "INSERT INTO tracker_events (tenant_id, tracker_id, seq, type, process, actor, "
                "created_at) VALUES (%s, %s, 1, 'tracker.created', NULL, %s, %s)",
                (tenant_id, tracker_id, f"key:{key[0]}", now),
            )
    row = (tracker_id, number, body["name"], body["template"], now, now, None, 1, token)
    return "201 Created", tracker_json(row, steps), headers


def apply_action(steps, process, action, now):
    """The workflow rule (tracee.tracking.workflow.apply_action) on plain lists."""
    wanted = " ".join(process.split()).casefold()
    index = next(i for i, s in enumerate(steps) if " ".join(s[1].split()).casefold() == wanted)
    changes, changed = [], set()
    for i in range(index):
        if steps[i][4] is None:
            steps[i] = (*steps[i][:3], steps[i][3] or now, now)
            changes.append(("step.completed", steps[i][1]))
            changed.add(i)
    step = steps[index]
    later = [i for i in range(index + 1, len(steps)) if steps[i][3] is not None]
    if action == "start":
        if step[3] is None or later:
            if step[4] is not None:
                changes.append(("step.reopened", step[1]))
            started = step[3]
            if step[3] is None or step[4] is not None:
                started = now
                changes.append(("step.started", step[1]))
            steps[index] = (*step[:3], started, None)
            changed.add(index)
            for i in later:
                steps[i] = (*steps[i][:3], None, None)
                changes.append(("step.reset", steps[i][1]))
                changed.add(i)
    elif step[4] is None:
        steps[index] = (*step[:3], step[3] or now, now)
        changes.append(("step.completed", step[1]))
        changed.add(index)
    return changes, sorted(changed)


def update_status(environ, tracker_id, limited):
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    now = datetime.now(UTC)
    conn = connection()
    with conn.transaction(), conn.cursor() as cur:
        key, headers = authenticate(cur, environ, limited)
        tenant_id = key[1]
        with conn.pipeline():  # the lock and the steps in one round trip, as the app
            locked = conn.execute(TRACKER_SQL + " FOR UPDATE OF t", (tenant_id, tracker_id))
            read = conn.execute(STEPS_SQL, (tenant_id, tracker_id))
        row, steps = locked.fetchone(), read.fetchall()
        changes, changed = apply_action(steps, body["process"], body["action"], now)
        if changes:
            completed = steps[-1][4]
            if completed is not None:
                changes.append(("tracker.completed", None))
            seq = row[7]
            events = []
            for event_type, process in changes:
                seq += 1
                events.append((tenant_id, tracker_id, seq, event_type, process, f"key:{key[0]}",
                               now))
            with conn.pipeline():  # the writes in another
                cur.executemany(
                    "UPDATE tracker_steps SET started_at = %s, completed_at = %s "
                    "WHERE tenant_id = %s AND tracker_id = %s AND position = %s",
                    [(steps[i][3], steps[i][4], tenant_id, tracker_id, steps[i][0])
                     for i in changed],
                )
                cur.execute(
                    "UPDATE trackers SET updated_at = %s, completed_at = %s, event_seq = %s "
                    "WHERE tenant_id = %s AND id = %s",
                    (now, completed, seq, tenant_id, tracker_id),
                )
                cur.executemany(
                    "INSERT INTO tracker_events (tenant_id, tracker_id, seq, type, process, "
                    "actor, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    events,
                )
            row = (*row[:4], row[4], now, completed, seq, row[8])
    if changes and limited:  # the live page's version, raised after the commit
        raise_version(row[8], row[7])
    return "200 OK", tracker_json(row, steps), headers


def load_public(token):
    """Token -> tenant chain (one query, which also sets the RLS tenant), then the
    tracker with its steps, as the app does."""
    with connection().transaction(), connection().cursor() as cur:
        cur.execute(
            "SELECT l.tenant_id, l.tracker_id, t.name, t.logo_url, t.brand_color, "
            "a.name, a.logo_url, a.brand_color, p.name, p.logo_url, p.brand_color, "
            "set_config('app.tenant_id', CAST(l.tenant_id AS TEXT), true) "
            "FROM tracking_links l JOIN tenants t ON t.id = l.tenant_id "
            "LEFT JOIN tenants a ON a.id = t.parent_id "
            "LEFT JOIN tenants p ON p.id = a.parent_id WHERE l.token = %s",
            (uuid.UUID(token),),
        )
        found = cur.fetchone()
        tenant_id, tracker_id = found[:2]
        chain = [found[i:i + 3] for i in (2, 5, 8) if found[i] is not None]
        row, steps, timing = load_tracker(cur, tenant_id, tracker_id)
    return row, steps, chain, timing


LABELS = {"pending": "Waiting", "in_progress": "In progress", "completed": "Done"}
# Signs the page's two forms, as tracee.form_tokens does (the app's key is another).
FORM_SECRET = b"floor form secret"
FONT = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif')
LIVE_CSP = "; script-src 'self'; connect-src 'self'"
ESTIMATE_TEXTS = (
    '   data-ready-text="Estimated ready:"\n'
    '   data-late-text="This is taking longer than expected. The estimate will be updated as '
    'your order moves."'
)
LATE_TEXT = "This is taking longer than expected. The estimate will be updated as your order moves."


def display_time(value):
    """As Babel's medium English format, with the zone (the app's format_datetime)."""
    hour = value.hour % 12 or 12
    return (f"{value:%b} {value.day}, {value.year}, {hour}:{value:%M}\u202f"
            f"{'AM' if value.hour < 12 else 'PM'} UTC")


def time_element(value, relative=False):
    return (f'<time datetime="{iso(value)}"{" data-relative" if relative else ""}>'
            f"{display_time(value)}</time>")


def form_token(purpose, token, issued):
    digest = hmac.digest(FORM_SECRET, f"{purpose}\n{token}\n{issued}".encode(), "sha256")
    return f"{issued}." + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def page_html(token, embed):
    """The page (or embed) the app renders for this token, byte for byte but
    for the nonce and the form tokens' keys."""
    row, steps, chain, timing = load_public(token)
    name = chain[0][0]
    logo = next((t[1] for t in chain if t[1]), None)
    color = next((t[2] for t in chain if t[2]), "#4f46e5")
    visible = [s for s in steps if s[2]]
    done = sum(1 for s in visible if s[4] is not None)
    current = next((s for s in reversed(visible) if status_of(s) == "in_progress"), None)
    completed = row[6] is not None
    headline = ("Complete" if completed else current[1] if current else
                f"{next(s for s in reversed(visible) if s[4])[1]} done" if done else
                "Order received")
    nonce = secrets.token_urlsafe(16)
    e = html.escape
    items = []
    for s in visible:
        status = status_of(s)
        when = ""
        if not embed and s[4]:
            when = f" · {time_element(s[4], relative=True)}"
        elif not embed and s[3]:
            when = f" · since {time_element(s[3])}"
        current_attr = ' aria-current="step"' if status == "in_progress" else ""
        items.append(
            f'  \n  <li class="step step-{status}"{current_attr}>\n    <span class="marker" '
            f'aria-hidden="true"></span>\n    <span class="step-body">\n      <span '
            f'class="step-name">{e(s[1])}</span>\n      \n      <span class="step-status">'
            f"{LABELS[status]}{when}</span>\n    </span>\n  </li>\n"
        )
    ready_at, _source, late = estimate(row[6], steps, timing, datetime.now(UTC))
    if late:
        estimate_p = (f'<p class="estimate estimate-late" data-estimate\n{ESTIMATE_TEXTS}>'
                      f"{LATE_TEXT}</p>")
    elif ready_at:
        estimate_p = (f'<p class="estimate" data-estimate\n{ESTIMATE_TEXTS}>Estimated ready: '
                      f"{time_element(ready_at)}</p>")
    else:
        estimate_p = f'<p class="estimate" data-estimate\n{ESTIMATE_TEXTS} hidden></p>'
    meter = (
        f'\n  <div class="meter">\n    <progress id="progress" max="{len(visible)}" '
        f'value="{done}">{done} of {len(visible)} steps done</progress>\n    <label '
        f'for="progress" class="meter-label">{done} of {len(visible)} steps done</label>\n'
        "  </div>\n  " if visible else "")
    progress = (
        '\n\n<section class="status" aria-labelledby="status-heading">\n'
        f'  <p class="status-label" id="status-heading">{"Status" if completed else "Current step"}'
        f'</p>\n  <p class="headline{" headline-done" if completed else ""}">{e(headline)}</p>\n'
        f"  {meter}\n</section>\n\n{estimate_p}\n"
        f'<ol class="steps{" steps-compact" if embed else ""}" aria-label="Steps">\n'
        f'{"".join(items)}  \n</ol>\n'
    )
    kind = "embed" if embed else "track"
    live = (f'data-progress="/{kind}/{token}/progress.json?lang=en" data-etag="p1-{row[7]}" '
            'data-text-live="This page updates itself." data-text-status="Status" '
            'data-text-current="Current step" data-text-since="since %(when)s"')
    tracking_url = f"{PUBLIC}/track/{token}"
    if embed:
        body = (
            f'<main class="card compact" {live}>\n  <p class="eyebrow">{e(name)} · Order '
            f"#{row[1]}</p>\n  <h1>{e(row[2])}</h1>\n  \n  {progress}"
            f'  <p class="card-foot"><a href="{tracking_url}" target="_blank" '
            'rel="noopener noreferrer">Open full tracking page<span class="visually-hidden"> '
            "(opens in a new tab)</span></a></p>\n</main>\n"
        )
    else:
        issued = int(time.time())
        brand = (f'<img class="logo" src="{e(logo)}" alt="{e(name)}">' if logo else
                 f'<span class="brand-name">{e(name)}</span>')
        body = (
            f'<header class="brand-bar">\n  {brand}\n  \n</header>\n<main class="card" id="main" '
            f'{live}>\n  <p class="eyebrow">Order #{row[1]}</p>\n  <h1>{e(row[2])}</h1>\n  '
            f'{progress}  <footer class="card-foot">\n    <p>Last update: '
            f'{time_element(row[5], relative=True)}. <span class="live-note">Reload this page to '
            'see new progress.</span></p>\n    <details class="qr">\n      <summary>Show QR code '
            f'for this page</summary>\n      <img src="{tracking_url}/qr.png?size=240" '
            'width="240" height="240" loading="lazy" alt="QR code linking to this tracking '
            'page">\n    </details>\n  </footer>\n</main>\n\n\n\n\n'
            '<section class="card subscribe" aria-labelledby="subscribe-title">\n'
            '  <h2 id="subscribe-title">Email me updates</h2>\n'
            '  <p class="subscribe-note">We will email you when your order moves on. You confirm '
            "your address first, and every email lets you stop with one click.</p>\n"
            f'  <form method="post" action="/track/{token}/subscribe" id="subscribe-form" '
            "novalidate>\n"
            f'    <input type="hidden" name="form_token" value="'
            f'{form_token("subscribe", token, issued)}">\n'
            '    <input type="hidden" name="lang" value="en">\n    <div class="hp">\n'
            '      <label for="subscribe-website">Leave this field empty</label>\n'
            '      <input type="text" id="subscribe-website" name="website" tabindex="-1" '
            'autocomplete="off">\n    </div>\n'
            '    <label for="subscribe-email">Your email address</label>\n'
            '    <div class="subscribe-row">\n'
            '      <input type="email" id="subscribe-email" name="email" maxlength="254" '
            'autocomplete="email" inputmode="email" required\n             value="">\n'
            '      <button type="submit">Email me updates</button>\n    </div>\n    \n'
            "  </form>\n</section>\n\n"
            '<section class="card conversation" id="conversation" aria-labelledby="ask-title">\n'
            '  \n  <h2 id="ask-title">Ask a question</h2>\n  \n  \n  \n'
            f'  <form method="post" action="/track/{token}/ask" class="ask-form" id="ask-form" '
            "novalidate>\n"
            '    <input type="hidden" name="form_token" value="'
            f'{form_token("ask", token, issued)}">\n'
            '    <input type="hidden" name="lang" value="en">\n    \n'
            '    <div class="hp" aria-hidden="true">\n'
            '      <label for="ask-website">Leave this field empty</label>\n'
            '      <input type="text" id="ask-website" name="website" value="" tabindex="-1" '
            'autocomplete="off">\n    </div>\n    \n    <div class="ask-field">\n'
            '      <label for="ask-name">Your name (optional)</label>\n'
            '      <input type="text" id="ask-name" name="name" value="" autocomplete="name" '
            'maxlength="100">\n      \n    </div>\n    <div class="ask-field">\n'
            '      <label for="ask-email">Your email (optional)</label>\n'
            '      <span class="ask-hint" id="ask-email-hint">Give it to get the answer by email '
            "too.</span>\n"
            '      <input type="email" id="ask-email" name="email" value="" autocomplete="email" '
            'maxlength="254" aria-describedby="ask-email-hint">\n      \n    </div>\n'
            '    <div class="ask-field">\n      <label for="ask-text">Your question</label>\n'
            '      <span class="ask-hint" id="ask-text-hint">Up to 2,000 characters.</span>\n'
            '      <textarea id="ask-text" name="text" rows="4" maxlength="2000" required '
            'aria-describedby="ask-text-hint"></textarea>\n      \n    </div>\n'
            '    <button type="submit">Send question</button>\n  </form>\n</section>\n\n\n\n'
            f'<p class="powered">Tracking by {e(name)}</p>\n'
        )
    document = (
        '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '  <meta name="robots" content="noindex, nofollow">\n'
        f"  <title>{e(row[2])} · {e(name)}</title>\n"
        '  <link rel="icon" href="data:,">\n  \n'
        '  <link rel="stylesheet" href="/static/tracee.css">\n'
        f'  <style nonce="{nonce}">:root {{ --brand: {color}; --brand-text: {color}; '
        f"--on-brand: #ffffff; --accent: {color}; --radius: 12px; --font: {FONT}; }}</style>\n"
        f'</head>\n<body class="{"embed" if embed else "page"}">\n\n{body}'
        '<script src="/static/live.js" defer></script>\n\n</body>\n</html>'
    )
    headers = [
        ("Cache-Control", "private, no-cache"),
        ("Vary", "Accept-Language"),
        ("Content-Type", "text/html; charset=UTF-8"),
        ("X-Content-Type-Options", "nosniff"),
        HSTS,
        ("Content-Security-Policy",
         PAGE_CSP.format(nonce=nonce, ancestors="*" if embed else "'none'") + LIVE_CSP),
    ]
    if not embed:
        headers.append(("X-Frame-Options", "DENY"))
    headers.append(("Referrer-Policy", "no-referrer"))
    return headers, document.encode()


ROUTES = [
    ("GET", re.compile(r"^/api/v1/trackers/(\d+)/?$"), "get"),
    ("POST", re.compile(r"^/api/v1/trackers/?$"), "create"),
    ("POST", re.compile(r"^/api/v1/trackers/(\d+)/status/?$"), "status"),
    ("GET", re.compile(r"^/api/v1/trackers/(\d+)/qr/?$"), "qr"),
    ("GET", re.compile(r"^/track/([0-9a-f-]{36})/qr\.png$"), "public_qr"),
    ("GET", re.compile(r"^/track/([0-9a-f-]{36})$"), "page"),
    ("GET", re.compile(r"^/embed/([0-9a-f-]{36})/$"), "embed"),
    ("GET", re.compile(r"^/track/([0-9a-f-]{36})/progress\.json$"), "progress"),
]


_redis = None


def redis_client():
    """One Redis connection per worker, opened after the fork."""
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _redis


PROGRESS_HEADERS = [
    ("Cache-Control", "private, no-cache"), ("Vary", "Accept-Language"),
    ("X-Content-Type-Options", "nosniff"), HSTS,
    ("Content-Security-Policy", PAGE_CSP.format(nonce="unused", ancestors="'none'")),
    ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"),
]


def progress(environ, token):
    """The progress a tracking page polls. As the app: a client holding the
    version shared in Redis (one GET) gets a 304; otherwise the version is
    read by token (link, which sets the RLS tenant, then the tracker) and
    shared."""
    held = environ.get("HTTP_IF_NONE_MATCH", "")
    shared = redis_client().get(f"tracee:progress:{token}") if held else None
    if shared is not None and f'"p1-{int(shared)}"' in held:
        return "304 Not Modified", [("ETag", f'"p1-{int(shared)}"'), *PROGRESS_HEADERS], b""
    with connection().transaction(), connection().cursor() as cur:
        cur.execute(
            "SELECT tenant_id, tracker_id, set_config('app.tenant_id', "
            "CAST(tenant_id AS TEXT), true) FROM tracking_links WHERE token = %s",
            (uuid.UUID(token),),
        )
        tenant_id, tracker_id, _ = cur.fetchone()
        cur.execute("SELECT event_seq FROM trackers WHERE tenant_id = %s AND id = %s",
                    (tenant_id, tracker_id))
        seq = cur.fetchone()[0]
    redis_client().set(f"tracee:progress:{token}", seq, ex=3600)
    etag = f'"p1-{seq}"'
    headers = [("ETag", etag), *PROGRESS_HEADERS]
    if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
        return "304 Not Modified", headers, b""
    row, steps, _chain, _timing = load_public(token)
    visible = [s for s in steps if s[2]]
    body = {"steps": [{"name": s[1], "status": status_of(s), "label": LABELS[status_of(s)],
                       "started_at": iso(s[3]), "completed_at": iso(s[4])} for s in visible]}
    return "200 OK", [("Content-Type", "application/json"), *headers], json.dumps(body).encode()


def qr_image(environ, limited):
    """The keyed QR repeat: with the key remembered, the app's one limiter call and
    the cached bytes; a key not yet remembered is looked up first."""
    headers = []
    if limited:
        digest, key = cached_key(environ)
        if key is None:
            with connection().transaction(), connection().cursor() as cur:
                key = lookup_key(cur, digest)
        headers = limit_key(environ, key, limited)
        wall = datetime.now(UTC)
        if key[3] is None or (wall - key[3]).total_seconds() >= LAST_USED_SECONDS:
            with connection().transaction(), connection().cursor() as cur:
                cur.execute("UPDATE api_keys SET last_used_at = %s WHERE id = %s",
                            (wall, key[0]))
            key[3] = wall
    return headers


def client_address(environ):
    """As the app with production.ini's trusted proxies: the last X-Forwarded-For
    entry when the request comes from the local host."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded and environ.get("REMOTE_ADDR") in ("127.0.0.1", "::1"):
        return forwarded.rsplit(",", 1)[-1].strip()
    return environ.get("REMOTE_ADDR", "")


PUBLIC_LIMIT = 600  # production.ini's tracee.ratelimit.public, per address


def make_app(limited: bool):
    def app(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        for route_method, pattern, route in ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                name = route
                break
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        if name == "progress":
            status, headers, body = progress(environ, match.group(1))
        elif name in ("page", "embed"):
            if limited:  # pages show no figures; the app counts them all the same
                rate_limit(f"addr/{client_address(environ)}", PUBLIC_LIMIT)
            headers, body = page_html(match.group(1), embed=name == "embed")
            status = "200 OK"
        elif name in ("qr", "public_qr"):
            limits = qr_image(environ, limited) if name == "qr" else []
            status, body = "200 OK", QR_PNG
            cache = "private" if name == "qr" else "public"
            headers = [("Content-Type", "image/png"), ("Cache-Control", f"{cache}, max-age=86400"),
                       ("ETag", '"floor"'), *limits]
        else:
            if name == "get":
                status, data, limits = get_tracker(environ, int(match.group(1)), limited)
            elif name == "create":
                status, data, limits = create_tracker(environ, limited)
            else:
                status, data, limits = update_status(environ, int(match.group(1)), limited)
            body = json.dumps(data).encode()
            headers = [("Content-Type", "application/json"), *API_HEADERS, *limits]
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    return app


app = make_app(limited=True)  # the honest floor: pays the rate limit's round trip
limiter_free_app = make_app(limited=False)  # the floor before it did
