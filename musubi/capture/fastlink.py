"""The hot path of tracking links: ``/r/<code>`` answered before Django's middleware stack, with clicks
committed in groups (``kernel.groupcommit``) before their 302 leaves.

Links are looked up once and kept for ``LINK_TTL`` seconds per process, so switching a link off takes effect
within that time. Anything this path does not handle (an unknown code, a method other than GET) goes on to
Django, which gives the same answers as ever. The per-request work is kept small on purpose — at tens of
thousands of clicks a second every microsecond shows: the visitor cookie is read without ``SimpleCookie``, the
keyed hash of an address and the bot test of a user agent are remembered, and each link's ``Location`` header
is built once.

Each click by a person (not a bot) writes its ``link.clicked`` fact in the same commit: anonymously (no
contact) while the browser is unknown, for the person when the browser is already tied to one by an earlier
opt-in or LINE visit. When someone identifies themselves, their browser's earlier clicks are recorded once
more, for them (``visitors.identify``). Counts of clicks read ``capture_click``, not these facts.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.utils.encoding import iri_to_uri

from musubi.capture import rules, visitors
from musubi.capture.models import Click, TrackingLink
from musubi.kernel import clock
from musubi.kernel.groupcommit import GroupCommit
from musubi.kernel.models import Fact

VISITOR_COOKIE = "mvid"
ONE_YEAR = 365 * 24 * 3600
LINK_TTL = 10.0
MAX_BATCH = 500
_REMEMBERED = 4096  # addresses and user agents whose hash and bot test are kept per process

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class CachedLink:
    pk: int
    code: str
    workspace_id: int
    source_id: int
    target: str  # the target with the UTM parameters already added
    location: bytes = b""  # ``target`` as a Location header value


class PendingClick(NamedTuple):
    """A click waiting for its commit; the first eight fields are ``capture_click``'s columns in order."""

    workspace_id: int
    link_id: int
    at: Any
    visitor_id: str
    ip_hash: str
    user_agent: str
    referrer: str
    is_bot: bool
    code: str  # the link's, for the fact
    source_id: int


# On PostgreSQL one statement writes a group: the clicks from arrays, and the facts of the clicks by people —
# for the person already known from the browser (``visitors``) when there is one, found through
# ``knownvisitor_unique``'s index. In autocommit the statement is its own transaction, so a group costs one
# round trip. A person's fact updates their row of ``contacts_activity`` (a trigger), so the facts go in in
# contact order: two groups in flight then lock the rows they share in the same order and cannot deadlock.
_PG_BATCH = """
WITH c AS (
  INSERT INTO capture_click (workspace_id, link_id, at, visitor_id, ip_hash, user_agent, referrer, is_bot)
  SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::timestamptz[], %b::varchar[], %b::varchar[],
                       %b::varchar[], %b::varchar[], %b::boolean[])
  RETURNING id, workspace_id, link_id, at, visitor_id, is_bot
)
INSERT INTO kernel_fact (workspace_id, kind, occurred_at, recorded_at, contact_id, source_id, subject_type,
                         subject_id, amount, currency, data, dedupe_key)
SELECT c.workspace_id, 'link.clicked', c.at, now(), v.contact_id, l.source_id, 'capture.click', c.id::text, NULL,
       '', jsonb_build_object('link', l.code, 'visitor', c.visitor_id),
       CASE WHEN v.contact_id IS NOT NULL THEN 'link-clicked-' || c.id END
FROM c JOIN capture_trackinglink l ON l.id = c.link_id
LEFT JOIN capture_knownvisitor v ON v.workspace_id = c.workspace_id AND v.visitor_id = c.visitor_id
WHERE NOT c.is_bot
ORDER BY v.contact_id
"""


def _columns(batch: list[PendingClick]) -> list[list[Any]]:
    return [list(column) for column in zip(*batch, strict=True)][:8]


async def _write_async(pg: Any, batch: list[PendingClick]) -> None:
    await pg.execute(_PG_BATCH, _columns(batch))


