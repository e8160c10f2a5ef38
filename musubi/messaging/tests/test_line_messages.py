"""LINE messages beyond text: a template of a text, a picture and a buttons card is checked against LINE's
limits, sent by push (links tracked per person) and by multicast as the exact JSON LINE takes, its picture
served from our own address; keyword rules answer with the same kinds; a tap on a card's postback button
lands in the inbox."""

from __future__ import annotations

import io
import random
import uuid
from urllib.parse import urlsplit

import pytest
from django.test import Client
from PIL import Image

from musubi.capture import line as capture_line
from musubi.capture.tests.test_line import SECRET, USER, event, post
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging import authoring, broadcasts, conversations, line_images
from musubi.messaging.models import Delivery, InboxMessage, Template
from musubi.messaging.tests import factories as f
from musubi.testing.images import jpeg_header, png
from musubi.workspaces import services as workspaces

pytestmark = pytest.mark.django_db(transaction=True)

FRIEND = "U" + "a" * 32
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Line/14.0"


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def _channel(workspace):
    return capture_line.connect_channel(workspace=workspace, actor=f.OWNER, name="居酒屋むすび",
                                        channel_id="2001234567", channel_secret=SECRET, access_token="t" * 40,
                                        greeting="")


def _picture(workspace, width=600, height=400):
    return line_images.store(workspace=workspace, data=png(width, height), name="beer.png", field="image")


def _messages(key: str, *, personal: bool = True) -> list[dict]:
    return [
        {"kind": "text", "text": "{{ name }}さん、雨の日限定です☔" if personal else "雨の日限定です☔"},
        {"kind": "image", "image": key, "alt_text": "生ビールの写真"},
        {"kind": "buttons", "alt_text": "生ビール半額のご案内", "image": key, "title": "生ビール半額",
         "text": "本日18時から閉店まで", "actions": [
             {"kind": "uri", "label": "予約する", "uri": "https://izakaya.example.jp/reserve"},
             {"kind": "message", "label": "メニュー", "text": "メニュー"},
             {"kind": "postback", "label": "クーポン", "data": "coupon=beer", "display_text": "クーポンをください"}]},
    ]


def _template(workspace, messages):
    return authoring.create_template(workspace=workspace, actor=f.OWNER, data=authoring.TemplateInput(
        name="雨の日", channel="line", line_messages=messages))


def _send(workspace, template, channel):
    broadcast = authoring.create_broadcast(workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(
        name="雨の日の一斉配信", template_id=template.pk, line_channel_id=channel.pk))
    return broadcasts.start_run(broadcast=broadcast)


def test_a_personal_template_is_pushed_as_lines_json_with_the_picture_and_a_tracked_link(
        workspace, line_api, run_worker, settings):
    settings.MUSUBI_BASE_URL = "https://musubi.example.jp"
    channel = _channel(workspace)
    f.person(workspace, line=FRIEND, name="さとう")
    picture = _picture(workspace)
    _send(workspace, _template(workspace, _messages(str(picture.key))), channel)
    run_worker()
    [push] = line_api.pushes
    assert push["to"] == FRIEND
    text, image, card = push["messages"]
    assert text == {"type": "text", "text": "さとうさん、雨の日限定です☔"}
    picture_url = f"https://musubi.example.jp/li/{picture.key}"
    assert image == {"type": "image", "originalContentUrl": picture_url,
                     "previewImageUrl": picture_url + "/preview"}
    link, menu, coupon = card["template"].pop("actions")
    assert card == {"type": "template", "altText": "生ビール半額のご案内", "template": {
        "type": "buttons", "thumbnailImageUrl": picture_url, "title": "生ビール半額", "text": "本日18時から閉店まで"}}
    assert menu == {"type": "message", "label": "メニュー", "text": "メニュー"}
    assert coupon == {"type": "postback", "label": "クーポン", "data": "coupon=beer",
                      "displayText": "クーポンをください"}
    assert link["type"] == "uri" and link["label"] == "予約する"
    assert link["uri"].startswith("https://musubi.example.jp/m/c/")  # a tracked link, as in mail
    delivery = Delivery.objects.get()
    assert delivery.outcome == "sent" and delivery.clicked_at is None
    parts = urlsplit(link["uri"])
    tapped = Client().get(f"{parts.path}?{parts.query}", HTTP_USER_AGENT=BROWSER)
    assert tapped.status_code == 302 and tapped["Location"] == "https://izakaya.example.jp/reserve"
    delivery.refresh_from_db()
    assert delivery.clicked_at is not None


