"""The hot path of tracking links: ``/r/<code>`` answered before Django's middleware stack, with clicks
committed in groups.

Every click must be in the database before its 302 leaves (a redirect that was answered is never a click that
was lost), but one commit per click caps a web process at a few thousand clicks a second. Here each request
thread hands its click to the process's ``ClickWriter`` and waits; the writer commits whatever has gathered —
every click waiting at that moment, up to ``MAX_BATCH`` — in one transaction, then wakes the waiters. Under
load one commit carries many clicks; alone, a click waits only for its own commit. A crash loses only clicks
whose requests were never answered.

Links are looked up once and kept for ``LINK_TTL`` seconds per process, so switching a link off takes effect
within that time. Anything this path does not handle (an unknown code, a method other than GET) goes on to
Django, which gives the same answers as ever.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.encoding import iri_to_uri

from musubi.capture import rules
from musubi.capture.models import Click, TrackingLink
from musubi.kernel import clock
from musubi.kernel.models import Fact

VISITOR_COOKIE = "mvid"
ONE_YEAR = 365 * 24 * 3600
LINK_TTL = 10.0
MAX_BATCH = 500

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class CachedLink:
    pk: int
    code: str
    workspace_id: int
    source_id: int
    target: str  # the target with the UTM parameters already added


@dataclass
class _Pending:
    """A click waiting for its commit: (workspace_id, link_id, at, visitor_id, ip_hash, user_agent, referrer,
    is_bot), the link's code and source for its fact."""

    click: tuple[Any, ...]
    code: str
    source_id: int
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    notify: Callable[[BaseException | None], None] | None = None  # for a waiter on an event loop


# On PostgreSQL one statement writes a batch: the clicks from arrays, and the facts of the clicks by people.
_PG_BATCH = """
WITH c AS (
  INSERT INTO capture_click (workspace_id, link_id, at, visitor_id, ip_hash, user_agent, referrer, is_bot)
  SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::varchar[], %s::varchar[],
                       %s::varchar[], %s::varchar[], %s::boolean[])
  RETURNING id, workspace_id, link_id, at, visitor_id, is_bot
)
INSERT INTO kernel_fact (workspace_id, kind, occurred_at, recorded_at, contact_id, source_id, subject_type,
                         subject_id, amount, currency, data, dedupe_key)
SELECT c.workspace_id, 'link.clicked', c.at, now(), NULL, l.source_id, 'capture.click', c.id::text, NULL, '',
       jsonb_build_object('link', l.code, 'visitor', c.visitor_id), NULL
FROM c JOIN capture_trackinglink l ON l.id = c.link_id
WHERE NOT c.is_bot
"""


def _write(batch: list[_Pending]) -> None:
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        # Server-side binding: the arrays go as parameters instead of being quoted into the SQL text in Python,
        # which would hold the interpreter lock the request threads are waiting for.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_PG_BATCH.replace("%s", "%b"),
                           [list(column) for column in zip(*(p.click for p in batch), strict=True)])
        return
    clicks = [Click(workspace_id=c[0], link_id=c[1], at=c[2], visitor_id=c[3], ip_hash=c[4], user_agent=c[5],
                    referrer=c[6], is_bot=c[7]) for c in (p.click for p in batch)]
    ids = _insert(Click, clicks, returning=True)
    _insert(Fact, [Fact(workspace_id=p.click[0], kind="link.clicked", occurred_at=p.click[2], source_id=p.source_id,
                        subject_type="capture.click", subject_id=str(click_id),
                        data={"link": p.code, "visitor": p.click[3]})
                   for p, click_id in zip(batch, ids, strict=True) if not p.click[7]], returning=False)


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


