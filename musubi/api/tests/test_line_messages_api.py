"""LINE messages of every kind through the API: a picture uploaded, a template and a keyword rule written
with text, image and buttons messages and read back; LINE's limits named per field; the older text-only
form still accepted."""

from __future__ import annotations

import pytest
from django.test import Client

from musubi.api.tests.test_messaging_api import call
from musubi.messaging.models import LineImage, Template
from musubi.testing.images import png

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(key, data, name="beer.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return Client().post("/api/v1/line-images", {"file": SimpleUploadedFile(name, data)},
                         HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_template_with_a_picture_and_a_card_is_written_and_read_back(workspace, owner_key, settings):
    settings.MUSUBI_BASE_URL = "https://musubi.example.jp"
    uploaded = _upload(owner_key, png(400, 300))
    assert uploaded.status_code == 201
    picture = uploaded.json()
    assert picture["url"] == f"https://musubi.example.jp/li/{picture['key']}"
    assert (picture["width"], picture["height"], picture["content_type"]) == (400, 300, "image/png")
    messages = [
        {"kind": "text", "text": "{{ name }}さん、雨の日限定です"},
        {"kind": "image", "image": picture["key"], "alt_text": "生ビール"},
        {"kind": "buttons", "alt_text": "ご案内", "image": picture["key"], "title": "半額", "text": "今夜だけ",
         "actions": [{"kind": "uri", "label": "予約", "uri": "https://izakaya.example.jp/r"},
                     {"kind": "postback", "label": "クーポン", "data": "coupon=1"}]},
    ]
    made = call(owner_key, "post", "/templates", {"name": "雨の日", "channel": "line", "line_messages": messages})
    assert made.status_code == 201, made.content
    body = call(owner_key, "get", f"/templates/{made.json()['id']}").json()
    assert body["line_texts"] == ["{{ name }}さん、雨の日限定です"]
    assert body["line_messages"][1] == {"kind": "image", "image": picture["key"], "alt_text": "生ビール"}
    card = body["line_messages"][2]
    assert card["title"] == "半額" and card["actions"][0] == {
        "kind": "uri", "label": "予約", "uri": "https://izakaya.example.jp/r", "text": "", "data": "",
        "display_text": ""}


def test_bad_messages_are_named_per_field_and_nothing_is_written(workspace, owner_key):
    response = call(owner_key, "post", "/templates", {"name": "x", "channel": "line", "line_messages": [
        {"kind": "buttons", "alt_text": "", "text": "あ" * 161, "actions": [{"kind": "uri", "label": "x",
                                                                          "uri": "ftp://x"}]},
        {"kind": "image", "image": "not-a-key"}]})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {
        "line_messages.0.alt_text", "line_messages.0.text", "line_messages.0.actions.0.uri", "line_messages.1.image"}
    assert not Template.objects.exists()
    unknown_kind = call(owner_key, "post", "/templates", {"name": "x", "channel": "line",
                                                          "line_messages": [{"kind": "video"}]})
    assert unknown_kind.status_code in (400, 422) and not Template.objects.exists()


def test_a_file_line_would_refuse_is_named_and_not_kept(workspace, owner_key):
    refused = _upload(owner_key, b"GIF89a" + b"\0" * 100, name="a.gif")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"file": "画像はJPEGかPNGのファイルにしてください。"}
    assert not LineImage.objects.exists()


def test_a_keyword_rule_answers_with_a_card_and_texts_still_work(workspace, owner_key):
    card = {"kind": "buttons", "alt_text": "ご予約", "text": "ご予約はこちら", "actions": [
        {"kind": "message", "label": "予約", "text": "予約したい"}]}
    rule = call(owner_key, "post", "/auto-replies", {"name": "予約", "keywords": ["予約"], "messages": [card]})
    assert rule.status_code == 201, rule.content
    assert rule.json()["messages"][0]["actions"][0]["text"] == "予約したい" and rule.json()["texts"] == []
    old = call(owner_key, "post", "/auto-replies", {"name": "営業", "keywords": ["営業"], "texts": ["17時から"]})
    assert old.json()["messages"] == [{"kind": "text", "text": "17時から"}] and old.json()["texts"] == ["17時から"]
