"""Broadcasts: counted before sending, planned into one delivery per person, sent once by email or LINE
(multicast in groups of 500 with saved retry keys), paused, resumed and cancelled without a second copy."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from musubi.capture import line as capture_line
from musubi.contacts import services as contacts
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, InvalidInput
from musubi.messaging import authoring, broadcasts
from musubi.messaging.choices import Outcome, RunState
from musubi.messaging.models import BroadcastRun, Delivery, LineRequest
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _line_channel(workspace):
    return capture_line.connect_channel(workspace=workspace, actor=f.OWNER, name="居酒屋むすび",
                                        channel_id="2001234567", channel_secret="a" * 32, access_token="t" * 40,
                                        greeting="")


def _friend(workspace, n: int, *, consent: bool = True):
    return f.person(workspace, line=f"U{n:032x}", name=f"友だち{n}", consent=consent)


def _broadcast(workspace, template, **changes):
    values = {"name": "雨の日の一斉配信", "template_id": template.pk}
    values.update(changes)
    return authoring.create_broadcast(workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(**values))


def test_an_email_broadcast_reaches_everyone_allowed_once_and_reports_progress(workspace, smtp, run_worker):
    f.sender(workspace)
    people = [f.person(workspace, f"p{i}@example.jp", name=f"客{i}") for i in range(7)]
    f.person(workspace, "no-consent@example.jp", consent=False)
    contacts.suppress(workspace=workspace, channel="email", value="p3@example.jp", reason="unsubscribed")
    broadcast = _broadcast(workspace, f.email_template(workspace, subject="{{ name }}様へ"))
    assert broadcasts.open_recipient_count(broadcast) == 6
    run, started = broadcasts.start_run(broadcast=broadcast)
    assert started
    run_worker()
    got = sorted(m["To"] for m in smtp.messages)
    assert got == sorted(f"p{i}@example.jp" for i in range(7) if i != 3)
    assert {m["Subject"] for m in smtp.messages} == {f"客{i}様へ" for i in range(7) if i != 3}
    run.refresh_from_db()
    assert run.state == RunState.FINISHED and run.planned == 8
    progress = broadcasts.progress(run)
    assert (progress["sent"], progress["suppressed"], progress["ended"], progress["total"]) == (6, 2, 8, 8)
    run_worker()
    assert len(smtp.messages) == 6
    del people


def test_each_mail_carries_the_legal_footer_one_click_unsubscribe_headers_and_tracked_links(workspace, smtp,
                                                                                              run_worker):
    f.sender(workspace)
    f.person(workspace, "hanako@example.jp")
    broadcasts.start_run(broadcast=_broadcast(workspace, f.email_template(workspace)))
    run_worker()
    [mail] = smtp.messages
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Unsubscribe"].startswith("<http") and "/m/u/" in mail["List-Unsubscribe"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for part in (text, html):
        assert "株式会社けんこう堂" in part and "東京都千代田区丸の内1-1-1" in part and "03-1234-5678" in part
        assert "/m/u/" in part  # the visible unsubscribe link
        assert "https://kenko.example.jp/guide" not in part.replace("%3A", ":").split("/m/c/")[0]
    assert "/m/c/" in html and "/m/o/" in html
    assert "/m/c/" in text


def test_an_email_broadcast_is_refused_without_the_sender_details(workspace):
    broadcast = _broadcast(workspace, f.email_template(workspace))
    with pytest.raises(InvalidInput) as refused:
        broadcasts.start_run(broadcast=broadcast)
    assert {"legal_name", "postal_address", "contact_info"} <= set(refused.value.fields)
    assert not BroadcastRun.objects.exists()


def test_the_same_idempotency_key_returns_the_first_run(workspace, smtp, run_worker):
    f.sender(workspace)
    f.person(workspace, "a@example.jp")
    broadcast = _broadcast(workspace, f.email_template(workspace))
    first, started = broadcasts.start_run(broadcast=broadcast, idempotency_key="rain-2026-11-22")
    again, started_again = broadcasts.start_run(broadcast=broadcast, idempotency_key="rain-2026-11-22")
    assert started and not started_again and again.pk == first.pk
    other, started_other = broadcasts.start_run(broadcast=broadcast, idempotency_key="rain-2026-11-23")
    assert started_other and other.number == 2
    run_worker()
    assert len(smtp.messages) == 2  # one per run, not three


def test_a_line_broadcast_goes_by_multicast_in_groups_of_at_most_500_to_friends_not_blocking(workspace, line_api,
                                                                                                run_worker):
    channel = _line_channel(workspace)
    friends = [_friend(workspace, n) for n in range(503)]
    contacts.suppress(workspace=workspace, channel="line", value=friends[5].identities.get().value, reason="blocked")
    broadcast = _broadcast(workspace, f.line_template(workspace), line_channel_id=channel.pk)
    assert broadcasts.open_recipient_count(broadcast) == 502
    broadcasts.start_run(broadcast=broadcast)
    run_worker()
    sizes = [len(m["to"]) for m in line_api.multicasts]
    assert len(sizes) == 2 and max(sizes) <= 500 and sum(sizes) == 502
    reached = [u for m in line_api.multicasts for u in m["to"]]
    assert len(reached) == len(set(reached)) == 502
    assert friends[5].identities.get().value not in reached
    keys = [key for method, path, key in line_api.requests if path == "/v2/bot/message/multicast"]
    assert len(set(keys)) == 2 and all(keys)
    assert Delivery.objects.filter(outcome=Outcome.SENT).count() == 502


def test_line_429_and_500_back_off_then_each_group_is_delivered_once(workspace, line_api, run_worker):
    channel = _line_channel(workspace)
    for n in range(3):
        _friend(workspace, n)
    broadcast = _broadcast(workspace, f.line_template(workspace), line_channel_id=channel.pk)
    broadcasts.start_run(broadcast=broadcast)
    line_api.fail_next = [429, 500]
    start = clock.now()
    run_worker()
    assert line_api.multicasts == []
    request = LineRequest.objects.get()
    assert request.status == "pending" and request.fixed and "LINE 429" in request.last_error
    for minutes in (1, 5, 30, 120):
        with clock.frozen(start + dt.timedelta(minutes=minutes)):
            run_worker()
    assert len(line_api.multicasts) == 1
    assert len({key for _m, path, key in line_api.requests if path.endswith("multicast")}) == 1


def test_a_request_repeated_after_a_crash_is_the_same_request_and_line_delivers_it_once(workspace, line_api,
                                                                                          run_worker):
    channel = _line_channel(workspace)
    friends = [_friend(workspace, n) for n in range(2)]
    broadcasts.start_run(broadcast=_broadcast(workspace, f.line_template(workspace), line_channel_id=channel.pk))
    run_worker()
    request = LineRequest.objects.get()
    assert len(line_api.multicasts) == 1
    # As if the worker died after LINE accepted the request but before recording it: the row is handed out
    # again, with the members and the key it saved.
    LineRequest.objects.filter(pk=request.pk).update(status="pending", next_attempt_at=clock.now())
    Delivery.objects.update(status="pending", outcome="")
    contacts.suppress(workspace=workspace, channel="line", value=friends[0].identities.get().value,
                      reason="blocked")
    run_worker()
    assert len(line_api.multicasts) == 1  # LINE answered 409 to the repeated key
    assert [r for r in line_api.requests if r[1].endswith("multicast")][-1][2] == str(request.retry_key)
    assert Delivery.objects.filter(outcome=Outcome.SENT).count() == 2


def test_pause_resume_and_cancel_never_send_twice(workspace, smtp, run_worker, settings):
    f.sender(workspace)
    for i in range(30):
        f.person(workspace, f"p{i}@example.jp")
    broadcast = _broadcast(workspace, f.email_template(workspace))
    run, _ = broadcasts.start_run(broadcast=broadcast)
    broadcasts.set_state(run=run, action="pause")
    run_worker()
    assert smtp.messages == []
    assert Delivery.objects.filter(run=run).count() == 30  # planned while paused, not sent
    broadcasts.set_state(run=run, action="resume")
    run_worker()
    assert len(smtp.messages) == 30
    second, _ = broadcasts.start_run(broadcast=broadcast)
    broadcasts.set_state(run=second, action="cancel")
    run_worker()
    assert len(smtp.messages) == 30
    second.refresh_from_db()
    assert second.state == RunState.CANCELLED
    with pytest.raises(Conflict) as refused:  # the message is in the reader's language; the code is stable
        broadcasts.set_state(run=second, action="resume")
    assert refused.value.code == "run_state"


def test_a_scheduled_broadcast_starts_once_at_its_time(workspace, smtp, run_worker):
    f.sender(workspace)
    f.person(workspace, "a@example.jp")
    at = clock.now() + dt.timedelta(hours=3)
    _broadcast(workspace, f.email_template(workspace), scheduled_at=at)
    run_worker()
    assert smtp.messages == []
    with clock.frozen(at + dt.timedelta(minutes=1)):
        run_worker()
        run_worker()
    assert len(smtp.messages) == 1
    assert BroadcastRun.objects.count() == 1


def test_a_run_plans_only_the_members_who_have_its_channel_so_its_counts_read_as_promised(workspace, line_api,
                                                                                          run_worker, owner_key):
    channel = _line_channel(workspace)
    friends = [_friend(workspace, n) for n in range(5)]
    _friend(workspace, 5, consent=False)
    blocked = _friend(workspace, 6)
    contacts.suppress(workspace=workspace, channel="line", value=blocked.identities.get().value, reason="blocked")
    mail_only = [f.person(workspace, f"m{i}@example.jp", name=f"客{i}") for i in range(3)]
    broadcast = _broadcast(workspace, f.line_template(workspace), line_channel_id=channel.pk)
    assert broadcasts.open_recipient_count(broadcast) == 5
    run, _started = broadcasts.start_run(broadcast=broadcast)
    run_worker()
    run.refresh_from_db()
    assert run.state == RunState.FINISHED and run.planned == 7
    assert not Delivery.objects.filter(contact__in=mail_only).exists()
    progress = broadcasts.progress(run)
    assert (progress["total"], progress["sent"], progress["suppressed"], progress["skipped"]) == (7, 5, 2, 0)
    runs = Client().get(f"/api/v1/broadcasts/{broadcast.pk}/runs", HTTP_AUTHORIZATION=f"Bearer {owner_key}")
    [listed] = runs.json()["results"]
    assert (listed["planned"], listed["progress"]["sent"], listed["progress"]["suppressed"],
            listed["progress"]["skipped"]) == (7, 5, 2, 0)
    # A mail to everyone walks only those with an email address: the LINE friends are not in it.
    f.sender(workspace)
    mail_run, _started = broadcasts.start_run(broadcast=_broadcast(workspace, f.email_template(workspace)))
    run_worker()
    mail_run.refresh_from_db()
    assert mail_run.planned == 3 and not Delivery.objects.filter(run=mail_run, contact__in=friends).exists()
