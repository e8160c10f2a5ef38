"""The messaging API as a developer uses it: templates, a sequence with steps, a broadcast sent from a
weather service with an idempotency key, the inbox and keyword rules."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from musubi.messaging.models import BroadcastRun
from musubi.messaging.tests import factories as f
from musubi.workspaces.models import AuditEntry

pytestmark = pytest.mark.django_db


def call(key, method, path, body=None, **headers):
    return getattr(Client(), method)(f"/api/v1{path}", data=json.dumps(body) if body is not None else None,
                                     content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


def test_a_broadcast_sent_twice_with_the_same_key_starts_one_run(workspace, owner_key):
    f.sender(workspace)
    f.person(workspace, "a@example.jp")
    template = call(owner_key, "post", "/templates", {"name": "雨", "channel": "email", "subject": "雨の日",
                                                      "html": "<p>{{ name }}様 本日ビール半額</p>"})
    assert template.status_code == 201, template.json()
    broadcast = call(owner_key, "post", "/broadcasts", {"name": "雨の日", "template_id": template.json()["id"]})
    assert broadcast.status_code == 201
    path = f"/broadcasts/{broadcast.json()['id']}"
    assert call(owner_key, "get", f"{path}/count").json() == {"recipients": 1}
    first = call(owner_key, "post", f"{path}/send", HTTP_IDEMPOTENCY_KEY="rain-2026-11-22")
    again = call(owner_key, "post", f"{path}/send", HTTP_IDEMPOTENCY_KEY="rain-2026-11-22")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"] and BroadcastRun.objects.count() == 1
    paused = call(owner_key, "post", f"{path}/pause")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert call(owner_key, "post", f"{path}/resume").json()["state"] == "planning"
    assert call(owner_key, "post", f"{path}/cancel").json()["state"] == "cancelled"
    assert call(owner_key, "post", f"{path}/cancel").status_code == 404  # nothing in progress now
    logged = AuditEntry.objects.filter(action__startswith="messaging.broadcast_").exclude(
        action="messaging.broadcast_created").order_by("pk")
    assert [(e.action, e.changes.get("run"), e.actor_api_key is not None) for e in logged] == [
        ("messaging.broadcast_sent", 1, True), ("messaging.broadcast_paused", 1, True),
        ("messaging.broadcast_resumed", 1, True), ("messaging.broadcast_cancelled", 1, True)]


def test_a_sequence_with_steps_and_an_enrollment_through_the_api(workspace, owner_key):
    person = f.person(workspace, "b@example.jp")
    template = call(owner_key, "post", "/templates", {"name": "t", "channel": "email", "subject": "s", "text": "x"})
    sequence = call(owner_key, "post", "/sequences", {"name": "フォロー", "trigger": "api", "active": True,
                                                      "quiet_start": "22:00", "quiet_end": "07:30"})
    assert sequence.status_code == 201 and sequence.json()["quiet_end"] == "07:30"
    step = call(owner_key, "post", f"/sequences/{sequence.json()['id']}/steps",
                {"template_id": template.json()["id"], "timing": "day_at", "day": 3, "at_time": "09:00"})
    assert step.status_code == 201 and step.json()["at_time"] == "09:00"
    enrolled = call(owner_key, "post", f"/sequences/{sequence.json()['id']}/enrollments", {"contact_id": person.pk})
    assert enrolled.status_code == 201
    assert call(owner_key, "post", f"/sequences/{sequence.json()['id']}/enrollments",
                {"contact_id": person.pk}).status_code == 200  # already in it
    aware = call(owner_key, "post", "/sequences", {"name": "x", "trigger": "api", "quiet_start": "21:00+09:00"})
    assert aware.status_code == 400 and "quiet_start" in aware.json()["error"]["fields"]


def test_bad_templates_are_named_and_nothing_is_written(workspace, owner_key):
    response = call(owner_key, "post", "/templates", {"name": "x", "channel": "email", "subject": "{{ name ",
                                                      "html": "{{ secret_key }}"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"subject", "html"}
    assert call(owner_key, "get", "/templates").json()["results"] == []


def test_a_body_over_the_size_limit_is_a_413_not_an_error(workspace, owner_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = call(owner_key, "post", "/templates", {"name": "x", "channel": "email", "subject": "s",
                                                      "html": "あ" * 20_000})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_keyword_rules_and_the_inbox(workspace, owner_key):
    f.sender(workspace)
    person = f.person(workspace, "c@example.jp")
    rule = call(owner_key, "post", "/auto-replies", {"name": "予約", "keywords": ["予約"], "texts": ["こちら"]})
    assert rule.status_code == 201
    answer = call(owner_key, "post", f"/inbox/{person.pk}/answers",
                  {"channel": "email", "text": "ありがとうございます"})
    assert answer.status_code == 202
    [conversation] = call(owner_key, "get", "/inbox").json()
    assert conversation["contact_id"] == person.pk and conversation["last_text"] == "ありがとうございます"
    assert [m["direction"] for m in call(owner_key, "get", f"/inbox/{person.pk}").json()] == ["out"]
