"""The hot path of messages' opens and clicks: ``/m/o/<token>`` (the open pixel) and ``/m/c/<token>?u=…`` (a
tracked link) answered on the event loop before Django's middleware, each recorded durably before its answer
leaves, in groups (``kernel.groupcommit``), as tracking links are (``capture.fastlink``).

It records exactly what ``responses.record_open`` and ``responses.record_click`` record, and answers what the
views answer: the token is checked first (for a click, against the link's target, so no one can make an open
redirect of it), a prefetcher's open is kept as ``email.prefetched`` and counted for nothing, a prefetcher's
click is not recorded, and a delivery's first open and first click stamp it once however many arrive together.
Anything else — a bad token, a target that is not a web address, another method — goes on to Django, which
gives the same answers as ever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from django.utils.encoding import iri_to_uri

from musubi.capture.fastlink import ASGIApp, Send, in_front_of, looks_like_bot, request_headers
from musubi.capture.rules import is_web_url
from musubi.kernel import clock
from musubi.kernel.groupcommit import GroupCommit
from musubi.kernel.models import Fact
from musubi.messaging import tracking
from musubi.messaging.choices import MessageChannel
from musubi.messaging.models import Delivery
from musubi.messaging.views import PIXEL

OPEN, CLICK = "open", "click"
MAX_BATCH = 500


class Response(NamedTuple):
    """An open or a click waiting for its commit."""

    kind: str  # OPEN or CLICK
    delivery_id: int
    at: dt.datetime
    user_agent: str
    is_bot: bool
    url: str = ""


class DeliveryState(NamedTuple):
    id: int
    workspace_id: int
    contact_id: int
    channel: str
    step_id: int | None
    run_id: int | None
    opened_at: dt.datetime | None
    clicked_at: dt.datetime | None


@dataclass
class Plan:
    """What a group of responses changes: new ``(opened_at, clicked_at)`` per delivery, and the facts."""

    stamps: dict[int, tuple[dt.datetime | None, dt.datetime | None]]
    facts: list[tuple[int, str, dt.datetime, int, str, dict[str, Any]]]  # workspace, kind, at, contact, subject, data


def plan(responses: Sequence[Response], deliveries: dict[int, DeliveryState]) -> Plan:
    """The same decisions as ``responses.record_open`` and ``record_click``, taken in arrival order over the
    deliveries as they stand (locked) in the database."""
    state = {pk: [d.opened_at, d.clicked_at] for pk, d in deliveries.items()}
    result = Plan(stamps={}, facts=[])
    for response in responses:
        delivery = deliveries.get(response.delivery_id)
        if delivery is None:
            continue
        stamps = state[delivery.id]
        subject = str(delivery.id)
        if response.kind == OPEN:
            if delivery.channel != MessageChannel.EMAIL:
                continue
            if response.is_bot:
                result.facts.append((delivery.workspace_id, "email.prefetched", response.at, delivery.contact_id,
                                     subject, {"user_agent": response.user_agent[:200]}))
            elif stamps[0] is None:  # one open fact per delivery: segments ask "opened", not how often
                stamps[0] = response.at
                result.facts.append((delivery.workspace_id, "email.opened", response.at, delivery.contact_id,
                                     subject, {"step": delivery.step_id, "run": delivery.run_id}))
            continue
        if response.is_bot:
            continue
        if stamps[1] is None:
            stamps[1] = response.at
        if delivery.channel == MessageChannel.EMAIL and stamps[0] is None:  # a click proves the mail was opened
            stamps[0] = response.at
            result.facts.append((delivery.workspace_id, "email.opened", response.at, delivery.contact_id, subject,
                                 {"by_click": True}))
        result.facts.append((delivery.workspace_id, f"{delivery.channel}.clicked", response.at, delivery.contact_id,
                             subject, {"url": response.url[:500], "step": delivery.step_id, "run": delivery.run_id}))
    for pk, (opened_at, clicked_at) in state.items():
        if (opened_at, clicked_at) != (deliveries[pk].opened_at, deliveries[pk].clicked_at):
            result.stamps[pk] = (opened_at, clicked_at)
    return result


_STATE_COLUMNS = ("id", "workspace_id", "contact_id", "channel", "step_id", "run_id", "opened_at", "clicked_at")


def _write(batch: list[Response]) -> None:
    """A group through Django's connection (SQLite, or PostgreSQL without an event loop), in its transaction."""
    ids = sorted({r.delivery_id for r in batch})
    rows = Delivery.objects.filter(pk__in=ids).order_by("pk").select_for_update().values_list(*_STATE_COLUMNS)
    result = plan(batch, {row[0]: DeliveryState(*row) for row in rows})
    for pk, (opened_at, clicked_at) in result.stamps.items():
        Delivery.objects.filter(pk=pk).update(opened_at=opened_at, clicked_at=clicked_at)
    Fact.objects.bulk_create([Fact(workspace_id=workspace_id, kind=kind, occurred_at=at, contact_id=contact_id,
                                   subject_type="messaging.delivery", subject_id=subject, data=data)
                              for workspace_id, kind, at, contact_id, subject, data in result.facts])


