"""Faults the engine must survive: a mail server that is away, that refuses a mailbox for good, and LINE
steps pushed once with their own retry keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from musubi.capture import line as capture_line
from musubi.contacts import services as contacts
from musubi.kernel import clock
from musubi.messaging import enrollments
from musubi.messaging.choices import Outcome
from musubi.messaging.models import Delivery
from musubi.messaging.tests import factories as f
from musubi.testing.smtp import Inbox
from musubi.testing.smtp import free_port as _free_port

pytestmark = pytest.mark.django_db(transaction=True)
START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


def _mailer(port: int) -> dict[str, Any]:
    return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}}


def test_steps_due_while_the_mail_server_is_down_are_sent_later_once_each(workspace, settings, run_worker):
    f.sender(workspace)
    a, b = f.email_template(workspace, name="A", subject="A"), f.email_template(workspace, name="B", subject="B")
    seq = f.sequence(workspace, steps=[{"template_id": a.pk}, {"template_id": b.pk, "delay_minutes": 60}])
    port = _free_port()
    settings.MAILERS = _mailer(port)  # nothing listens there yet
    with clock.frozen(START):
        for i in range(3):
            enrollments.enroll(sequence=seq, contact=f.person(workspace, f"p{i}@example.jp", name=f"客{i}"))
        run_worker()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert "connect" in Delivery.objects.first().last_error.lower()
    inbox = Inbox(host="127.0.0.1", port=port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for hours in (1, 2, 3, 6):
            with clock.frozen(START + dt.timedelta(hours=hours)):
                run_worker()
    finally:
        controller.stop()
    got = sorted((m["To"], m["Subject"]) for m in inbox.messages)
    assert got == sorted((f"p{i}@example.jp", s) for i in range(3) for s in "AB")


class RefusingInbox(Inbox):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.jp>: Recipient address rejected: User unknown"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_hard_bounce_suppresses_the_address_and_a_4xx_is_retried(workspace, settings, run_worker):
    f.sender(workspace)
    port = _free_port()
    inbox = RefusingInbox(host="127.0.0.1", port=port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = _mailer(port)
    template = f.email_template(workspace)
    seq = f.sequence(workspace, steps=[{"template_id": template.pk}])
    try:
        people = {name: f.person(workspace, f"{name}@example.jp", name=name) for name in ("gone", "busy", "fine")}
        with clock.frozen(START):
            for person in people.values():
                enrollments.enroll(sequence=seq, contact=person)
            run_worker()
    finally:
        controller.stop()
    outcome = {d.address: (d.status, d.outcome) for d in Delivery.objects.all()}
    assert outcome == {"gone@example.jp": ("failed", Outcome.BOUNCED), "busy@example.jp": ("pending", ""),
                       "fine@example.jp": ("done", Outcome.SENT)}
    assert not contacts.marketing_allowed(workspace=workspace, contact=people["gone"], channel="email",
                                          address="gone@example.jp")
    assert contacts.marketing_allowed(workspace=workspace, contact=people["busy"], channel="email",
                                      address="busy@example.jp")
    assert [m["To"] for m in inbox.messages] == ["fine@example.jp"]


def test_a_line_step_is_pushed_once_with_its_own_retry_key_and_personalised(workspace, line_api, run_worker):
    capture_line.connect_channel(workspace=workspace, actor=f.OWNER, name="居酒屋", channel_id="2001234567",
                                 channel_secret="a" * 32, access_token="t" * 40, greeting="")
    template = f.line_template(workspace, texts=["{{ name }}さん、ご来店ありがとうございました！"])
    seq = f.sequence(workspace, steps=[{"template_id": template.pk, "delay_minutes": 5}])
    friends = [f.person(workspace, line=f"U{n:032x}", name=f"友{n}") for n in range(2)]
    with clock.frozen(START):
        for friend in friends:
            enrollments.enroll(sequence=seq, contact=friend)
    line_api.fail_next = [500]
    with clock.frozen(START + dt.timedelta(minutes=5)):
        run_worker()
    for minutes in (10, 30, 60):
        with clock.frozen(START + dt.timedelta(minutes=minutes)):
            run_worker()
    assert sorted(t for p in line_api.pushes for t in [p["to"]]) == sorted(f"U{n:032x}" for n in range(2))
    assert line_api.delivered_to(f"U{0:032x}") == ["友0さん、ご来店ありがとうございました！"]
    keys = [k for _m, path, k in line_api.requests if path.endswith("/push")]
    assert len(keys) == 3 and len(set(keys)) == 2  # the failed push was retried with the same key
