"""The site served over ASGI (musubi.config.asgi): tracking links on the event loop, everything else to Django."""

import asyncio

import pytest

from musubi.capture import fastlink, services
from musubi.capture.models import Click
from musubi.capture.tests.factories import owner_actor
from musubi.config.asgi import application
from musubi.kernel.models import Fact

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def link(workspace):
    fastlink._links.clear()
    source = services.create_source(workspace=workspace, actor=owner_actor(), kind="store_spot", name="テーブル12")
    yield services.create_link(workspace=workspace, actor=owner_actor(), source_id=source.pk,
                               target_url="https://izakaya.example.jp/menu")
    fastlink._writer.stop()  # or the test database could not be dropped while the thread holds a connection


def test_the_event_loop_path_records_the_click_before_its_302(link):
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():  # pragma: no cover — a tracking link has no body to read
        return {"type": "http.request"}

    fastlink._link(link.code)  # in the cache, as after the first click
    scope = {"type": "http", "method": "GET", "path": f"/r/{link.code}", "scheme": "https",
             "headers": [(b"user-agent", PHONE.encode()), (b"cookie", b"mvid=not-a-uuid")],
             "client": ("203.0.113.9", 1)}
    asyncio.run(application(scope, receive, send))
    start = sent[0]
    headers = dict(start["headers"])
    assert start["status"] == 302 and headers[b"location"].startswith(b"https://izakaya.example.jp/")
    click = Click.objects.get()
    assert headers[b"set-cookie"].startswith(f"mvid={click.visitor_id};".encode())  # a bad cookie gets a new id
    assert Fact.objects.get(kind="link.clicked").subject_id == str(click.pk)
    assert asyncio.run(fastlink.answer_async({**scope, "path": "/p/ABCDEFGH"}, send)) is False


def _scope(method, path, headers=()):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), *headers], "client": ("203.0.113.9", 1),
            "server": ("testserver", 80)}


def test_pages_run_on_a_pool_of_threads_so_a_slow_upload_holds_up_no_other_page():
    async def scenario():
        upload_started, upload_finishes = asyncio.Event(), asyncio.Event()
        upload_sent, page_sent = [], []

        async def slow_body():  # the upload's body arrives only when the test says so
            upload_started.set()
            await upload_finishes.wait()
            return {"type": "http.request", "body": b"username=a&password=b", "more_body": False}

        async def no_body():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def keep(into, message):
            into.append(message)

        upload = asyncio.create_task(application(
            _scope("POST", "/login/", [(b"content-type", b"application/x-www-form-urlencoded"),
                                       (b"content-length", b"21"), (b"cookie", b"csrftoken=" + b"a" * 32)]),
            slow_body, lambda m: keep(upload_sent, m)))
        await asyncio.wait_for(upload_started.wait(), 30)
        await asyncio.wait_for(application(_scope("GET", "/login/"), no_body, lambda m: keep(page_sent, m)), 30)
        assert page_sent[0]["status"] == 200 and upload_sent == []  # answered while the upload is still arriving
        upload_finishes.set()
        await asyncio.wait_for(upload, 30)
        assert upload_sent[0]["status"] == 403  # Django read the whole body looking for the form's CSRF token

    asyncio.run(scenario())
