"""The inbox and keyword rules as staff use them."""

from __future__ import annotations

import pytest

from musubi.messaging import conversations
from musubi.messaging.models import AutoReply, InboxMessage
from musubi.messaging.tests import factories as f

pytestmark = pytest.mark.django_db


def test_staff_read_a_conversation_and_answer_it_by_mail(workspace, teammate_client):
    f.sender(workspace)
    person = f.person(workspace, "hanako@example.jp")
    page = teammate_client.get(f"/w/{workspace.slug}/inbox/")
    assert page.status_code == 200 and "受信箱" in page.content.decode()
    refused = teammate_client.post(f"/w/{workspace.slug}/inbox/{person.pk}/", {"channel": "email", "text": " "})
    assert refused.status_code == 200 and not InboxMessage.objects.exists()
    done = teammate_client.post(f"/w/{workspace.slug}/inbox/{person.pk}/",
                                {"channel": "email", "subject": "ご質問", "text": "ありがとうございます"})
    assert done.status_code == 302
    [conversation] = conversations.conversations(workspace)
    assert conversation.last_text == "ありがとうございます"
    assert "ありがとうございます" in teammate_client.get(f"/w/{workspace.slug}/inbox/").content.decode()


def test_an_owner_writes_a_keyword_rule_and_bad_fields_are_named(workspace, owner_client, teammate_client):
    url = f"/w/{workspace.slug}/line/auto-replies/"
    bad = owner_client.post(url, {"name": "予約", "keywords": "予約", "match": "exact", "texts": "{{ secret }}"})
    assert bad.status_code == 200 and not AutoReply.objects.exists()
    assert "secret" in bad.content.decode()
    ok = owner_client.post(url, {"name": "予約", "keywords": "予約\nよやく", "match": "exact",
                                 "texts": "ご予約はこちら\n---\nお電話でも承ります", "tag": "予約", "active": "on"})
    assert ok.status_code == 302
    rule = AutoReply.objects.get()
    assert rule.keywords == ["予約", "よやく"]
    assert rule.messages == [{"kind": "text", "text": "ご予約はこちら"}, {"kind": "text", "text": "お電話でも承ります"}]
    assert teammate_client.get(url).status_code == 403  # counter staff do not change the rules
