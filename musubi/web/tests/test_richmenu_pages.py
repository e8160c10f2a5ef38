"""The rich menu pages: an owner makes a menu with an image and areas, sees it previewed, publishes it and
sees how many friends have it; bad input is shown on its field and row; staff cannot change menus."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from musubi.capture import line as capture_line
from musubi.contacts import services as contacts
from musubi.messaging.models import RichMenu, RichMenuJob
from musubi.messaging.richmenu_rules import MenuState
from musubi.testing.images import png
from musubi.workspaces import services as workspaces

pytestmark = pytest.mark.django_db(transaction=True)


def _channel(workspace):
    return capture_line.connect_channel(workspace=workspace, actor=workspaces.SYSTEM, name="居酒屋むすび",
                                        channel_id="2001234567", channel_secret="a" * 32, access_token="t" * 40,
                                        greeting="")


def _form(**changes):
    form = {"name": "ゴールド会員メニュー", "chat_bar_text": "メニュー", "height": "843", "segment": "",
            "priority": "3",
            "rows": "3", "a0-x": "0", "a0-y": "0", "a0-width": "1250", "a0-height": "843", "a0-type": "uri",
            "a0-value": "https://izakaya.example.jp/", "a0-label": "お店", "a1-x": "1250", "a1-y": "0",
            "a1-width": "1250", "a1-height": "843", "a1-type": "postback", "a1-value": "coupon=1", "a2-type": "uri",
            "image": SimpleUploadedFile("menu.png", png(2500, 843), content_type="image/png")}
    form.update(changes)
    return form


def test_an_owner_makes_a_menu_previews_it_publishes_it_and_sees_its_friends(owner_client, workspace, line_api,
                                                                             run_worker, settings):
    settings.MUSUBI_RICHMENU_CHECK_SECONDS = 0
    channel = _channel(workspace)
    segment = contacts.create_segment(workspace=workspace, actor=workspaces.SYSTEM, name="ゴールド会員",
                                      definition={"conditions": [{"type": "tag", "op": "has", "tag": "gold"}]})
    for n in range(3):
        contact, _new = contacts.find_or_create_contact(
            workspace=workspace, addresses=contacts.normalise(line_user_id=f"U{n:032x}"), name=f"友だち{n}")
        if n < 2:
            contacts.tag(workspace=workspace, contact=contact, names=["gold"])
    listing = owner_client.get(f"/w/kenko/line/{channel.pk}/richmenus/").content.decode()
    assert "リッチメニュー" in listing and "まだリッチメニューはありません" in listing

    new = owner_client.get(f"/w/kenko/line/{channel.pk}/richmenus/new/").content.decode()
    assert "ゴールド会員" in new and "新しいリッチメニュー" in new
    saved = owner_client.post(f"/w/kenko/line/{channel.pk}/richmenus/new/", _form(segment=str(segment.pk)))
    menu = RichMenu.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/w/kenko/richmenus/{menu.pk}/"
    assert (menu.segment_id, menu.priority, menu.height) == (segment.pk, 3, 843)
    assert [a["action"] for a in menu.areas] == [
        {"type": "uri", "uri": "https://izakaya.example.jp/", "label": "お店"},
        {"type": "postback", "data": "coupon=1"}]
    page = owner_client.get(saved["Location"]).content.decode()
    assert 'viewBox="0 0 2500 843"' in page
    assert '<rect x="1250" y="0" width="1250" height="843"' in page
    assert f"/w/kenko/richmenus/{menu.pk}/image/" in page
    image = owner_client.get(f"/w/kenko/richmenus/{menu.pk}/image/")
    assert image["Content-Type"] == "image/png" and b"".join(image.streaming_content) == png(2500, 843)

    owner_client.post(f"/w/kenko/richmenus/{menu.pk}/state/", {"action": "publish"})
    assert RichMenuJob.objects.get().action == "publish"
    run_worker()
    menu.refresh_from_db()
    assert menu.state == MenuState.PUBLISHED
    assert sorted(line_api.user_menus) == [f"U{0:032x}", f"U{1:032x}"]
    listing = owner_client.get(f"/w/kenko/line/{channel.pk}/richmenus/").content.decode()
    assert "公開中" in listing and '<td class="num">2</td>' in listing

    edited = owner_client.post(f"/w/kenko/richmenus/{menu.pk}/", _form(name="変えたい"))
    assert "公開中のメニューは LINE で変更できません" in edited.content.decode()
    assert RichMenu.objects.get().name == "ゴールド会員メニュー"
    owner_client.post(f"/w/kenko/richmenus/{menu.pk}/state/", {"action": "unpublish"})
    run_worker()
    assert RichMenu.objects.get().state == MenuState.DRAFT and line_api.rich_menus == {}


def test_bad_input_is_shown_on_its_field_and_row_and_nothing_is_saved(owner_client, workspace):
    channel = _channel(workspace)
    response = owner_client.post(f"/w/kenko/line/{channel.pk}/richmenus/new/", _form(
        **{"a1-x": "2000", "a0-value": "javascript:alert(1)",
           "image": SimpleUploadedFile("menu.png", png(2500, 1686), content_type="image/png")}))
    page = response.content.decode()
    assert response.status_code == 200
    assert "2500 × 843 ピクセル" in page  # the image's size, on the image field
    assert "右端をはみ出しています" in page and "https://、http://、tel: または line://" in page
    assert 'class="problems"' in page
    assert not RichMenu.objects.exists()


def test_staff_see_nothing_to_change_and_cannot_make_menus(teammate_client, workspace):
    channel = _channel(workspace)
    assert teammate_client.get(f"/w/kenko/line/{channel.pk}/richmenus/").status_code == 403
    response = teammate_client.post(f"/w/kenko/line/{channel.pk}/richmenus/new/", _form())
    assert response.status_code == 403 and not RichMenu.objects.exists()
