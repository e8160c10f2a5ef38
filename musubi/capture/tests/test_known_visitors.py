"""Clicks count for the person who made them: earlier clicks once they opt in or join on LINE, later clicks as
they happen — on the fast path, on Django's, on both databases."""

import datetime as dt
import uuid

import pytest
from django.db import connection

from musubi.capture import fastlink, points, services
from musubi.capture.models import Click, KnownVisitor
from musubi.capture.tests.factories import capture_point, entry, owner_actor
from musubi.capture.tests.test_fastlink import get
from musubi.contacts import services as contacts
from musubi.kernel import clock
from musubi.kernel.models import Fact

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
CLICKED_THIS_WEEK = {"conditions": [{"type": "event", "kind": "link.clicked", "op": "within", "days": 7}]}


@pytest.fixture
def link(workspace):
    fastlink._links.clear()
    source = services.create_source(workspace=workspace, actor=owner_actor(), kind="store_spot", name="テーブル12")
    return services.create_link(workspace=workspace, actor=owner_actor(), source_id=source.pk,
                                target_url="https://izakaya.example.jp/menu")


def click(link, visitor=None, **environ):
    """A click on the fast path, as a phone makes it; returns the visitor id the answer set."""
    cookie = {"HTTP_COOKIE": f"mvid={visitor}"} if visitor else {}
    _body, answered = get(f"/r/{link.code}", **cookie, **environ)
    return answered["headers"]["Set-Cookie"].split(";")[0].split("=")[1]


def clicked_this_week(workspace):
    return set(contacts.members(workspace=workspace, definition=CLICKED_THIS_WEEK).values_list("pk", flat=True))


def person_clicks(contact_id):
    return list(Fact.objects.filter(kind="link.clicked", contact_id=contact_id).order_by("occurred_at")
                .values_list("subject_id", "occurred_at", "source_id"))


@pytest.fixture
def _writer_stops():
    yield
    fastlink._writer.stop()  # or the test database could not be dropped while the thread holds a connection


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_writer_stops")
def test_clicks_before_an_opt_in_count_for_the_person_once_and_later_clicks_as_they_happen(workspace, link):
    visitor = click(link)
    click(link, visitor, HTTP_USER_AGENT="facebookexternalhit/1.1")  # a link preview: never a person's click
    click(link, visitor)
    earlier = list(Click.objects.filter(is_bot=False).order_by("pk").values_list("pk", "at"))
    point = capture_point(workspace)
    submission = points.submit(point=point, entry=entry(visitor_id=visitor))
    assert clicked_this_week(workspace) == {submission.contact_id}
    expected = [(str(pk), at, link.source_id) for pk, at in earlier]
    assert person_clicks(submission.contact_id) == expected  # each click's own time, not the opt-in's
    assert Fact.objects.filter(kind="link.clicked", contact_id=None).count() == 2  # as recorded at click time

    points.submit(point=point, entry=entry(visitor_id=visitor))  # the same person opts in again
    assert person_clicks(submission.contact_id) == expected

    click(link, visitor)  # a later click carries the person at once
    later = Click.objects.order_by("-pk").first()
    assert person_clicks(submission.contact_id) == [*expected, (str(later.pk), later.at, link.source_id)]
    points.submit(point=point, entry=entry(visitor_id=visitor))  # and is not recorded a second time
    assert len(person_clicks(submission.contact_id)) == 3
    assert Click.objects.filter(is_bot=False).count() == 3  # counts of clicks read the clicks


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_writer_stops")
def test_a_known_browser_in_one_workspace_is_a_stranger_in_another(workspace, other_workspace, link):
    visitor = click(link)
    submission = points.submit(point=capture_point(workspace), entry=entry(visitor_id=visitor))
    source = services.create_source(workspace=other_workspace, actor=owner_actor(), kind="website", name="サイト")
    elsewhere = services.create_link(workspace=other_workspace, actor=owner_actor(), source_id=source.pk,
                                     target_url="https://other.example.jp/")
    click(elsewhere, visitor)
    services.follow_link(code=elsewhere.code, ip="203.0.113.1", user_agent=PHONE, referrer="", visitor_id=visitor)
    assert Fact.objects.filter(workspace=other_workspace, kind="link.clicked").exclude(contact_id=None).count() == 0
    assert clicked_this_week(other_workspace) == set()
    assert len(person_clicks(submission.contact_id)) == 1


def test_django_s_path_records_a_known_browser_s_click_for_the_person(workspace, link):
    visitor = services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="",
                                   visitor_id=None).visitor_id
    submission = points.submit(point=capture_point(workspace), entry=entry(visitor_id=visitor))
    services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="", visitor_id=visitor)
    clicks = list(Click.objects.order_by("pk").values_list("pk", flat=True))
    assert [subject for subject, _at, _source in person_clicks(submission.contact_id)] == [str(c) for c in clicks]
    points.submit(point=capture_point(workspace), entry=entry(visitor_id=visitor))
    assert len(person_clicks(submission.contact_id)) == 2


def test_only_clicks_within_the_attribution_window_are_recorded_for_the_person(workspace, link, settings):
    settings.MUSUBI_ATTRIBUTION_DAYS = 30
    with clock.travel(-dt.timedelta(days=31)):
        visitor = services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="",
                                       visitor_id=None).visitor_id
    with clock.travel(-dt.timedelta(days=29)):
        services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="", visitor_id=visitor)
    submission = points.submit(point=capture_point(workspace), entry=entry(visitor_id=visitor))
    recent = Click.objects.order_by("-at").first()
    assert [subject for subject, _at, _source in person_clicks(submission.contact_id)] == [str(recent.pk)]
    assert clicked_this_week(workspace) == set()  # the click was 29 days ago


def test_with_double_opt_in_clicks_count_for_the_person_once_they_confirm(workspace, link):
    visitor = services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="",
                                   visitor_id=None).visitor_id
    point = capture_point(workspace, double_opt_in=True)
    submission = points.submit(point=point, entry=entry(visitor_id=visitor))
    # Whoever typed the address is not known to own it yet: the browser is not theirs.
    assert not person_clicks(submission.contact_id) and not KnownVisitor.objects.exists()
    points.confirm(point=point, token=points.confirm_token(submission), ip_address="198.51.100.8", user_agent="Mail")
    assert len(person_clicks(submission.contact_id)) == 1
    assert clicked_this_week(workspace) == {submission.contact_id}


def test_an_erased_person_s_browser_is_a_stranger_again(workspace, link):
    visitor = services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="",
                                   visitor_id=None).visitor_id
    submission = points.submit(point=capture_point(workspace), entry=entry(visitor_id=visitor))
    contacts.erase(workspace=workspace, actor=owner_actor(), contact_id=submission.contact_id)
    assert not KnownVisitor.objects.exists()
    services.follow_link(code=link.code, ip="203.0.113.1", user_agent=PHONE, referrer="", visitor_id=visitor)
    assert Fact.objects.filter(kind="link.clicked", contact_id=None).count() == 2
    assert len(person_clicks(submission.contact_id)) == 1  # recorded before the erasure: pseudonymous history


@pytest.mark.django_db(transaction=True)
def test_the_fast_path_finds_a_known_browser_through_an_index(workspace):
    if connection.vendor != "postgresql":
        pytest.skip("the plan asked is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT v.contact_id FROM unnest(%s::bigint[], %s::varchar[]) AS c(w, visitor) "
                       "LEFT JOIN capture_knownvisitor v ON v.workspace_id = c.w AND v.visitor_id = c.visitor",
                       [[workspace.pk], [str(uuid.uuid4())]])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "knownvisitor_unique" in plan, plan
