"""The LINE message editor of a template and of a keyword rule: messages added, reordered and removed
without saving, a picture uploaded on the way, problems shown next to their input; the preview shows the
picture and the card, and the test send pushes them to the chosen friend."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from musubi.capture import line as capture_line
from musubi.messaging import conversations
from musubi.messaging.models import Delivery, LineImage, Template
from musubi.messaging.tests import factories as f
from musubi.testing.images import png
from musubi.workspaces.services import SYSTEM

pytestmark = pytest.mark.django_db(transaction=True)

NEW = "/w/kenko/messaging/templates/new/?channel=line"
FRIEND = "U" + "b" * 32


def _fields(messages: list[dict]) -> dict:
    """The editor's form fields for these messages."""
    data: dict = {"m-count": str(len(messages))}
    for n, message in enumerate(messages):
        for name, value in message.items():
            if name == "actions":
                for m, action in enumerate(value):
                    data |= {f"m-{n}-a-{m}-{k}": v for k, v in action.items()}
            else:
                data[f"m-{n}-{name}"] = value
    return data


def test_messages_are_added_reordered_and_removed_without_saving(owner_client, workspace):
    added = owner_client.post(NEW, {"name": "雨の日", **_fields([{"kind": "text", "text": "こんばんは"}]),
                                    "op": "add:buttons"})
    assert added.status_code == 200
    page = added.content.decode()
    assert 'id="line-message-1" data-kind="buttons"' in page and 'name="m-1-a-3-label"' in page
    assert 'value="雨の日"' in page  # the name is kept as typed
    moved = owner_client.post(NEW, {"name": "雨の日", "op": "up:1", **_fields([
        {"kind": "text", "text": "こんばんは"}, {"kind": "image", "image": "", "alt_text": "写真"}])})
    page = moved.content.decode()
    assert page.index('data-kind="image"') < page.index('data-kind="text"')
    removed = owner_client.post(NEW, {"name": "雨の日", "op": "remove:0", **_fields([
        {"kind": "text", "text": "こんばんは"}, {"kind": "text", "text": "またどうぞ"}])})
    page = removed.content.decode()
    assert "またどうぞ" in page and "こんばんは" not in page
    assert not Template.objects.exists()


def test_a_picture_uploaded_in_the_editor_is_kept_and_the_template_saved(owner_client, workspace):
    shown = owner_client.post(NEW, {"name": "雨の日", "op": "add:text",
                                    **_fields([{"kind": "image", "alt_text": "写真"}]),
                                    "m-0-image_file": SimpleUploadedFile("beer.png", png(500, 300))})
    picture = LineImage.objects.get()
    assert f'value="{picture.key}"' in shown.content.decode() and f"/li/{picture.key}" in shown.content.decode()
    saved = owner_client.post(NEW, {"name": "雨の日", **_fields([
        {"kind": "image", "image": str(picture.key), "alt_text": "写真"},
        {"kind": "buttons", "alt_text": "ご案内", "image": "", "title": "半額", "text": "今夜だけ", "actions": [
            {"kind": "uri", "label": "予約", "uri": "https://izakaya.example.jp/r"},
            {"kind": "uri", "label": "", "uri": ""}]}])})
    assert saved.status_code == 302
    assert Template.objects.get().line_messages == [
        {"kind": "image", "image": str(picture.key), "alt_text": "写真"},
        {"kind": "buttons", "alt_text": "ご案内", "image": "", "title": "半額", "text": "今夜だけ",
         "actions": [{"kind": "uri", "label": "予約", "uri": "https://izakaya.example.jp/r"}]}]


def test_problems_are_shown_next_to_their_input_and_nothing_is_saved(owner_client, workspace):
    response = owner_client.post(NEW, {"name": "雨の日", **_fields([
        {"kind": "buttons", "alt_text": "", "title": "", "text": "本文", "actions": [
            {"kind": "message", "label": "", "text": ""},
            {"kind": "message", "label": "今夜のおすすめメニューを見たい方はこちらをタップ", "text": "x"}]}])})
    assert response.status_code == 400
    page = response.content.decode()
    alt_error = "メッセージ1：スマートフォンの通知に表示される代替テキストを入力してください。"
    assert page.index(alt_error) > page.index('name="m-0-alt_text"')
    label_error = "メッセージ1のボタン1：ボタンの文字は20文字までです。"
    assert page.index('name="m-0-a-0-label"') < page.index(label_error) < page.index('name="m-0-a-1-label"')
    assert not Template.objects.exists()
    bad_picture = owner_client.post(NEW, {"name": "x", **_fields([{"kind": "image"}]),
                                          "m-0-image_file": SimpleUploadedFile("a.gif", b"GIF89a....")})
    assert bad_picture.status_code == 400
    assert "画像はJPEGかPNGのファイルにしてください。" in bad_picture.content.decode()
    assert not LineImage.objects.exists() and not Template.objects.exists()


