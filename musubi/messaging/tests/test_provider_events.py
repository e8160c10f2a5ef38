"""An email service's webhooks through django-anymail (Postmark's format here): credentials checked before
anything is read, a hard bounce or a complaint suppresses the address once, inbound mail reaches the inbox."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from musubi.contacts import services as contacts
from musubi.contacts.models import Suppression
from musubi.kernel.models import Fact
from musubi.messaging import broadcasts, conversations
from musubi.messaging.models import Delivery, InboxMessage
from musubi.messaging.tests import factories as f
from musubi.messaging.tests.test_broadcasts import _broadcast

pytestmark = pytest.mark.django_db(transaction=True)
AUTH = "postmark:webhook-secret-for-tests"


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": AUTH}


def hook(kind: str, body: dict, *, auth: str = AUTH):
    header = "Basic " + base64.b64encode(auth.encode()).decode()
    return Client().post(f"/anymail/postmark/{kind}/", data=json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=header)


@pytest.fixture
def delivered(workspace, smtp, run_worker):
    f.sender(workspace)
    f.person(workspace, "gone@example.jp")
    broadcasts.start_run(broadcast=_broadcast(workspace, f.email_template(workspace)))
    run_worker()
    return Delivery.objects.get()


def bounce(delivery, **changes):
    body = {"RecordType": "Bounce", "ID": 4323372036, "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Description": "The server was unable to deliver",
            "Email": "gone@example.jp", "BouncedAt": "2026-11-22T10:00:00Z", "Inactive": True,
            "Metadata": {"musubi_delivery": str(delivery.pk)}}
    body.update(changes)
    return body


def test_a_hard_bounce_suppresses_the_address_once_and_wrong_credentials_change_nothing(workspace, delivered):
    assert hook("tracking", bounce(delivered), auth="postmark:wrong").status_code in (400, 401, 403)
    assert not Suppression.objects.exists()
    assert hook("tracking", bounce(delivered)).status_code == 200
    assert hook("tracking", bounce(delivered)).status_code == 200  # delivered twice
    [row] = Suppression.objects.all()
    assert (row.value, row.reason) == ("gone@example.jp", "bounced")
    assert Fact.objects.filter(kind="email.bounced").count() == 1
    delivered.refresh_from_db()
    assert delivered.outcome == "bounced"


def test_a_spam_complaint_is_a_hard_suppression(workspace, delivered):
    complaint = {"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint", "TypeCode": 512,
                 "MessageID": "m-1", "Email": "gone@example.jp", "BouncedAt": "2026-11-22T10:00:00Z",
                 "Metadata": {"musubi_delivery": str(delivered.pk)}}
    assert hook("tracking", complaint).status_code == 200
    assert Suppression.objects.get().reason == "complained"
    assert not contacts.marketing_allowed(workspace=workspace, contact=delivered.contact, channel="email",
                                          address="gone@example.jp")


def test_inbound_mail_to_the_reply_address_lands_in_that_workspace_inbox_once(workspace, other_workspace):
    f.sender(workspace)
    f.sender(other_workspace, reply_to="help@izakaya.example.jp", from_address="news@izakaya.example.jp")
    person = f.person(workspace, "hanako@example.jp")
    mail = {"FromFull": {"Email": "Hanako@Example.jp", "Name": "山田花子"}, "From": "hanako@example.jp",
            "ToFull": [{"Email": "help@kenko.example.jp", "Name": ""}], "To": "help@kenko.example.jp",
            "Subject": "定期便について", "TextBody": "次回の配送日を変更できますか？", "HtmlBody": "",
            "MessageID": "a8c1040e-db1c-4e18-ac79-bc5f64c7ce2c", "Date": "Sun, 22 Nov 2026 10:00:00 +0900",
            "Headers": [{"Name": "Message-ID", "Value": "<CAF=abc@mail.example.jp>"}], "Attachments": []}
    assert hook("inbound", mail).status_code == 200
    assert hook("inbound", mail).status_code == 200
    [kept] = InboxMessage.objects.all()
    assert (kept.workspace_id, kept.contact_id, kept.subject, kept.text) == (
        workspace.pk, person.pk, "定期便について", "次回の配送日を変更できますか？")
    [conversation] = conversations.conversations(workspace)
    assert conversation.unread == 1
    assert not conversations.conversations(other_workspace).exists()