def _write(batch: list[PendingClick]) -> None:
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        # Server-side binding: the arrays go as parameters instead of being quoted into the SQL text in Python,
        # which would hold the interpreter lock the request threads are waiting for.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_PG_BATCH, _columns(batch))
        return
    clicks = [Click(workspace_id=c.workspace_id, link_id=c.link_id, at=c.at, visitor_id=c.visitor_id,
                    ip_hash=c.ip_hash, user_agent=c.user_agent, referrer=c.referrer, is_bot=c.is_bot) for c in batch]
    ids = _insert(Click, clicks, returning=True)
    people = [(c, click_id) for c, click_id in zip(batch, ids, strict=True) if not c.is_bot]
    known = visitors.known_contacts((c.workspace_id, c.visitor_id) for c, _id in people)
    facts = []
    for c, click_id in people:
        contact_id = known.get((c.workspace_id, c.visitor_id))
        facts.append(Fact(workspace_id=c.workspace_id, kind="link.clicked", occurred_at=c.at, source_id=c.source_id,
                          contact_id=contact_id, subject_type="capture.click", subject_id=str(click_id),
                          data={"link": c.code, "visitor": c.visitor_id},
                          dedupe_key=visitors.click_dedupe_key(click_id) if contact_id else None))
    _insert(Fact, facts, returning=False)


def _insert(model: type[Any], objects: list[Any], *, returning: bool) -> list[int]:
    """One multi-row INSERT of ``objects`` (values prepared by their own fields, as the ORM would), returning
    the new ids in order. Leaner than ``bulk_create`` on the path every click takes."""
    if not objects:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
           f"VALUES {', '.join([row] * len(objects))}" + (f" RETURNING {quote('id')}" if returning else ""))
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objects for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [r[0] for r in cursor.fetchall()] if returning else []


_writer: GroupCommit[PendingClick] = GroupCommit(name="click", write_sync=_write, write_async=_write_async,
                                                 max_batch=MAX_BATCH)
_links: dict[str, tuple[float, CachedLink | None]] = {}
_ip_hashes: dict[str, str] = {}
_bots: dict[str, bool] = {}


def _link(code: str) -> CachedLink | None:
    now = time.monotonic()
    cached = _links.get(code)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = (TrackingLink.objects.select_related("source").filter(code=code, active=True).first()
             if 4 <= len(code) <= 16 else None)
    value = None
    if found is not None:
        utm = {"utm_source": found.source.name, "utm_medium": found.source.kind, "utm_campaign": found.code}
        target = rules.with_utm(found.target_url, utm)
        value = CachedLink(pk=found.pk, code=found.code, workspace_id=found.workspace_id, source_id=found.source_id,
                           target=target, location=iri_to_uri(target).encode("latin-1"))
    if len(_links) > 10_000:
        _links.clear()
    _links[code] = (now + LINK_TTL, value)
    return value


def _visitor(cookie_header: str) -> str:
    """The visitor id from the ``mvid`` cookie, or "" when there is none or it is not a UUID. Read by hand:
    ``SimpleCookie`` costs more than the rest of the request."""
    if VISITOR_COOKIE not in cookie_header:
        return ""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == VISITOR_COOKIE:
            try:
                return str(uuid.UUID(value.strip('"')))
            except ValueError:
                return ""
    return ""


def _ip_hash(ip: str) -> str:
    found = _ip_hashes.get(ip)
    if found is None:
        if len(_ip_hashes) > _REMEMBERED:
            _ip_hashes.clear()
        found = _ip_hashes[ip] = rules.hash_ip(ip, key=settings.SECRET_KEY)
    return found


def looks_like_bot(user_agent: str) -> bool:
    """``rules.looks_like_bot``, remembered: a busy link sees the same few browsers over and over."""
    found = _bots.get(user_agent)
    if found is None:
        if len(_bots) > _REMEMBERED:
            _bots.clear()
        found = _bots[user_agent] = rules.looks_like_bot(user_agent)
    return found


_random_bytes = bytearray()
_random_lock = threading.Lock()  # WSGI request threads share the pool


def _new_visitor() -> str:
    """A random (version 4) UUID, with the random bytes read from the system 4 KB at a time rather than 16
    bytes per visitor: one system call for 256 new visitors."""
    with _random_lock:
        if len(_random_bytes) < 16:
            _random_bytes[:] = os.urandom(4096)
        chunk = bytes(_random_bytes[-16:])
        del _random_bytes[-16:]
    return str(uuid.UUID(bytes=chunk, version=4))


def _visitor_cookie(visitor: str, *, secure: bool) -> str:
    return (f"{VISITOR_COOKIE}={visitor}; Max-Age={ONE_YEAR}; Path=/; HttpOnly; SameSite=Lax"
            + ("; Secure" if secure else ""))


