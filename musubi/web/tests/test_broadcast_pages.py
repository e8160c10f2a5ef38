"""Broadcast pages: making one with its count before sending, the confirmation that starts one run, the run's
progress, opens and clicks, pause, resume and cancel, LINE's monthly quota, the outbox and the delivery log."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import html
import re
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone, translation

from musubi.capture import line
from musubi.kernel.claims import WorkStatus
from musubi.kernel.models import Fact
from musubi.messaging import broadcasts, tracking
from musubi.messaging.choices import Outcome, RunState
from musubi.messaging.models import (
    Broadcast,
    BroadcastRun,
    Delivery,
    OutboxMessage,
)
from musubi.messaging.tests import factories as f
from musubi.web.tests.test_messaging_pages import _errors
from musubi.workspaces.models import AuditEntry
from musubi.workspaces.services import SYSTEM


def _email_broadcast(workspace, **changes):
    template = f.email_template(workspace)
    from musubi.messaging import authoring

    return authoring.create_broadcast(workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(
        **{"name": "秋のお知らせ", "template_id": template.pk, **changes}))


def test_the_owner_makes_a_broadcast_and_sees_the_count_before_sending(owner_client, workspace):
    f.sender(workspace)
    template = f.email_template(workspace)
    f.person(workspace, "a@example.jp")
    f.person(workspace, "b@example.jp")
    f.person(workspace, "c@example.jp", consent=False)
    response = owner_client.post("/w/kenko/messaging/broadcasts/new/", {"name": "秋のお知らせ",
                                                                         "template": template.pk})
    broadcast = Broadcast.objects.get()
    assert response["Location"] == f"/w/kenko/messaging/broadcasts/{broadcast.pk}/"
    page = owner_client.get(response["Location"]).content.decode()
    assert '<span class="number" id="recipient-count">2</span>' in page
    confirm = owner_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/").content.decode()
    assert "2人に今すぐ送信" in confirm
    assert not BroadcastRun.objects.exists()


def test_a_schedule_is_read_in_the_workspace_time_zone(owner_client, workspace):
    template = f.email_template(workspace)
    owner_client.post("/w/kenko/messaging/broadcasts/new/", {"name": "予約", "template": template.pk,
                                                              "scheduled_at": "2099-11-20T18:30"})
    assert Broadcast.objects.get().scheduled_at == dt.datetime(2099, 11, 20, 9, 30, tzinfo=dt.UTC)  # 18:30 Tokyo


def test_a_line_broadcast_without_an_account_is_named_and_not_saved(owner_client, workspace):
    template = f.line_template(workspace)
    response = owner_client.post("/w/kenko/messaging/broadcasts/new/", {"name": "雨", "template": template.pk})
    assert response.status_code == 400
    assert _errors(response.content.decode()) == ["配信に使うLINEアカウントを選んでください。"]
    assert not Broadcast.objects.exists()


def test_a_broadcast_in_the_past_is_named_and_not_saved(owner_client, workspace):
    template = f.email_template(workspace)
    response = owner_client.post("/w/kenko/messaging/broadcasts/new/", {"name": "昔", "template": template.pk,
                                                                         "scheduled_at": "2001-01-01T10:00"})
    assert "未来の日時を選んでください。" in _errors(response.content.decode())
    assert not Broadcast.objects.exists()


def test_a_send_without_the_sender_details_is_refused_and_says_why(owner_client, workspace):
    broadcast = _email_broadcast(workspace)
    page = owner_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/").content.decode()
    assert 'id="not-ready"' in page and "今すぐ送信" not in page
    response = owner_client.post(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/", {"key": "k1"}, follow=True)
    assert "送信者情報がそろうまでメールは送信できません" in response.content.decode()
    assert not BroadcastRun.objects.exists()


def test_sending_twice_from_one_confirmation_starts_one_run(owner_client, workspace):
    f.sender(workspace)
    broadcast = _email_broadcast(workspace)
    url = f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/"
    key = re.search(r'name="key" value="(\w+)"', owner_client.get(url).content.decode()).group(1)
    owner_client.post(url, {"key": key})
    again = owner_client.post(url, {"key": key}, follow=True)
    assert "すでに第1回として送信済みです。" in again.content.decode()
    assert BroadcastRun.objects.count() == 1


def test_sending_pausing_resuming_and_cancelling_are_in_the_audit_log(owner_client, workspace):
    f.sender(workspace)
    f.person(workspace, "a@example.jp")
    f.person(workspace, "b@example.jp", consent=False)
    broadcast = _email_broadcast(workspace)
    owner_client.post(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/", {"key": "k1"})
    owner_client.post(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/", {"key": "k1"})  # the same run
    run = BroadcastRun.objects.get()
    for action in ("pause", "resume", "cancel"):
        owner_client.post(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/runs/{run.pk}/state/", {"action": action})
    entries = list(AuditEntry.objects.filter(workspace=workspace, object_type="messaging.broadcast").order_by("pk")
                   .values_list("action", "changes"))
    assert entries[1:] == [
        ("messaging.broadcast_sent", {"name": "秋のお知らせ", "run": 1}),
        ("messaging.broadcast_paused", {"name": "秋のお知らせ", "run": 1}),
        ("messaging.broadcast_resumed", {"name": "秋のお知らせ", "run": 1}),
        ("messaging.broadcast_cancelled", {"name": "秋のお知らせ", "run": 1})]
    assert all(e.actor_user is not None for e in AuditEntry.objects.filter(action__startswith="messaging.broadcast_")
               .exclude(action="messaging.broadcast_created"))
    log = owner_client.get("/w/kenko/audit/").content.decode()
    for label in ("一斉配信を送信", "一斉配信を一時停止", "一斉配信を再開", "一斉配信を中止"):
        assert label in log


def test_a_scheduled_run_is_in_the_audit_log_as_the_system(workspace):
    f.sender(workspace)
    f.person(workspace, "a@example.jp")
    broadcast = _email_broadcast(workspace)
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert broadcasts.start_scheduled() == 1
    sent = AuditEntry.objects.get(action="messaging.broadcast_sent")
    assert (sent.actor_user, sent.actor_api_key, sent.changes) == (None, None, {"name": broadcast.name, "run": 1})


@pytest.mark.django_db(transaction=True)
def test_a_run_shows_its_progress_until_every_message_is_sent(owner_client, workspace, smtp, run_worker):
    f.sender(workspace)
    broadcast = _email_broadcast(workspace)
    for i in range(3):
        f.person(workspace, f"p{i}@example.jp")
    run, _started = broadcasts.start_run(broadcast=broadcast)
    url = f"/w/kenko/messaging/broadcasts/{broadcast.pk}/runs/{run.pk}/"
    polling = owner_client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in polling and 'value="0"' in polling
    run_worker()
    run_worker()
    done = owner_client.get(url).content.decode()
    assert '<progress max="100" value="100"' in done and "3件中 3件 完了" in done and "完了" in done
    assert 'hx-trigger' not in done  # finished: the bar stops asking
    assert len(smtp.messages) == 3
    assert "開封: 0件（0%） · クリック: 0件（0%）" in done  # nobody has read it yet
    first, second, _third = Delivery.objects.filter(run=run).order_by("pk")
    phone = {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
    reader = Client()
    assert reader.get(urlsplit(tracking.open_url(first.pk)).path, **phone).status_code == 200
    click = urlsplit(tracking.click_url(second.pk, "https://kenko.example.jp/teiki"))
    assert reader.get(f"{click.path}?{click.query}", **phone).status_code == 302  # a click counts as an open too
    read = owner_client.get(url).content.decode()
    assert "開封: 2件（67%）" in read and "クリック: 1件（33%）" in read
    # The list shows each broadcast's latest run the same way, in as many queries however many there are.
    with CaptureQueriesContext(connection) as one:
        listing = owner_client.get("/w/kenko/messaging/broadcasts/").content.decode()
    assert "送信済み: 3" in listing and "開封: 2件（67%） · クリック: 1件（33%）" in listing
    broadcasts.start_run(broadcast=_email_broadcast(workspace, name="冬のお知らせ"))
    run_worker()
    run_worker()
    _email_broadcast(workspace, name="未送信")
    with CaptureQueriesContext(connection) as three:
        listing = owner_client.get("/w/kenko/messaging/broadcasts/").content.decode()
    assert len(three.captured_queries) == len(one.captured_queries)
    assert listing.count("送信済み: 3") == 2 and "開封: 0件（0%） · クリック: 0件（0%）" in listing


def test_a_run_is_paused_resumed_and_cancelled_from_its_buttons(owner_client, workspace):
    f.sender(workspace)
    broadcast = _email_broadcast(workspace)
    run, _started = broadcasts.start_run(broadcast=broadcast)
    url = f"/w/kenko/messaging/broadcasts/{broadcast.pk}/runs/{run.pk}/state/"
    owner_client.post(url, {"action": "pause"})
    run.refresh_from_db()
    assert run.state == RunState.PAUSED
    page = owner_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/").content.decode()
    assert 'value="resume"' in page and 'value="pause"' not in page
    owner_client.post(url, {"action": "resume"})
    run.refresh_from_db()
    assert run.state == RunState.PLANNING
    owner_client.post(url, {"action": "cancel"})
    refused = owner_client.post(url, {"action": "resume"}, follow=True)
    assert "この配信は「中止」のため、その操作はできません。" in refused.content.decode()
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED


def test_staff_cannot_send_or_stop_a_broadcast(teammate_client, workspace):
    f.sender(workspace)
    broadcast = _email_broadcast(workspace)
    run, _started = broadcasts.start_run(broadcast=broadcast)
    assert teammate_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/").status_code == 200
    assert teammate_client.post(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/").status_code == 403
    assert teammate_client.post(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/runs/{run.pk}/state/",
                                {"action": "cancel"}).status_code == 403
    assert BroadcastRun.objects.get().state == RunState.PLANNING


def _line_broadcast(workspace, friends: int):
    channel = line.connect_channel(workspace=workspace, actor=SYSTEM, name="居酒屋むすび", channel_id="1234567890",
                                   channel_secret="a" * 32, access_token="t" * 40)
    for i in range(friends):
        f.person(workspace, name=f"友だち{i}", line=f"U{i:032x}")
    template = f.line_template(workspace)
    from musubi.messaging import authoring

    return authoring.create_broadcast(workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(
        name="雨の日", template_id=template.pk, line_channel_id=channel.pk))


def test_a_line_broadcast_shows_the_months_quota(owner_client, workspace, line_api):
    broadcast = _line_broadcast(workspace, friends=3)
    line_api.used = 50
    page = owner_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/").content.decode()
    assert "今月の送信数：200通中 50通、残り 150通" in page and 'id="over-quota"' not in page


def test_a_line_broadcast_over_the_quota_is_warned_about(owner_client, workspace, line_api):
    broadcast = _line_broadcast(workspace, friends=3)
    line_api.used = 198
    page = owner_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/send/").content.decode()
    assert "この配信には3通必要ですが、今月の残りは2通です。" in page


def test_a_quota_that_cannot_be_read_is_said_so(owner_client, workspace, line_api):
    broadcast = _line_broadcast(workspace, friends=1)
    line_api.quota_status = 401
    response = owner_client.get(f"/w/kenko/messaging/broadcasts/{broadcast.pk}/")
    assert response.status_code == 200
    assert "今月のメッセージ上限を読み取れませんでした" in response.content.decode()


# --- outbox and log ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_outbox_shows_each_kept_mail_and_the_log_filters_deliveries(owner_client, workspace, settings,
                                                                        run_worker):
    settings.MUSUBI_MARKETING_MAIL = "outbox"
    f.sender(workspace)
    broadcast = _email_broadcast(workspace)
    f.person(workspace, "kept@example.jp", name="保管太郎")
    f.person(workspace, "stopped@example.jp", name="停止花子", consent=False)
    broadcasts.start_run(broadcast=broadcast)
    run_worker()
    kept = OutboxMessage.objects.get()
    listing = owner_client.get("/w/kenko/messaging/outbox/").content.decode()
    assert "kept@example.jp" in listing and "保管太郎様、ありがとうございます" in listing
    mail = owner_client.get(f"/w/kenko/messaging/outbox/{kept.pk}/").content.decode()
    assert "List-Unsubscribe-Post" in mail and "送信者：株式会社けんこう堂" in mail
    assert 'sandbox=""' in mail and "srcdoc=" in mail
    # The date reads in the workspace's time (Japan), with the header as sent beside it.
    sent_at = email.utils.parsedate_to_datetime(email.message_from_string(kept.raw)["Date"])
    with translation.override("ja"), timezone.override("Asia/Tokyo"):
        local = formats.date_format(timezone.localtime(sent_at), "DATETIME_FORMAT")
    assert f"<dd class=\"details\">{local}（" in mail

    sent = owner_client.get("/w/kenko/messaging/deliveries/?state=sent").content.decode()
    assert "保管太郎" in sent and "停止花子" not in sent
    suppressed = owner_client.get("/w/kenko/messaging/deliveries/?state=suppressed&channel=email").content.decode()
    assert "停止花子" in suppressed and "保管太郎" not in suppressed
    assert "未送信：同意なし・配信停止" in suppressed
    line_only = owner_client.get("/w/kenko/messaging/deliveries/?channel=line").content.decode()
    assert "保管太郎" not in line_only and "停止花子" not in line_only
    assert Delivery.objects.filter(status=WorkStatus.DONE, outcome=Outcome.SENT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_reading_a_mail_in_the_outbox_records_nothing_about_its_recipient(owner_client, workspace, settings,
                                                                         run_worker):
    settings.MUSUBI_MARKETING_MAIL = "outbox"
    f.sender(workspace)
    person = f.person(workspace, "kept@example.jp", name="保管太郎")
    broadcasts.start_run(broadcast=_email_broadcast(workspace))
    run_worker()
    kept = OutboxMessage.objects.get()
    sent_html = email.message_from_string(kept.raw, policy=email.policy.default).get_body(("html",)).get_content()
    assert "/m/o/" in sent_html and "/m/c/" in sent_html  # the mail itself is tracked
    facts_before = Fact.objects.filter(contact_id=person.pk).count()
    page = owner_client.get(f"/w/kenko/messaging/outbox/{kept.pk}/").content.decode()
    preview = html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    assert '<a href="https://kenko.example.jp/guide?x=1&amp;y=2">' in preview
    assert "/m/o/" not in preview and "/m/c/" not in preview
    # What a browser showing the preview loads (pictures) or follows (links) on this site records nothing.
    on_site = [urlsplit(u) for u in re.findall(r'(?:src|href)="([^"]+)"', preview)
               if u.startswith(settings.MUSUBI_BASE_URL)]
    for url in on_site:
        Client().get(url.path, {"u": url.query[2:]} if url.query.startswith("u=") else {})
    assert Fact.objects.filter(contact_id=person.pk).count() == facts_before
    assert Delivery.objects.get().opened_at is None and Delivery.objects.get().clicked_at is None