class ClickWriter:
    """One per process: a thread that commits the clicks handed to it in groups."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.commits = 0

    def record(self, click: tuple[Any, ...], *, code: str, source_id: int) -> None:
        """Return once the click (and its fact) are committed; raise if the commit failed."""
        self._ensure_started()
        pending = _Pending(click, code, source_id)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    async def record_async(self, click: tuple[Any, ...], *, code: str, source_id: int) -> None:
        """``record`` for a request on an event loop: it waits without holding a thread."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def notify(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        self._queue.put(_Pending(click, code, source_id, notify=notify))
        await future

    def _ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="click-writer", daemon=True)
                    self._thread.start()

    def stop(self) -> None:
        """Let the thread finish and close its database connection (it starts again on the next click)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                connection.close()
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(more)  # handled after this batch
                    break
                batch.append(more)
            error: BaseException | None = None
            try:
                # The writer keeps its connection across batches (reconnecting would cost more than the commit);
                # a failed batch closes it, and the next batch connects afresh.
                with transaction.atomic():
                    _write(batch)
                self.commits += 1
            except BaseException as exc:  # noqa: BLE001 — the waiters answer 503; the next batch tries afresh
                error = exc
                connection.close()
            for p in batch:
                p.error = error
                p.done.set()
                if p.notify is not None:
                    p.notify(error)


_STOP: Any = object()
_writer = ClickWriter()
_links: dict[str, tuple[float, CachedLink | None]] = {}


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
        value = CachedLink(pk=found.pk, code=found.code, workspace_id=found.workspace_id, source_id=found.source_id,
                           target=rules.with_utm(found.target_url, utm))
    if len(_links) > 10_000:
        _links.clear()
    _links[code] = (now + LINK_TTL, value)
    return value


def _visitor(environ: dict[str, Any]) -> str:
    try:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        return str(uuid.UUID(cookie[VISITOR_COOKIE].value)) if VISITOR_COOKIE in cookie else ""
    except (CookieError, ValueError):
        return ""


def answer(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
    """The response to a tracking-link request, or None to let Django answer it."""
    path = environ.get("PATH_INFO", "")
    if environ.get("REQUEST_METHOD") != "GET" or not path.startswith("/r/") or path.count("/") != 2:
        return None
    link = _link(path[3:].upper())
    if link is None:
        return None
    visitor = _visitor(environ) or str(uuid.uuid4())
    user_agent = environ.get("HTTP_USER_AGENT", "")
    is_bot = rules.looks_like_bot(user_agent)
    click = (link.workspace_id, link.pk, clock.now(), visitor,
             rules.hash_ip(environ.get("REMOTE_ADDR", ""), key=settings.SECRET_KEY), user_agent[:300],
             environ.get("HTTP_REFERER", "")[:500], is_bot)
    try:
        _writer.record(click, code=link.code, source_id=link.source_id)
    except Exception:  # noqa: BLE001 — whatever failed the commit, the click was not kept: say so
        start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8"),
                                                   ("Retry-After", "1")])
        return [b"Please try again in a moment."]
    secure = "; Secure" if environ.get("wsgi.url_scheme") == "https" else ""
    start_response("302 Found", [
        ("Location", iri_to_uri(link.target)),
        ("Set-Cookie", f"{VISITOR_COOKIE}={visitor}; Max-Age={ONE_YEAR}; Path=/; HttpOnly; SameSite=Lax{secure}"),
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


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


# --- The same path for an ASGI server ----------------------------------------------------------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def answer_async(scope: dict[str, Any], send: Send) -> bool:
    """Answer a tracking-link request on an event loop; False to let the rest of the site answer it. Thousands
    of clicks can wait for their commit at once without a thread each, so the writer's groups grow with load."""
    path = scope.get("path", "")
    if scope.get("type") != "http" or scope.get("method") != "GET" or not path.startswith("/r/") \
            or path.count("/") != 2:
        return False
    code = path[3:].upper()
    cached = _links.get(code)
    link = cached[1] if cached is not None and cached[0] > time.monotonic() else await asyncio.to_thread(_link, code)
    if link is None:
        return False
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    visitor = _visitor({"HTTP_COOKIE": headers.get("cookie", "")}) or str(uuid.uuid4())
    user_agent = headers.get("user-agent", "")
    client = scope.get("client") or ("", 0)
    click = (link.workspace_id, link.pk, clock.now(), visitor,
             rules.hash_ip(client[0], key=settings.SECRET_KEY), user_agent[:300],
             headers.get("referer", "")[:500], rules.looks_like_bot(user_agent))
    try:
        await _writer.record_async(click, code=link.code, source_id=link.source_id)
    except Exception:  # noqa: BLE001 — whatever failed the commit, the click was not kept: say so
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"1")]})
        await send({"type": "http.response.body", "body": b"Please try again in a moment."})
        return True
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    await send({"type": "http.response.start", "status": 302, "headers": [
        (b"location", iri_to_uri(link.target).encode("latin-1")),
        (b"set-cookie", f"{VISITOR_COOKIE}={visitor}; Max-Age={ONE_YEAR}; Path=/; HttpOnly; SameSite=Lax{secure}"
         .encode("latin-1")),
        (b"cache-control", b"no-store"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
    return True


def wrap_asgi(site: Callable[[dict[str, Any], Receive, Send], Awaitable[None]],
              ) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    """The ASGI application: tracking links here, everything else to ``site``."""

    async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if not await answer_async(scope, send):
            await site(scope, receive, send)

    return application