def test_the_page_says_pictures_need_https(owner_client, workspace, settings):
    settings.MUSUBI_BASE_URL = "http://127.0.0.1:8000"
    assert 'id="line-https-note"' in owner_client.get(NEW).content.decode()
    settings.MUSUBI_BASE_URL = "https://musubi.example.jp"
    assert 'id="line-https-note"' not in owner_client.get(NEW).content.decode()


def _card_template(workspace):
    from musubi.messaging import authoring, line_images

    picture = line_images.store(workspace=workspace, data=png(600, 400), name="beer.png", field="image")
    return authoring.create_template(workspace=workspace, actor=f.OWNER, data=authoring.TemplateInput(
        name="雨の日", channel="line", line_messages=[
            {"kind": "text", "text": "{{ name }}さん、こんばんは"},
            {"kind": "image", "image": str(picture.key)},
            {"kind": "buttons", "alt_text": "生ビール半額", "title": "半額", "text": "今夜だけ", "actions": [
                {"kind": "uri", "label": "予約する", "uri": "https://izakaya.example.jp/r"},
                {"kind": "postback", "label": "クーポン", "data": "coupon=1"}]}])), picture


def test_the_preview_shows_the_picture_and_the_card(owner_client, workspace):
    template, picture = _card_template(workspace)
    page = owner_client.get(f"/w/kenko/messaging/templates/{template.pk}/preview/").content.decode()
    assert '<p class="bubble">山田花子さん、こんばんは</p>' in page
    assert f'<img class="line-image" src="/li/{picture.key}/preview"' in page
    assert '<p class="line-card-title">半額</p>' in page and ">予約する</a>" in page and ">クーポン</span>" in page


def test_the_test_send_pushes_the_messages_to_the_chosen_friend(owner_client, workspace, line_api, settings):
    settings.MUSUBI_BASE_URL = "https://musubi.example.jp"
    capture_line.connect_channel(workspace=workspace, actor=SYSTEM, name="居酒屋むすび", channel_id="1234567890",
                                 channel_secret="a" * 32, access_token="t" * 40, greeting="")
    template, picture = _card_template(workspace)
    friend = f.person(workspace, line=FRIEND, name="さとう")
    response = owner_client.post(f"/w/kenko/messaging/templates/{template.pk}/test/", {"contact": friend.pk},
                                 follow=True)
    assert "さとう にLINEでテスト送信しました。" in response.content.decode()
    [push] = line_api.pushes
    assert push["to"] == FRIEND
    assert push["messages"][0] == {"type": "text", "text": "さとうさん、こんばんは"}
    assert push["messages"][1]["originalContentUrl"] == f"https://musubi.example.jp/li/{picture.key}"
    assert push["messages"][2]["template"]["actions"][0]["uri"] == "https://izakaya.example.jp/r"  # a test: untracked
    assert not Delivery.objects.exists()


def test_a_keyword_rule_is_edited_with_the_same_editor(owner_client, workspace):
    rule = conversations.save_auto_reply(workspace=workspace, actor=f.OWNER, name="予約", keywords=["予約"],
                                         texts=["ご予約はこちら"])
    url = f"/w/kenko/line/auto-replies/{rule.pk}/"
    assert 'name="m-0-text"' in owner_client.get(url).content.decode()
    saved = owner_client.post(url, {"name": "予約", "keywords": "予約", "match": "exact", "active": "on", **_fields([
        {"kind": "text", "text": "ご予約はこちら"},
        {"kind": "buttons", "alt_text": "ご予約", "text": "日時を選んでください", "actions": [
            {"kind": "postback", "label": "今夜", "data": "reserve=tonight", "display_text": "今夜でお願いします"}]}])})
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.messages[1]["actions"] == [{"kind": "postback", "label": "今夜", "data": "reserve=tonight",
                                            "display_text": "今夜でお願いします"}]