def test_the_same_messages_for_everyone_go_by_multicast_untracked(workspace, line_api, run_worker):
    channel = _channel(workspace)
    for n in range(3):
        f.person(workspace, line=f"U{n:032x}", name=f"友だち{n}")
    picture = _picture(workspace)
    _send(workspace, _template(workspace, _messages(str(picture.key), personal=False)), channel)
    run_worker()
    assert line_api.pushes == []
    [multicast] = line_api.multicasts
    assert len(multicast["to"]) == 3
    assert [m["type"] for m in multicast["messages"]] == ["text", "image", "template"]
    assert multicast["messages"][2]["template"]["actions"][0]["uri"] == "https://izakaya.example.jp/reserve"


def test_the_picture_is_served_from_our_address_and_an_unknown_key_is_not(workspace):
    data = png(300, 200)
    picture = line_images.store(workspace=workspace, data=data, name="a.png", field="image")
    for path in (f"/li/{picture.key}", f"/li/{picture.key}/preview"):
        response = Client().get(path)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response.content == data
    assert Client().get(f"/li/{uuid.uuid4()}").status_code == 404


def test_pictures_line_would_refuse_are_named_and_not_kept(workspace):
    with pytest.raises(InvalidInput) as not_a_picture:
        line_images.store(workspace=workspace, data=b"GIF89a....", name="a.gif", field="m.image")
    assert not_a_picture.value.fields == {"m.image": "画像はJPEGかPNGのファイルにしてください。"}
    with pytest.raises(InvalidInput) as broken:  # a JPEG's header with nothing a decoder can read behind it
        line_images.store(workspace=workspace, data=jpeg_header(1500, 800), name="wide.jpg", field="m.image")
    assert broken.value.fields == {"m.image": "画像はJPEGかPNGのファイルにしてください。"}
    with pytest.raises(InvalidInput) as too_heavy:
        line_images.store(workspace=workspace, data=png(1000, 1000) + b"\0" * (10 * 1024 * 1024), name="big.png",
                          field="m.image")
    assert too_heavy.value.fields["m.image"] == "画像が10 MBを超えています。10 MBまでにしてください。"
    with pytest.raises(InvalidInput) as too_many_pixels:  # refused from its header, before anything is decoded
        line_images.store(workspace=workspace, data=jpeg_header(10_000, 8_000), name="huge.jpg", field="m.image")
    assert "10,000 × 8,000" in too_many_pixels.value.fields["m.image"]
    assert not line_images.LineImage.objects.exists()


def _photo(width: int, height: int, **save: object) -> bytes:
    """A picture that compresses as badly as a photo: random pixels."""
    picture = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    picture.save(out, **save)
    return out.getvalue()


def test_a_phone_photo_too_large_for_line_is_made_to_fit(workspace):
    data = _photo(2000, 1500, format="JPEG", quality=95)
    assert len(data) > line_images.MAX_BYTES  # as a phone would send it
    picture = line_images.store(workspace=workspace, data=data, name="photo.jpg", field="image")
    stored = picture.file.read()
    assert picture.size == len(stored) <= line_images.MAX_BYTES
    with Image.open(io.BytesIO(stored)) as served:
        assert served.format == "JPEG" and served.size == (1024, 768) == (picture.width, picture.height)
    assert Client().get(f"/li/{picture.key}/preview").content == stored


def test_a_wide_png_is_scaled_and_stays_a_png_with_its_transparency(workspace):
    logo = Image.new("RGBA", (1500, 600), (200, 30, 30, 0))
    logo.paste((200, 30, 30, 255), (100, 100, 1400, 500))
    out = io.BytesIO()
    logo.save(out, format="PNG")
    picture = line_images.store(workspace=workspace, data=out.getvalue(), name="logo.png", field="image")
    assert (picture.content_type, picture.width, picture.height) == ("image/png", 1024, 410)
    with Image.open(picture.file) as served:
        assert served.mode == "RGBA" and served.getpixel((0, 0))[3] == 0 and served.getpixel((512, 205))[3] == 255


def test_a_png_too_heavy_even_when_scaled_becomes_a_jpeg_on_white(workspace):
    picture = line_images.store(workspace=workspace, data=_photo(1200, 1000, format="PNG"), name="noise.png",
                                field="image")
    assert picture.content_type == "image/jpeg" and picture.width == 1024 and picture.size <= line_images.MAX_BYTES


