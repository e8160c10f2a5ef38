"""Conversations on LINE and by mail: a friend's message lands in the inbox once, a keyword is answered at
once through the free reply token (or by push once it has expired), and staff answer from the inbox."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from musubi.capture.tests.test_line import SECRET, USER, channel, event, post  # noqa: F401 - the channel fixture
from musubi.contacts import services as contacts
from musubi.contacts.models import ContactTag
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging import conversations
from musubi.messaging.models import Answer, InboxMessage
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def said(text, *, event_id=None, reply_token=None, timestamp=None):
    body = event("message", event_id=event_id)
    body |= {"replyToken": reply_token or uuid.uuid4().hex,
             "message": {"id": str(uuid.uuid4().int)[:18], "type": "text", "text": text, "quoteToken": "q"}}
    body["timestamp"] = _now_ms() if timestamp is None else timestamp
    return body


def _rule(workspace, **changes):
    values = {"name": "予約", "keywords": ["予約", "よやく"], "texts": ["{{ name }}さん、ご予約はこちら👉 https://izakaya.example.jp/r"],
              "tag": "予約したい"}
    values.update(changes)
    return conversations.save_auto_reply(workspace=workspace, actor=f.OWNER, **values)


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def test_a_keyword_is_answered_through_the_reply_token_and_tags_the_friend(workspace, channel, line_api,  # noqa: F811
                                                                           run_worker):
    _rule(workspace)
    line_api.names[USER] = "さとう"
    post(channel.channel_id, [event("follow")])
    message = said("予約", timestamp=_now_ms())
    assert post(channel.channel_id, [message]).status_code == 200
    assert post(channel.channel_id, [message]).status_code == 200  # LINE redelivered it
    run_worker()
    assert [m.text for m in InboxMessage.objects.filter(direction="in")] == ["予約"]
    [reply] = line_api.replies
    assert reply["replyToken"] == message["replyToken"]
    assert reply["messages"][0]["text"].endswith("ご予約はこちら👉 https://izakaya.example.jp/r")
    contact = contacts.find_by_identity(workspace=workspace, kind="line", value=USER)
    assert ContactTag.objects.filter(contact=contact, tag__name="予約したい").exists()
    assert not [p for p in line_api.pushes if "ご予約" in p["messages"][0]["text"]]  # the reply was free


def test_a_message_that_matches_no_keyword_waits_in_the_inbox_unread(workspace, channel, line_api,  # noqa: F811
                                                                      run_worker):
    _rule(workspace, match="exact")
    post(channel.channel_id, [said("明日の予約はできますか？")])  # contains the keyword, but not exactly
    run_worker()
    assert line_api.replies == []
    [contact] = conversations.conversations(workspace)
    assert contact.unread == 1 and contact.last_text == "明日の予約はできますか？"
    _rule(workspace, name="含む", keywords=["予約"], match="contains")
    post(channel.channel_id, [said("明後日の予約もできますか")])
    run_worker()
    assert len(line_api.replies) == 1


def test_staff_answer_later_by_push_once_even_when_retried(workspace, channel, line_api, run_worker):  # noqa: F811
    post(channel.channel_id, [said("駐車場はありますか？")])
    contact = contacts.find_by_identity(workspace=workspace, kind="line", value=USER)
    answer = conversations.answer(workspace=workspace, actor=f.OWNER, contact_id=contact.pk, channel="line",
                                  text="近くにコインパーキングがございます。")
    line_api.fail_next = [500]
    run_worker()
    with clock.frozen(clock.now() + dt.timedelta(minutes=5)):
        run_worker()
    assert line_api.delivered_to(USER) == ["近くにコインパーキングがございます。"]
    keys = {k for _m, path, k in line_api.requests if path.endswith("/push")}
    assert keys == {str(Answer.objects.get(message=answer).retry_key)}
    assert conversations.mark_read(workspace=workspace, contact_id=contact.pk) == 1


def test_an_expired_reply_token_falls_back_to_a_push(workspace, channel, line_api, run_worker):  # noqa: F811
    _rule(workspace)
    old = _now_ms() - 10 * 60 * 1000  # the worker was away for ten minutes
    post(channel.channel_id, [said("予約", timestamp=old)])
    run_worker()
    assert line_api.replies == []
    assert line_api.delivered_to(USER)[0].endswith("https://izakaya.example.jp/r")


def test_a_blocked_friend_or_a_missing_address_is_refused_by_name(workspace, channel, line_api):  # noqa: F811
    post(channel.channel_id, [said("こんにちは")])
    contact = contacts.find_by_identity(workspace=workspace, kind="line", value=USER)
    post(channel.channel_id, [event("unfollow")])
    with pytest.raises(InvalidInput) as blocked:
        conversations.answer(workspace=workspace, actor=f.OWNER, contact_id=contact.pk, channel="line", text="x")
    assert "ブロック" in blocked.value.fields["channel"] or "blocked" in blocked.value.fields["channel"]
    with pytest.raises(InvalidInput) as no_mail:
        conversations.answer(workspace=workspace, actor=f.OWNER, contact_id=contact.pk, channel="email", text="x")
    assert "channel" in no_mail.value.fields
    assert not InboxMessage.objects.filter(direction="out").exists()


def test_staff_answer_by_mail_from_the_workspace_sender(workspace, smtp, run_worker):
    f.sender(workspace)
    person = f.person(workspace, "hanako@example.jp")
    conversations.answer(workspace=workspace, actor=f.OWNER, contact_id=person.pk, channel="email",
                         subject="お問い合わせの件", text="お問い合わせありがとうございます。")
    run_worker()
    [mail] = smtp.messages
    assert (mail["To"], mail["Subject"]) == ("hanako@example.jp", "お問い合わせの件")
    assert "news@kenko.example.jp" in mail["From"] and mail["Reply-To"] == "help@kenko.example.jp"


def test_a_rule_with_bad_fields_is_refused_by_name(workspace):
    with pytest.raises(InvalidInput) as refused:
        conversations.save_auto_reply(workspace=workspace, actor=f.OWNER, name=" ", keywords=[" "], texts=[],
                                      match="sometimes", line_channel_id=999999)
    assert set(refused.value.fields) == {"name", "keywords", "texts", "match", "line_channel_id"}
