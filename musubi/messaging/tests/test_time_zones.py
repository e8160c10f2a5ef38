"""A person's own time zone: "day 3 at 09:00" and quiet hours are kept where the person is, learnt from their
browser at the opt-in, set by the owner on the contact page or through the API, and the workspace's otherwise."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from musubi.capture import points
from musubi.capture.tests import factories as capture
from musubi.contacts import services as contacts
from musubi.contacts.models import Contact
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging import enrollments
from musubi.messaging.choices import Timing
from musubi.messaging.models import Enrollment
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo, 17:00 the day before in Los Angeles


def _day_one_at_nine(workspace):
    first = f.email_template(workspace, name="day 0")
    second = f.email_template(workspace, name="day 1")
    return f.sequence(workspace, steps=[
        {"template_id": first.pk, "timing": Timing.DAY_AT, "day": 1, "at_time": dt.time(9, 0)},
        {"template_id": second.pk, "timing": Timing.DAY_AT, "day": 2, "at_time": dt.time(9, 0)}])


def test_timed_steps_arrive_at_nine_where_each_person_is(workspace):
    sequence = _day_one_at_nine(workspace)
    tokyo = f.person(workspace, "tokyo@example.jp")
    la = f.person(workspace, "la@example.com")
    contacts.set_time_zone(workspace=workspace, contact=la, zone="America/Los_Angeles")
    la.refresh_from_db()
    with clock.frozen(START):
        in_tokyo = enrollments.enroll(sequence=sequence, contact=tokyo)
        in_la = enrollments.enroll(sequence=sequence, contact=la)
    # Entered on 2 November in Tokyo and on 1 November in Los Angeles (PST, UTC-8): day 1 is the next day.
    assert in_tokyo.next_due_at == dt.datetime(2026, 11, 3, 0, 0, tzinfo=dt.UTC)
    assert in_la.next_due_at == dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    # The scheduler schedules the step after it in the person's zone too.
    with clock.frozen(dt.datetime(2026, 11, 3, 0, 0, tzinfo=dt.UTC)):
        enrollments.run_scheduler()
    assert Enrollment.objects.get(pk=in_la.pk).next_due_at == dt.datetime(2026, 11, 3, 17, 0, tzinfo=dt.UTC)
    assert Enrollment.objects.get(pk=in_tokyo.pk).next_due_at == dt.datetime(2026, 11, 4, 0, 0, tzinfo=dt.UTC)


def test_a_time_zone_that_does_not_exist_is_refused_by_name_and_changes_nothing(workspace):
    person = f.person(workspace, "a@example.jp")
    with pytest.raises(InvalidInput) as refused:
        contacts.set_time_zone(workspace=workspace, contact=person, zone="Mars/Olympus")
    assert "time_zone" in refused.value.fields
    assert Contact.objects.get(pk=person.pk).time_zone == ""


def test_the_browser_zone_at_an_opt_in_is_kept_once_and_nonsense_is_ignored(workspace):
    point = capture.capture_point(workspace)
    points.submit(point=point, entry=capture.entry(email="a@example.jp", time_zone="Europe/Paris"))
    points.submit(point=point, entry=capture.entry(email="b@example.jp", time_zone="<script>"))
    a = contacts.find_by_identity(workspace=workspace, kind="email", value="a@example.jp")
    b = contacts.find_by_identity(workspace=workspace, kind="email", value="b@example.jp")
    assert (a.time_zone, b.time_zone) == ("Europe/Paris", "")
    # A later opt-in from another browser does not replace a zone already known.
    points.submit(point=point, entry=capture.entry(email="a@example.jp", time_zone="Asia/Seoul"))
    assert Contact.objects.get(pk=a.pk).time_zone == "Europe/Paris"


def test_the_api_sets_and_clears_a_time_zone_and_refuses_a_bad_one(workspace, owner_key):
    def post(body):
        return Client().post("/api/v1/contacts", data=json.dumps(body), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {owner_key}")

    made = post({"email": "tz@example.jp", "time_zone": "America/New_York"})
    assert made.status_code == 201 and made.json()["time_zone"] == "America/New_York"
    refused = post({"email": "new@example.jp", "time_zone": "Nowhere/Land"})
    assert refused.status_code == 400 and "time_zone" in refused.json()["error"]["fields"]
    assert not contacts.find_by_identity(workspace=workspace, kind="email", value="new@example.jp")
    cleared = post({"email": "tz@example.jp", "time_zone": ""})
    assert cleared.status_code == 200 and cleared.json()["time_zone"] == ""


def test_the_owner_sets_a_time_zone_on_the_contact_page(workspace, owner_client):
    person = f.person(workspace, "page@example.jp")
    url = f"/w/{workspace.slug}/contacts/{person.pk}/time-zone/"
    assert owner_client.post(url, {"time_zone": "Asia/Singapore"}).status_code == 302
    assert Contact.objects.get(pk=person.pk).time_zone == "Asia/Singapore"
    page = owner_client.get(f"/w/{workspace.slug}/contacts/{person.pk}/").content.decode()
    assert "Asia/Singapore" in page
    owner_client.post(url, {"time_zone": "Atlantis"})
    assert Contact.objects.get(pk=person.pk).time_zone == "Asia/Singapore"
