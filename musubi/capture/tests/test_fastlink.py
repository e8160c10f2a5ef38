"""The lean tracking-link path: answered before Django, each click committed before its 302, in groups."""

import threading
import uuid

import pytest
from django.db import connection

from musubi.capture import fastlink, services
from musubi.capture.models import Click
from musubi.capture.tests.factories import owner_actor
from musubi.kernel.groupcommit import GroupCommit, _Waiting
from musubi.kernel.models import Fact

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture(autouse=True)
def _writer_closes_its_connection():
    yield
    fastlink._writer.stop()  # or the test database could not be dropped while the thread holds a connection


@pytest.fixture
def link(workspace):
    fastlink._links.clear()
    source = services.create_source(workspace=workspace, actor=owner_actor(), kind="store_spot", name="テーブル12")
    return services.create_link(workspace=workspace, actor=owner_actor(), source_id=source.pk,
                                target_url="https://izakaya.example.jp/メニュー?utm_source=owner")


def get(path, **environ):
    answered = {}

    def start_response(status, headers):
        answered["status"], answered["headers"] = status, dict(headers)

    body = fastlink.answer({"REQUEST_METHOD": "GET", "PATH_INFO": path, "REMOTE_ADDR": "203.0.113.9",
                            "HTTP_USER_AGENT": PHONE, "wsgi.url_scheme": "https", **environ}, start_response)
    return body, answered


def test_a_click_is_committed_and_answered_with_the_same_redirect_django_gives(link):
    _body, answered = get(f"/r/{link.code.lower()}")
    assert answered["status"] == "302 Found"
    location = answered["headers"]["Location"]
    assert location.startswith("https://izakaya.example.jp/%E3%83%A1%E3%83%8B%E3%83%A5%E3%83%BC?utm_source=owner")
    assert "utm_medium=store_spot" in location and f"utm_campaign={link.code}" in location
    click = Click.objects.get()
    assert f"mvid={click.visitor_id}" in answered["headers"]["Set-Cookie"] and "Secure" in answered["headers"][
        "Set-Cookie"]
    fact = Fact.objects.get(kind="link.clicked")
    assert (fact.source_id, fact.subject_id) == (link.source_id, str(click.pk))


def test_the_visitor_keeps_their_id_and_bots_are_kept_but_not_counted(link):
    visitor = str(uuid.uuid4())
    get(f"/r/{link.code}", HTTP_COOKIE=f"other=1; mvid={visitor}")
    get(f"/r/{link.code}", HTTP_USER_AGENT="facebookexternalhit/1.1")
    assert Click.objects.order_by("pk").values_list("visitor_id", "is_bot").first() == (visitor, False)
    assert Click.objects.filter(is_bot=True).count() == 1
    assert Fact.objects.filter(kind="link.clicked").count() == 1


def test_what_this_path_does_not_handle_goes_on_to_django(link):
    assert get("/r/NOSUCHCODE")[0] is None
    assert get(f"/r/{link.code}", REQUEST_METHOD="POST")[0] is None
    assert get(f"/r/{link.code}/extra")[0] is None
    assert get("/p/ABCDEFGH")[0] is None
    assert not Click.objects.exists()


def test_clicks_waiting_together_are_committed_in_one_transaction(link):
    writer = GroupCommit(name="test-click", write_sync=fastlink._write)
    waiting = [_Waiting(fastlink.PendingClick(link.workspace_id, link.pk, link.created_at, str(uuid.uuid4()), "x", "",
                                              "", False, link.code, link.source_id), done=threading.Event())
               for _ in range(25)]
    for w in waiting:
        writer._queue.put(w)
    writer._thread = threading.Thread(target=writer._run, daemon=True)  # started after: it finds all 25 waiting
    writer._thread.start()
    for w in waiting:
        assert w.done.wait(10) and w.error is None
    assert writer.commits == 1 and Click.objects.count() == 25
    assert Fact.objects.filter(kind="link.clicked", source_id=link.source_id).count() == 25
    writer.stop()


def test_concurrent_clicks_are_all_recorded_before_they_are_answered(link):
    answered = []
    barrier = threading.Barrier(16)

    def click():
        barrier.wait()
        _body, result = get(f"/r/{link.code}")
        answered.append((result["status"], Click.objects.filter(visitor_id=result["headers"]["Set-Cookie"]
                                                                 .split(";")[0].split("=")[1]).exists()))
        connection.close()  # each thread's own connection, or the test database cannot be dropped

    threads = [threading.Thread(target=click) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answered == [("302 Found", True)] * 16  # each answer came after its own click was visible
    assert Click.objects.count() == 16