def test_every_limit_of_line_is_named_on_its_field_and_nothing_is_saved(workspace):
    picture = _picture(workspace)
    bad = [
        {"kind": "text", "text": "{{ password }}"},
        {"kind": "image", "image": ""},
        {"kind": "buttons", "alt_text": "", "image": str(picture.key), "title": "あ" * 41, "text": "い" * 61,
         "actions": [{"kind": "uri", "label": "あ" * 21, "uri": "javascript:alert(1)"},
                     {"kind": "message", "label": "送る", "text": ""},
                     {"kind": "postback", "label": "ポスト", "data": ""}]},
        {"kind": "buttons", "alt_text": "案内", "text": "本文", "actions": [
            {"kind": "message", "label": f"ボタン{n}", "text": "x"} for n in range(5)]},
        {"kind": "video"},
    ]
    with pytest.raises(InvalidInput) as refused:
        _template(workspace, bad)
    fields = refused.value.fields
    assert "password" in fields["line_messages.0.text"]
    assert fields["line_messages.1.image"] == "メッセージ2：JPEGかPNGの画像を選んでください。"
    assert fields["line_messages.2.alt_text"] == ("メッセージ3：スマートフォンの通知に表示される代替テキストを"
                                                  "入力してください。")
    assert fields["line_messages.2.title"] == "メッセージ3：タイトルは40文字までです。"
    assert fields["line_messages.2.text"] == "メッセージ3：本文（画像かタイトルがある場合）は60文字までです。"
    assert fields["line_messages.2.actions.0.label"] == "メッセージ3のボタン1：ボタンの文字は20文字までです。"
    assert "line_messages.2.actions.0.uri" in fields
    assert "line_messages.2.actions.1.text" in fields and "line_messages.2.actions.2.data" in fields
    assert fields["line_messages.3.actions"] == "メッセージ4：ボタンは4つまでです。"
    assert fields["line_messages.4.kind"] == "メッセージ5：テキスト・画像・ボタンのどれかを選んでください。"
    six = [{"kind": "text", "text": str(n)} for n in range(6)]
    with pytest.raises(InvalidInput) as too_many:
        _template(workspace, six)
    assert too_many.value.fields == {"line_messages": "LINEで一度に送れるメッセージは5つまでです。"}
    assert not Template.objects.exists()


def test_a_picture_of_another_workspace_cannot_be_used(workspace, owner):
    theirs = workspaces.create_workspace(slug="izakaya", name="居酒屋むすび", owner=owner)
    picture = _picture(theirs)
    with pytest.raises(InvalidInput) as refused:
        _template(workspace, [{"kind": "image", "image": str(picture.key)}])
    assert refused.value.fields == {"line_messages.0.image": "メッセージ1：このワークスペースにその画像はありません。"}


def test_text_only_templates_written_the_old_way_still_work(workspace):
    template = f.line_template(workspace, texts=["こんにちは", "  ", "{{ name }}さん"])
    assert template.line_messages == [{"kind": "text", "text": "こんにちは"},
                                      {"kind": "text", "text": "{{ name }}さん"}]


def test_a_keyword_is_answered_with_a_card_and_a_tap_on_its_postback_lands_in_the_inbox(
        workspace, line_api, run_worker):
    channel = _channel(workspace)
    picture = _picture(workspace)
    conversations.save_auto_reply(workspace=workspace, actor=f.OWNER, name="クーポン", keywords=["クーポン"],
                                  messages=_messages(str(picture.key))[1:])
    post(channel.channel_id, [event("follow")])
    said = event("message") | {"replyToken": "reply-" + uuid.uuid4().hex, "timestamp": _now_ms(), "message": {
        "id": "4001", "type": "text", "text": "クーポン", "quoteToken": "q"}}
    assert post(channel.channel_id, [said]).status_code == 200
    run_worker()
    [reply] = line_api.replies
    assert [m["type"] for m in reply["messages"]] == ["image", "template"]
    assert reply["messages"][1]["template"]["actions"][2] == {
        "type": "postback", "label": "クーポン", "data": "coupon=beer", "displayText": "クーポンをください"}
    answer = InboxMessage.objects.get(direction="out")
    assert answer.text == "[画像] 生ビールの写真\n\n[ボタン] 生ビール半額のご案内"
    tap = event("postback") | {"replyToken": "r" * 32, "timestamp": _now_ms(),
                               "postback": {"data": "coupon=beer"}}
    assert post(channel.channel_id, [tap]).status_code == 200
    run_worker()
    tapped = InboxMessage.objects.get(direction="in", postback=True)
    assert tapped.text == "coupon=beer" and tapped.contact.identities.get().value == USER
