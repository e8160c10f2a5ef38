"""Sequences end to end: an opt-in starts one, the scheduler queues due steps, the worker sends them to a real
SMTP server, once, at the right times."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from musubi.capture import points
from musubi.capture.tests import factories as capture
from musubi.contacts import services as contacts
from musubi.kernel import clock
from musubi.messaging import authoring, enrollments
from musubi.messaging.choices import EnrollmentStatus, Outcome, Timing, Trigger
from musubi.messaging.models import Delivery, Enrollment
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo


def _three_emails(workspace):
    day0 = f.email_template(workspace, name="day 0", subject="ようこそ {{ name }}様")
    day3 = f.email_template(workspace, name="day 3", subject="3日目のご案内")
    day7 = f.email_template(workspace, name="day 7", subject="7日目：定期便のご案内")
    return [{"template_id": day0.pk},
            {"template_id": day3.pk, "timing": Timing.DAY_AT, "day": 3, "at_time": dt.time(9, 0)},
            {"template_id": day7.pk, "timing": Timing.DAY_AT, "day": 7, "at_time": dt.time(9, 0)}]


def test_an_optin_starts_the_sequence_and_days_0_3_7_arrive_once_each(workspace, smtp, run_worker):
    f.sender(workspace)
    point = capture.capture_point(workspace)
    f.sequence(workspace, steps=_three_emails(workspace), trigger=Trigger.OPTIN, trigger_ref=point.pk)
    with clock.frozen(START):
        points.submit(point=point, entry=capture.entry(email="hanako@example.jp"))
        run_worker()
    assert [m["Subject"] for m in smtp.messages] == ["ようこそ 山田花子様"]
    # Day 3 at 09:00 in Tokyo is 2026-11-05 00:00 UTC, START + 2 days 23 hours; day 7 is 4 days later.
    for hours, expected in ((24, 1), (70.9, 1), (71, 2), (100, 2), (166.9, 2), (167, 3), (720, 3)):
        with clock.frozen(START + dt.timedelta(hours=hours)):
            run_worker()
        assert len(smtp.messages) == expected, f"after {hours} hours"
    assert [m["Subject"] for m in smtp.messages][1:] == ["3日目のご案内", "7日目：定期便のご案内"]
    enrollment = Enrollment.objects.get()
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert Delivery.objects.filter(outcome=Outcome.SENT).count() == 3


def test_a_person_in_a_sequence_cannot_enter_it_twice_and_reentry_follows_the_rule(workspace):
    template = f.email_template(workspace)
    once = f.sequence(workspace, steps=[{"template_id": template.pk}])
    again = f.sequence(workspace, name="again", steps=[{"template_id": template.pk}], reentry="after_finish")
    person = f.person(workspace, "a@example.jp")
    assert enrollments.enroll(sequence=once, contact=person) is not None
    assert enrollments.enroll(sequence=once, contact=person) is None
    first = enrollments.enroll(sequence=again, contact=person)
    assert enrollments.enroll(sequence=again, contact=person) is None  # still in it
    enrollments.stop(enrollment=first, status=EnrollmentStatus.COMPLETED)
    second = enrollments.enroll(sequence=again, contact=person)
    assert second is not None and second.round == 2
    enrollments.stop(enrollment=Enrollment.objects.get(sequence=once), status=EnrollmentStatus.COMPLETED)
    assert enrollments.enroll(sequence=once, contact=person) is None


def test_a_step_due_in_quiet_hours_waits_for_the_morning(workspace, smtp, run_worker):
    f.sender(workspace)
    template = f.email_template(workspace)
    seq = f.sequence(workspace, steps=[{"template_id": template.pk, "delay_minutes": 60}],
                     quiet_start=dt.time(21, 0), quiet_end=dt.time(8, 0))
    person = f.person(workspace, "night@example.jp")
    late = dt.datetime(2026, 11, 2, 12, 30, tzinfo=dt.UTC)  # 21:30 in Tokyo; due at 22:30
    with clock.frozen(late):
        enrollment = enrollments.enroll(sequence=seq, contact=person)
    assert enrollment.next_due_at == dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.UTC)  # 08:00 next morning
    with clock.frozen(late + dt.timedelta(hours=2)):
        run_worker()
    assert smtp.messages == []
    with clock.frozen(dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.UTC)):
        run_worker()
    assert len(smtp.messages) == 1


def test_the_goal_ends_the_sequence_and_conditions_skip_steps(workspace, smtp, run_worker):
    f.sender(workspace)
    a, b, c = (f.email_template(workspace, name=n, subject=n) for n in ("A", "B", "C"))
    seq = f.sequence(workspace, goal_tag="買った", steps=[
        {"template_id": a.pk}, {"template_id": b.pk, "delay_minutes": 10, "only_if_tag": "興味あり"},
        {"template_id": c.pk, "delay_minutes": 10}])
    keen, plain = f.person(workspace, "keen@example.jp"), f.person(workspace, "plain@example.jp", name="鈴木")
    contacts.tag(workspace=workspace, contact=keen, names=["興味あり"])
    with clock.frozen(START):
        enrollments.enroll(sequence=seq, contact=keen)
        enrollments.enroll(sequence=seq, contact=plain)
        run_worker()
    with clock.frozen(START + dt.timedelta(minutes=10)):
        run_worker()
    contacts.tag(workspace=workspace, contact=keen, names=["買った"])
    with clock.frozen(START + dt.timedelta(minutes=20)):
        run_worker()
    got = sorted((m["To"], m["Subject"]) for m in smtp.messages)
    assert got == [("keen@example.jp", "A"), ("keen@example.jp", "B"), ("plain@example.jp", "A"),
                   ("plain@example.jp", "C")]
    assert Enrollment.objects.get(contact=keen).status == EnrollmentStatus.GOAL
    assert Delivery.objects.get(contact=plain, template=b).outcome == Outcome.SKIPPED


def test_editing_a_sequence_never_resends_a_step(workspace, smtp, run_worker):
    f.sender(workspace)
    a, b = f.email_template(workspace, name="A", subject="A"), f.email_template(workspace, name="B", subject="B")
    seq = f.sequence(workspace, steps=[{"template_id": a.pk}, {"template_id": b.pk, "delay_minutes": 60}])
    with clock.frozen(START):
        enrollments.enroll(sequence=seq, contact=f.person(workspace, "x@example.jp"))
        run_worker()
    step_a = seq.steps.get(position=1)
    authoring.update_step(workspace=workspace, actor=f.OWNER, step_id=step_a.pk,
                          data=authoring.StepInput(template_id=b.pk, delay_minutes=5))
    with clock.frozen(START + dt.timedelta(hours=2)):
        run_worker()
        run_worker()
    assert [m["Subject"] for m in smtp.messages] == ["A", "B"]


def test_unsubscribed_or_unconsented_contacts_get_nothing_checked_at_sending(workspace, smtp, run_worker):
    f.sender(workspace)
    template = f.email_template(workspace)
    seq = f.sequence(workspace, steps=[{"template_id": template.pk, "delay_minutes": 30}])
    keeps, leaves = f.person(workspace, "keeps@example.jp"), f.person(workspace, "leaves@example.jp", name="b")
    never = f.person(workspace, "never@example.jp", name="c", consent=False)
    with clock.frozen(START):
        for person in (keeps, leaves, never):
            enrollments.enroll(sequence=seq, contact=person)
    contacts.suppress(workspace=workspace, channel="email", value="leaves@example.jp", reason="unsubscribed")
    with clock.frozen(START + dt.timedelta(hours=1)):
        run_worker()
    assert [m["To"] for m in smtp.messages] == ["keeps@example.jp"]
    # Who unsubscribed is out of the sequence; who never consented is refused at sending and may still consent.
    assert {d.contact_id: d.outcome for d in Delivery.objects.all()} == {
        keeps.pk: Outcome.SENT, never.pk: Outcome.SUPPRESSED}
    assert Enrollment.objects.get(contact=leaves).status == EnrollmentStatus.UNSUBSCRIBED


def test_an_unsubscribe_ends_the_enrollment_when_no_remaining_channel_can_reach_them(workspace, smtp, run_worker):
    f.sender(workspace)
    mail = f.email_template(workspace)
    line = f.line_template(workspace)
    emails = f.sequence(workspace, steps=[{"template_id": mail.pk}, {"template_id": mail.pk, "delay_minutes": 60}])
    mixed = f.sequence(workspace, name="mixed", steps=[{"template_id": mail.pk},
                                                       {"template_id": line.pk, "delay_minutes": 60}])
    leaves = f.person(workspace, "leaves@example.jp", line="U" + "a" * 32)
    withdraws = f.person(workspace, "withdraws@example.jp", name="b")
    stays = f.person(workspace, "stays@example.jp", name="c")
    with clock.frozen(START):
        for person in (leaves, withdraws, stays):
            enrollments.enroll(sequence=emails, contact=person)
        enrollments.enroll(sequence=mixed, contact=leaves)
        run_worker()
    assert len(smtp.messages) == 4
    contacts.suppress(workspace=workspace, channel="email", value="leaves@example.jp", reason="unsubscribed")
    contacts.record_consent(workspace=workspace, contact=withdraws, channel="email", address="withdraws@example.jp",
                            wording="test", granted=False)
    later = START + dt.timedelta(hours=2)
    with clock.frozen(later):
        run_worker()
    assert [m["To"] for m in smtp.messages[4:]] == ["stays@example.jp"]
    for person in (leaves, withdraws):
        ended = Enrollment.objects.get(sequence=emails, contact=person)
        assert (ended.status, ended.next_due_at, ended.finished_at) == (EnrollmentStatus.UNSUBSCRIBED, None, later)
        assert Delivery.objects.filter(contact=person, step__sequence=emails).count() == 1  # only the first step
    assert Enrollment.objects.get(sequence=emails, contact=stays).status != EnrollmentStatus.UNSUBSCRIBED
    # The mixed sequence's remaining step goes by LINE, which they did not refuse: it is queued.
    assert Enrollment.objects.get(sequence=mixed).status != EnrollmentStatus.UNSUBSCRIBED
    assert Delivery.objects.filter(contact=leaves, step__sequence=mixed, channel="line").exists()
    with translation.override("ja"):
        assert str(EnrollmentStatus.UNSUBSCRIBED.label) == "終了（配信停止）"


def test_without_complete_sender_details_nothing_is_sent_and_the_mail_waits(workspace, smtp, run_worker):
    template = f.email_template(workspace)
    seq = f.sequence(workspace, steps=[{"template_id": template.pk}])
    with clock.frozen(START):
        enrollments.enroll(sequence=seq, contact=f.person(workspace, "x@example.jp"))
        run_worker()
    assert smtp.messages == []
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and "sender details" in delivery.last_error
    f.sender(workspace)
    with clock.frozen(START + dt.timedelta(hours=1)):
        run_worker()
    assert len(smtp.messages) == 1
