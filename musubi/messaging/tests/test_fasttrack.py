"""Opens and clicks answered on the event loop (messaging.fasttrack): recorded as the views record them, each
committed before its answer leaves, in groups; anything the path does not accept goes on to Django."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

from musubi.kernel.models import Fact
from musubi.messaging import authoring, broadcasts, fasttrack
from musubi.messaging.models import Delivery
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"
SCANNER = b"Mozilla/5.0 (compatible; Barracuda Sentinel; bot)"
AT = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _writer_closes_its_connections():
    yield
    fasttrack._writer.stop()  # or the test database could not be dropped while a connection is open


@pytest.fixture
def site():
    return fasttrack.wrap_asgi(WSGIMiddleware(get_wsgi_application(), workers=2))


def _sent_mail(workspace, smtp, run_worker):
    f.sender(workspace)
    f.person(workspace, "hanako@example.jp")
    template = f.email_template(workspace)
    broadcasts.start_run(broadcast=authoring.create_broadcast(
        workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(name="お知らせ", template_id=template.pk)))
    run_worker()
    html = smtp.messages[-1].get_body(("html",)).get_content()
    pixel = urlsplit(re.search(r'<img src="([^"]+/m/o/[^"]+)"', html).group(1))
    click = urlsplit(re.search(r'href="([^"]+/m/c/[^"]+)"', html).group(1).replace("&amp;", "&"))
    return Delivery.objects.get(address="hanako@example.jp"), pixel, click


async def _request(site, address, agent):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
             "path": address.path, "raw_path": address.path.encode(), "query_string": address.query.encode(),
             "root_path": "", "headers": [(b"host", b"testserver"), (b"user-agent", agent)],
             "client": ("203.0.113.9", 1), "server": ("testserver", 443)}
    await site(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def get(site, address, agent=PHONE):
    return asyncio.run(_request(site, address, agent))


def test_opens_and_clicks_are_recorded_once_and_prefetchers_are_only_marked(workspace, smtp, run_worker, site):
    delivery, pixel, click = _sent_mail(workspace, smtp, run_worker)
    status, headers, body = get(site, pixel, SCANNER)
    assert (status, headers[b"content-type"], body[:6]) == (200, b"image/gif", b"GIF89a")
    delivery.refresh_from_db()
    assert delivery.opened_at is None
    assert Fact.objects.get(kind="email.prefetched").data == {"user_agent": SCANNER.decode()}
    get(site, pixel)
    get(site, pixel)
    status, headers, _body = get(site, click)
    assert status == 302 and headers[b"location"] == b"https://kenko.example.jp/guide?x=1&y=2"
    assert get(site, click, SCANNER)[0] == 302  # a prefetcher is sent on, and nothing is recorded
    delivery.refresh_from_db()
    assert delivery.opened_at is not None and delivery.clicked_at is not None
    opened = Fact.objects.get(kind="email.opened")
    assert (opened.contact_id, opened.subject_id, opened.occurred_at) == (
        delivery.contact_id, str(delivery.pk), delivery.opened_at)
    clicked = Fact.objects.get(kind="email.clicked")
    assert clicked.data == {"url": "https://kenko.example.jp/guide?x=1&y=2", "step": None, "run": delivery.run_id}


def test_a_click_whose_signature_does_not_match_its_target_goes_to_django_and_records_nothing(
        workspace, smtp, run_worker, site):
    delivery, _pixel, click = _sent_mail(workspace, smtp, run_worker)
    forged = click._replace(query="u=https%3A%2F%2Fevil.example")
    assert get(site, forged)[0] == 404
    assert get(site, click._replace(path=click.path[:-2] + "xx"))[0] == 404
    delivery.refresh_from_db()
    assert delivery.clicked_at is None
    assert not Fact.objects.filter(kind__in=["email.clicked", "email.opened"]).exists()


def test_a_group_stamps_a_delivery_once_and_a_click_before_any_open_counts_as_the_open():
    state = fasttrack.DeliveryState(7, 1, 3, "email", None, 5, None, None)
    later = AT + dt.timedelta(seconds=1)
    result = fasttrack.plan([
        fasttrack.Response(fasttrack.CLICK, 7, AT, "phone", False, "https://example.jp/a"),
        fasttrack.Response(fasttrack.OPEN, 7, later, "phone", False),
        fasttrack.Response(fasttrack.CLICK, 7, later, "phone", False, "https://example.jp/b"),
        fasttrack.Response(fasttrack.OPEN, 8, AT, "phone", False),  # not found: nothing
    ], {7: state})
    assert result.stamps == {7: (AT, AT)}
    assert [(kind, at, data) for _ws, kind, at, _contact, _subject, data in result.facts] == [
        ("email.opened", AT, {"by_click": True}),
        ("email.clicked", AT, {"url": "https://example.jp/a", "step": None, "run": 5}),
        ("email.clicked", later, {"url": "https://example.jp/b", "step": None, "run": 5}),
    ]


def test_a_line_delivery_is_not_opened_by_its_clicks_and_has_no_pixel():
    state = fasttrack.DeliveryState(7, 1, 3, "line", 2, None, None, None)
    result = fasttrack.plan([fasttrack.Response(fasttrack.OPEN, 7, AT, "phone", False),
                             fasttrack.Response(fasttrack.CLICK, 7, AT, "phone", False, "https://example.jp/a")],
                            {7: state})
    assert result.stamps == {7: (None, AT)}
    assert [kind for _ws, kind, *_rest in result.facts] == ["line.clicked"]


def test_opens_waiting_together_are_committed_in_one_group(workspace, smtp, run_worker, site):
    delivery, pixel, _click = _sent_mail(workspace, smtp, run_worker)
    commits = fasttrack._writer.commits

    async def many():
        return await asyncio.gather(*[_request(site, pixel, PHONE) for _ in range(20)])

    assert [status for status, _headers, _body in asyncio.run(many())] == [200] * 20
    assert fasttrack._writer.commits - commits < 20
    assert Fact.objects.filter(kind="email.opened", subject_id=str(delivery.pk)).count() == 1


@pytest.mark.skipif("postgresql" not in __import__("os").environ.get("DATABASE_URL", ""),
                    reason="the one-statement group is PostgreSQL's")
@pytest.mark.parametrize("seed", range(6))
def test_the_postgresql_statement_decides_as_plan_does(workspace, seed):
    """Random groups over email and LINE deliveries in every state, written by the statement, against ``plan``
    given the same deliveries as they stood."""
    import random

    from musubi.kernel import groupcommit
    from musubi.messaging.choices import MessageChannel

    rng = random.Random(seed)
    email, line = f.email_template(workspace), f.line_template(workspace)
    deliveries = []
    for i in range(12):
        channel = rng.choice([MessageChannel.EMAIL, MessageChannel.EMAIL, MessageChannel.LINE])
        opened = AT - dt.timedelta(hours=1) if channel == MessageChannel.EMAIL and rng.random() < 0.3 else None
        deliveries.append(Delivery.objects.create(
            workspace=workspace, contact=f.person(workspace, f"p{i}@example.jp"), channel=channel,
            template=email if channel == MessageChannel.EMAIL else line, address=f"p{i}@example.jp", due_at=AT,
            next_attempt_at=AT, sent_at=AT, opened_at=opened,
            clicked_at=AT - dt.timedelta(minutes=30) if rng.random() < 0.2 else None))
    before = {d.pk: fasttrack.DeliveryState(d.pk, d.workspace_id, d.contact_id, d.channel, d.step_id, d.run_id,
                                            d.opened_at, d.clicked_at) for d in deliveries}
    batch = []
    for k in range(60):
        kind = rng.choice([fasttrack.OPEN, fasttrack.CLICK])
        batch.append(fasttrack.Response(kind, rng.choice([*before, 10**9]), AT + dt.timedelta(seconds=k),
                                        rng.choice(["phone", "scanner bot"]), rng.random() < 0.25,
                                        f"https://example.jp/{k}" if kind == fasttrack.CLICK else ""))
    expected = fasttrack.plan(batch, before)

    async def write():
        pg = await groupcommit._connect()
        try:
            await fasttrack._write_async(pg, batch)
        finally:
            await pg.close()

    asyncio.run(write())
    after = {d.pk: (d.opened_at, d.clicked_at) for d in Delivery.objects.filter(pk__in=before)}
    assert {pk: stamps for pk, stamps in after.items() if stamps != before[pk][6:]} == expected.stamps
    written = Fact.objects.filter(subject_type="messaging.delivery").order_by("pk")
    assert [(x.workspace_id, x.kind, x.occurred_at, x.contact_id, x.subject_id, x.data) for x in written] == [
        (ws, kind, at, contact, subject, data) for ws, kind, at, contact, subject, data in expected.facts]