def _tracking_code(path: str) -> str | None:
    if path[:3] != "/r/" or "/" in path[3:]:
        return None
    return path[3:].upper()


def answer(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
    """The response to a tracking-link request, or None to let Django answer it."""
    code = _tracking_code(environ.get("PATH_INFO", ""))
    if code is None or environ.get("REQUEST_METHOD") != "GET":
        return None
    link = _link(code)
    if link is None:
        return None
    visitor = _visitor(environ.get("HTTP_COOKIE", "")) or _new_visitor()
    user_agent = environ.get("HTTP_USER_AGENT", "")
    click = PendingClick(link.workspace_id, link.pk, clock.now(), visitor, _ip_hash(environ.get("REMOTE_ADDR", "")),
                         user_agent[:300], environ.get("HTTP_REFERER", "")[:500], looks_like_bot(user_agent),
                         link.code, link.source_id)
    try:
        _writer.record(click)
    except Exception:  # noqa: BLE001 — whatever failed the commit, the click was not kept: say so
        start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8"),
                                                   ("Retry-After", "1")])
        return [b"Please try again in a moment."]
    start_response("302 Found", [
        ("Location", link.location.decode("latin-1")),
        ("Set-Cookie", _visitor_cookie(visitor, secure=environ.get("wsgi.url_scheme") == "https")),
        ("Cache-Control", "no-store"),
        ("Content-Length", "0"),
    ])
    return [b""]


def wrap(django_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The WSGI application: tracking links here, everything else to Django."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handled = answer(environ, start_response)
        return handled if handled is not None else django_app(environ, start_response)

    return application


# --- The same path for an ASGI server ----------------------------------------------------------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

UNAVAILABLE_START = {"type": "http.response.start", "status": 503,
                     "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"1")]}
UNAVAILABLE_BODY = {"type": "http.response.body", "body": b"Please try again in a moment."}
EMPTY_BODY = {"type": "http.response.body", "body": b""}


def request_headers(scope: dict[str, Any]) -> tuple[str, str, str]:
    """The cookie, user agent and referrer of an ASGI request (names arrive in lower case), decoded."""
    cookie = user_agent = referrer = b""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = value
        elif name == b"user-agent":
            user_agent = value
        elif name == b"referer":
            referrer = value
    return cookie.decode("latin-1"), user_agent.decode("latin-1"), referrer.decode("latin-1")


async def answer_async(scope: dict[str, Any], send: Send) -> bool:
    """Answer a tracking-link request on an event loop; False to let the rest of the site answer it. Thousands
    of clicks can wait for their commit at once without a thread each, so the groups grow with load."""
    code = _tracking_code(scope.get("path", ""))
    if code is None or scope.get("type") != "http" or scope.get("method") != "GET":
        return False
    cached = _links.get(code)
    link = cached[1] if cached is not None and cached[0] > time.monotonic() else await asyncio.to_thread(_link, code)
    if link is None:
        return False
    cookie, user_agent, referrer = request_headers(scope)
    visitor = _visitor(cookie) or _new_visitor()
    client = scope.get("client")
    click = PendingClick(link.workspace_id, link.pk, clock.now(), visitor, _ip_hash(client[0] if client else ""),
                         user_agent[:300], referrer[:500], looks_like_bot(user_agent), link.code, link.source_id)
    try:
        await _writer.record_async(click)
    except Exception:  # noqa: BLE001 — whatever failed the commit, the click was not kept: say so
        await send(UNAVAILABLE_START)
        await send(UNAVAILABLE_BODY)
        return True
    await send({"type": "http.response.start", "status": 302, "headers": [
        (b"location", link.location),
        (b"set-cookie", _visitor_cookie(visitor, secure=scope.get("scheme") == "https").encode("latin-1")),
        (b"cache-control", b"no-store"), (b"content-length", b"0")]})
    await send(EMPTY_BODY)
    return True


def in_front_of(answer: Callable[[dict[str, Any], Send], Awaitable[bool]], site: ASGIApp) -> ASGIApp:
    """An ASGI application in which ``answer`` takes each request first (returning whether it did) and ``site``
    gets the rest."""

    async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if not await answer(scope, send):
            await site(scope, receive, send)

    return application


def wrap_asgi(site: ASGIApp) -> ASGIApp:
    """The ASGI application: tracking links here, everything else to ``site``."""
    return in_front_of(answer_async, site)