# On PostgreSQL a group is one statement, so in autocommit it costs one round trip: the same decisions as
# ``plan``, in SQL over the responses in arrival order (``n``). The deliveries are locked first, in id order (two
# processes cannot deadlock), and read as they stand once locked; the stamps and the facts follow from them. A
# test holds this statement to ``plan`` over random groups.
_PG_GROUP = """
WITH r AS (
  SELECT * FROM unnest(%b::varchar[], %b::bigint[], %b::timestamptz[], %b::varchar[], %b::boolean[], %b::varchar[])
    WITH ORDINALITY AS r(kind, delivery_id, at, user_agent, is_bot, url, n)
), d AS (
  SELECT id, workspace_id, contact_id, channel, step_id, run_id, opened_at, clicked_at FROM messaging_delivery
  WHERE id IN (SELECT delivery_id FROM r) ORDER BY id FOR UPDATE
), e AS (  -- the responses that count: an open only of an email, a click never a prefetcher's
  SELECT r.*, d.workspace_id, d.contact_id, d.channel, d.step_id, d.run_id, d.opened_at, d.clicked_at
  FROM r JOIN d ON d.id = r.delivery_id
  WHERE (r.kind = 'open' AND d.channel = 'email') OR (r.kind = 'click' AND NOT r.is_bot)
), opening AS (  -- what opens an email not opened yet: its first open by a person, or its first click
  SELECT DISTINCT ON (delivery_id) * FROM e
  WHERE channel = 'email' AND opened_at IS NULL AND NOT (kind = 'open' AND is_bot) ORDER BY delivery_id, n
), first_click AS (
  SELECT DISTINCT ON (delivery_id) delivery_id, at FROM e WHERE kind = 'click' AND clicked_at IS NULL
  ORDER BY delivery_id, n
), stamped AS (
  UPDATE messaging_delivery m SET opened_at = coalesce(m.opened_at, o.at), clicked_at = coalesce(m.clicked_at, c.at)
  FROM d LEFT JOIN opening o ON o.delivery_id = d.id LEFT JOIN first_click c ON c.delivery_id = d.id
  WHERE m.id = d.id AND (o.delivery_id IS NOT NULL OR c.delivery_id IS NOT NULL)
)
INSERT INTO kernel_fact (workspace_id, kind, occurred_at, recorded_at, contact_id, source_id, subject_type,
                         subject_id, amount, currency, data, dedupe_key)
SELECT workspace_id, kind, at, now(), contact_id, NULL, 'messaging.delivery', delivery_id::text, NULL, '', data, NULL
FROM (
  SELECT n, 0 AS within, workspace_id, 'email.prefetched' AS kind, at, contact_id, delivery_id,
         jsonb_build_object('user_agent', left(user_agent, 200)) AS data
  FROM e WHERE kind = 'open' AND is_bot
  UNION ALL
  SELECT n, 0, workspace_id, 'email.opened', at, contact_id, delivery_id,
         CASE WHEN kind = 'open' THEN jsonb_build_object('step', step_id, 'run', run_id)
              ELSE jsonb_build_object('by_click', true) END
  FROM opening
  UNION ALL
  SELECT n, 1, workspace_id, channel || '.clicked', at, contact_id, delivery_id,
         jsonb_build_object('url', left(url, 500), 'step', step_id, 'run', run_id)
  FROM e WHERE kind = 'click'
) facts ORDER BY n, within
"""


