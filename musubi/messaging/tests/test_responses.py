"""What recipients do: open, click, one-click unsubscribe (RFC 8058) and the preference page — all without a
login, each stopping mail at once across every sequence and broadcast."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from musubi.contacts import services as contacts
from musubi.kernel.models import Fact
from musubi.messaging import authoring, broadcasts, enrollments, tracking
from musubi.messaging.choices import EnrollmentStatus
from musubi.messaging.models import Delivery, Enrollment
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _sent_mail(workspace, smtp, run_worker, email="hanako@example.jp"):
    f.sender(workspace)
    f.person(workspace, email, line="U" + "a" * 32)
    template = f.email_template(workspace)
    broadcasts.start_run(broadcast=authoring.create_broadcast(
        workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(name="お知らせ", template_id=template.pk)))
    run_worker()
    return smtp.messages[-1], Delivery.objects.get(address=email)


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_the_one_click_post_needs_no_cookie_answers_200_and_stops_every_sequence_at_once(workspace, smtp, run_worker):
    mail, delivery = _sent_mail(workspace, smtp, run_worker)
    url = mail["List-Unsubscribe"].strip("<>")
    response = Client(enforce_csrf_checks=True).post(_path(url), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and not response.has_header("Location")
    assert not contacts.marketing_allowed(workspace=workspace, contact=delivery.contact, channel="email",
                                          address="hanako@example.jp")
    # A sequence this person is in ends when its next step falls due: its only channel was refused.
    template = f.email_template(workspace, name="step")
    seq = f.sequence(workspace, steps=[{"template_id": template.pk}])
    enrollment = enrollments.enroll(sequence=seq, contact=delivery.contact)
    assert enrollment is not None
    run_worker()
    assert len(smtp.messages) == 1
    assert not Delivery.objects.filter(step__isnull=False).exists()
    assert Enrollment.objects.get(pk=enrollment.pk).status == EnrollmentStatus.UNSUBSCRIBED
    assert Fact.objects.filter(kind="consent.withdrawn").count() == 1


def test_the_unsubscribe_page_asks_first_and_a_forged_token_gets_nothing(workspace, smtp, run_worker):
    _mail, delivery = _sent_mail(workspace, smtp, run_worker)
    url = _path(tracking.unsubscribe_url(delivery.pk))
    page = Client().get(url)
    assert page.status_code == 200 and b"<form" in page.content
    assert contacts.marketing_allowed(workspace=workspace, contact=delivery.contact, channel="email",
                                      address="hanako@example.jp")  # a GET (a scanner) changes nothing
    forged = url.replace(f"/{delivery.pk}.", f"/{delivery.pk + 1}.")
    assert Client().post(forged).status_code == 404
    assert Client().post(url).status_code == 200
    assert not contacts.marketing_allowed(workspace=workspace, contact=delivery.contact, channel="email",
                                          address="hanako@example.jp")


def test_the_preference_page_can_stop_line_too(workspace, smtp, run_worker):
    _mail, delivery = _sent_mail(workspace, smtp, run_worker)
    url = _path(tracking.preferences_url(delivery.pk))
    assert Client().post(url, {"all": "1"}).status_code == 200
    for channel, address in (("email", "hanako@example.jp"), ("line", "U" + "a" * 32)):
        assert not contacts.marketing_allowed(workspace=workspace, contact=delivery.contact, channel=channel,
                                              address=address)


def test_opens_and_clicks_are_counted_once_and_prefetchers_are_not(workspace, smtp, run_worker):
    mail, delivery = _sent_mail(workspace, smtp, run_worker)
    html = mail.get_body(("html",)).get_content()
    pixel = _path(re.search(r'<img src="([^"]+/m/o/[^"]+)"', html).group(1))
    click = _path(re.search(r'href="([^"]+/m/c/[^"]+)"', html).group(1).replace("&amp;", "&"))
    scanner = Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel; bot)")
    assert scanner.get(pixel).status_code == 200
    delivery.refresh_from_db()
    assert delivery.opened_at is None
    reader = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)")
    reader.get(pixel)
    reader.get(pixel)
    response = reader.get(click)
    assert response.status_code == 302 and response["Location"] == "https://kenko.example.jp/guide?x=1&y=2"
    delivery.refresh_from_db()
    assert delivery.opened_at is not None and delivery.clicked_at is not None
    assert Fact.objects.filter(kind="email.opened").count() == 1
    assert Fact.objects.filter(kind="email.clicked", contact_id=delivery.contact_id).count() == 1
    # The signature covers the target: the link cannot be turned into a redirect elsewhere.
    assert reader.get(click.split("?u=")[0] + "?u=https%3A%2F%2Fevil.example").status_code == 404