def _group_columns(batch: list[Response]) -> list[list[Any]]:
    return [[r.kind for r in batch], [r.delivery_id for r in batch], [r.at for r in batch],
            [r.user_agent for r in batch], [r.is_bot for r in batch], [r.url for r in batch]]


async def _write_async(pg: Any, batch: list[Response]) -> None:
    """A group through the event loop's own PostgreSQL connection, in one statement."""
    await pg.execute(_PG_GROUP, _group_columns(batch))


_writer: GroupCommit[Response] = GroupCommit(name="message-response", write_sync=_write, write_async=_write_async,
                                             max_batch=MAX_BATCH)

# As ``never_cache`` would have it: a pixel fetched again is another open.
_NO_STORE = (b"cache-control", b"max-age=0, no-cache, no-store, must-revalidate, private")
PIXEL_START = {"type": "http.response.start", "status": 200, "headers": [
    (b"content-type", b"image/gif"), (b"content-length", str(len(PIXEL)).encode()), _NO_STORE]}
PIXEL_BODY = {"type": "http.response.body", "body": PIXEL}
UNAVAILABLE_START = {"type": "http.response.start", "status": 503,
                     "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"1"), _NO_STORE]}
UNAVAILABLE_BODY = {"type": "http.response.body", "body": b"Please try again in a moment."}
EMPTY_BODY = {"type": "http.response.body", "body": b""}


def _target(query_string: bytes) -> str | None:
    """The ``u`` parameter as Django's ``request.GET.get("u", "")`` reads it, or None for a query string this
    path leaves to Django (raw bytes outside ASCII)."""
    if not query_string.isascii():
        return None
    found = ""
    for name, value in parse_qsl(query_string.decode("ascii"), keep_blank_values=True):
        if name == "u":
            found = value  # the last one, as QueryDict.get gives
    return found


def _response(scope: dict[str, Any]) -> Response | None:
    path: str = scope.get("path", "")
    if path[:5] == "/m/o/":
        kind = OPEN
    elif path[:5] == "/m/c/":
        kind = CLICK
    else:
        return None
    token = path[5:]
    if not token or "/" in token or scope.get("type") != "http" or scope.get("method") != "GET":
        return None
    url = ""
    if kind == CLICK:
        target = _target(scope.get("query_string", b""))
        if target is None or not is_web_url(target):
            return None
        url = target
    delivery_id = tracking.delivery_id(token, kind, url)
    if delivery_id is None:
        return None
    _cookie, user_agent, _referrer = request_headers(scope)
    user_agent = user_agent[:500]
    return Response(kind, delivery_id, clock.now(), user_agent, looks_like_bot(user_agent), url)


async def answer_async(scope: dict[str, Any], send: Send) -> bool:
    """Answer an open or a click on an event loop once it is committed; False to let Django answer."""
    response = _response(scope)
    if response is None:
        return False
    if not (response.kind == CLICK and response.is_bot):  # a prefetcher's click is followed, not recorded
        try:
            await _writer.record_async(response)
        except Exception:  # noqa: BLE001 — whatever failed the commit, the response was not kept: say so
            await send(UNAVAILABLE_START)
            await send(UNAVAILABLE_BODY)
            return True
    if response.kind == OPEN:
        await send(PIXEL_START)
        await send(PIXEL_BODY)
        return True
    await send({"type": "http.response.start", "status": 302, "headers": [
        (b"location", iri_to_uri(response.url).encode("latin-1")), (b"content-length", b"0"), _NO_STORE]})
    await send(EMPTY_BODY)
    return True


def wrap_asgi(site: ASGIApp) -> ASGIApp:
    """The ASGI application: messages' opens and clicks here, everything else to ``site``."""
    return in_front_of(answer_async, site)
