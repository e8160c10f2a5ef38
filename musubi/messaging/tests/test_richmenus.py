"""Rich menus: written as drafts with every bad field named, published at LINE by a worker, and switched per
friend as they move between segments — in bulk requests of at most 500, recorded only once LINE accepted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage

from musubi.capture import line as capture_line
from musubi.contacts import services as contacts
from musubi.integrations import line as line_calls
from musubi.kernel import claims, clock
from musubi.kernel.errors import Conflict, InvalidInput
from musubi.messaging import richmenu_sync, richmenus
from musubi.messaging.models import RichMenu, RichMenuJob, RichMenuLink, RichMenuSwitch
from musubi.messaging.richmenu_rules import MenuState
from musubi.messaging.tests import factories as f
from musubi.testing.images import jpeg_header, png

pytestmark = pytest.mark.django_db(transaction=True)

LARGE = png(2500, 1686)
COMPACT = png(2500, 843)
AREAS = [{"bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
          "action": {"type": "uri", "uri": "https://izakaya.example.jp/menu", "label": "お品書き"}},
         {"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
          "action": {"type": "message", "text": "予約したい"}}]


@pytest.fixture(autouse=True)
def _check_every_round(settings):
    settings.MUSUBI_RICHMENU_CHECK_SECONDS = 0


def _channel(workspace, channel_id="2001234567"):
    return capture_line.connect_channel(workspace=workspace, actor=f.OWNER, name="居酒屋むすび",
                                        channel_id=channel_id, channel_secret="a" * 32, access_token="t" * 40,
                                        greeting="")


def _friend(workspace, n: int, rank: str = ""):
    contact = f.person(workspace, line=f"U{n:032x}", name=f"友だち{n}")
    if rank:
        contacts.update_fields(workspace=workspace, contact=contact, values={"rank": rank})
    return contact


def _segment(workspace, rank: str):
    return contacts.create_segment(workspace=workspace, actor=f.OWNER, name=f"{rank}会員", definition={
        "match": "all", "conditions": [{"type": "field", "key": "rank", "op": "equals", "value": rank}]})


def _menu(workspace, channel, *, segment=None, priority=0, image=COMPACT, height=843, name="通常メニュー", **changes):
    data = richmenus.RichMenuInput(name=name, chat_bar_text="メニュー", height=height, areas=AREAS,
                                   segment_id=segment.pk if segment else None, priority=priority)
    for key, value in changes.items():
        setattr(data, key, value)
    return richmenus.create_menu(workspace=workspace, actor=f.OWNER, line_channel_id=channel.pk, data=data,
                                 image=image)


def _publish(workspace, menu):
    return richmenus.publish(workspace=workspace, actor=f.OWNER, rich_menu_id=menu.pk)


def _uid(n: int) -> str:
    return f"U{n:032x}"


def test_publishing_creates_the_menu_at_line_uploads_its_image_and_makes_the_default(workspace, line_api,
                                                                                    run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel)
    assert default_storage.open(menu.image.name).read() == COMPACT
    _publish(workspace, menu)
    assert line_api.rich_menus == {}  # not in the request: a worker does it
    run_worker()
    menu.refresh_from_db()
    assert menu.state == MenuState.PUBLISHED and menu.line_id in line_api.rich_menus
    at_line = line_api.rich_menus[menu.line_id]
    assert at_line["image"] == COMPACT and at_line["content_type"] == "image/png"
    assert at_line["menu"]["size"] == {"width": 2500, "height": 843}
    assert at_line["menu"]["chatBarText"] == "メニュー"
    assert [a["action"] for a in at_line["menu"]["areas"]] == [a["action"] for a in AREAS]
    assert line_api.default_rich_menu == menu.line_id
    assert RichMenuJob.objects.get().status == "done"


def test_a_friend_moving_into_a_segment_gets_its_menu_and_moving_out_goes_back_to_the_default(workspace, line_api,
                                                                                            run_worker):
    channel = _channel(workspace)
    default = _menu(workspace, channel)
    gold = _menu(workspace, channel, segment=_segment(workspace, "gold"), name="ゴールド会員メニュー")
    _publish(workspace, default)
    _publish(workspace, gold)
    friend = _friend(workspace, 1)
    _friend(workspace, 2)
    run_worker()
    default.refresh_from_db()
    gold.refresh_from_db()
    assert line_api.menu_of(_uid(1)) == line_api.menu_of(_uid(2)) == default.line_id
    assert not RichMenuLink.objects.exists()

    contacts.update_fields(workspace=workspace, contact=friend, values={"rank": "gold"})
    run_worker()
    assert line_api.menu_of(_uid(1)) == gold.line_id and line_api.menu_of(_uid(2)) == default.line_id
    link = RichMenuLink.objects.get()
    assert (link.user_id, link.rich_menu_id, link.contact_id) == (_uid(1), gold.pk, friend.pk)
    assert [row.friends for row in richmenus.menus_of(workspace, channel)] == [1, 1]

    contacts.update_fields(workspace=workspace, contact=friend, values={"rank": "silver"})
    run_worker()
    assert line_api.menu_of(_uid(1)) == default.line_id
    assert _uid(1) not in line_api.user_menus and not RichMenuLink.objects.exists()
    assert line_api.bulk_requests == [("link", 1), ("unlink", 1)]


def test_the_highest_priority_segment_wins_and_blocked_friends_are_left_alone(workspace, line_api, run_worker):
    channel = _channel(workspace)
    gold = _segment(workspace, "gold")
    everyone = contacts.create_segment(workspace=workspace, actor=f.OWNER, name="全員", definition={
        "match": "all", "conditions": [{"type": "stage", "op": "is", "stage": "lead"}]})
    low = _menu(workspace, channel, segment=everyone, priority=1, name="全員")
    high = _menu(workspace, channel, segment=gold, priority=5, name="ゴールド")
    for menu in (low, high):
        _publish(workspace, menu)
    _friend(workspace, 1, "gold")
    _friend(workspace, 2)
    _friend(workspace, 3, "gold")
    contacts.suppress(workspace=workspace, channel="line", value=_uid(3), reason="blocked")
    run_worker()
    low.refresh_from_db()
    high.refresh_from_db()
    assert line_api.user_menus == {_uid(1): high.line_id, _uid(2): low.line_id}
    assert sorted(RichMenuLink.objects.values_list("user_id", flat=True)) == [_uid(1), _uid(2)]


def test_1200_friends_are_switched_in_bulk_requests_of_at_most_500(workspace, line_api, run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel, segment=_segment(workspace, "gold"))
    for n in range(1200):
        _friend(workspace, n, "gold")
    _publish(workspace, menu)
    run_worker()
    menu.refresh_from_db()
    assert sorted(size for kind, size in line_api.bulk_requests if kind == "link") == [200, 500, 500]
    assert len(line_api.user_menus) == 1200 and set(line_api.user_menus.values()) == {menu.line_id}
    assert RichMenuLink.objects.filter(rich_menu=menu).count() == 1200
    assert [row.friends for row in richmenus.menus_of(workspace, channel)] == [1200]


def test_line_answering_429_and_500_is_retried_later_and_nothing_is_linked_until_it_accepts(workspace, line_api,
                                                                                          run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel, segment=_segment(workspace, "gold"))
    _friend(workspace, 1, "gold")
    _publish(workspace, menu)
    run_worker()  # publish
    assert line_api.user_menus == {_uid(1): RichMenu.objects.get().line_id}
    RichMenuLink.objects.all().delete()  # forget it, so the pass asks LINE again
    line_api.user_menus.clear()
    line_api.fail_next = [429, 500]
    start = clock.now()
    run_worker()
    request = RichMenuSwitch.objects.filter(status="pending").get()
    assert "LINE 429" in request.last_error and line_api.user_menus == {}
    assert not RichMenuLink.objects.exists()
    with clock.frozen(start + dt.timedelta(minutes=1)):
        run_worker()
    request.refresh_from_db()
    assert "LINE 500" in request.last_error and not RichMenuLink.objects.exists()
    for minutes in (5, 30, 120):
        with clock.frozen(start + dt.timedelta(minutes=minutes)):
            run_worker()
    request.refresh_from_db()
    assert request.status == "done" and request.attempts == 3
    menu.refresh_from_db()
    assert RichMenuLink.objects.get().user_id == _uid(1) and line_api.user_menus == {_uid(1): menu.line_id}
    assert line_api.bulk_requests == [("link", 1), ("link", 1)]  # the first before the forgetting


def test_publishing_through_a_failing_line_retries_and_a_rejected_menu_is_marked_failed(workspace, line_api,
                                                                                      run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel)
    _publish(workspace, menu)
    line_api.fail_next = [500]
    start = clock.now()
    run_worker()
    menu.refresh_from_db()
    assert menu.state == MenuState.PUBLISHING and line_api.rich_menus == {}
    with clock.frozen(start + dt.timedelta(minutes=5)):
        run_worker()
    menu.refresh_from_db()
    assert menu.state == MenuState.PUBLISHED and list(line_api.rich_menus) == [menu.line_id]

    other = _menu(workspace, _channel(workspace, "2009999999"))
    _publish(workspace, other)
    line_api.fail_next = [400]
    run_worker()
    other.refresh_from_db()
    assert other.state == MenuState.FAILED and "LINE 400" in other.last_error


def test_unpublishing_deletes_the_menu_at_line_and_its_friends_see_the_default_again(workspace, line_api,
                                                                                   run_worker):
    channel = _channel(workspace)
    default = _menu(workspace, channel)
    gold = _menu(workspace, channel, segment=_segment(workspace, "gold"), name="ゴールド")
    _publish(workspace, default)
    _publish(workspace, gold)
    _friend(workspace, 1, "gold")
    run_worker()
    gold.refresh_from_db()
    line_id = gold.line_id
    assert line_api.menu_of(_uid(1)) == line_id
    richmenus.unpublish(workspace=workspace, actor=f.OWNER, rich_menu_id=gold.pk)
    run_worker()
    gold.refresh_from_db()
    default.refresh_from_db()
    assert gold.state == MenuState.DRAFT and gold.line_id == "" and line_id not in line_api.rich_menus
    assert line_api.menu_of(_uid(1)) == default.line_id and not RichMenuLink.objects.exists()
    assert line_api.default_rich_menu == default.line_id


def test_one_default_menu_at_a_time_and_a_published_menu_cannot_be_edited(workspace, line_api):
    channel = _channel(workspace)
    first = _menu(workspace, channel)
    second = _menu(workspace, channel, name="二つ目")
    _publish(workspace, first)
    with pytest.raises(Conflict):
        _publish(workspace, second)
    assert RichMenu.objects.get(pk=second.pk).state == MenuState.DRAFT
    with pytest.raises(Conflict):
        richmenus.update_menu(workspace=workspace, actor=f.OWNER, rich_menu_id=first.pk, data=richmenus.RichMenuInput(
            name="変更", chat_bar_text="メニュー", height=843, areas=AREAS))
    assert RichMenu.objects.get(pk=first.pk).name == "通常メニュー"


@pytest.mark.parametrize(("changes", "image", "fields"), [
    ({"name": " ", "chat_bar_text": "とても長いメニューバーのテキストです"}, COMPACT, {"name", "chat_bar_text"}),
    ({"height": 1000}, COMPACT, {"height", "image"}),
    ({}, LARGE, {"image"}),  # a large image on a compact menu
    ({}, b"GIF89a" + b"\x00" * 20, {"image"}),
    ({}, jpeg_header(2500, 1686), {"image"}),
    ({}, None, {"image"}),
    ({"areas": [{"bounds": {"x": 2000, "y": 0, "width": 600, "height": 100},
                 "action": {"type": "uri", "uri": "https://a.example"}}]},
     COMPACT, {"areas.1.width"}),
    ({"areas": [{"bounds": {"x": 0, "y": 800, "width": 10, "height": 100}, "action": {"type": "tel"}}]},
     COMPACT, {"areas.1.height", "areas.1.action"}),
    ({"areas": [{"bounds": {"x": -1, "y": "a", "width": 0, "height": 1}, "action": {"type": "message", "text": ""}}]},
     COMPACT, {"areas.1.x", "areas.1.y", "areas.1.width", "areas.1.value"}),
    ({"areas": [{"bounds": {"x": 0, "y": 0, "width": 1, "height": 1},
                 "action": {"type": "uri", "uri": "javascript:alert(1)"}}]},
     COMPACT, {"areas.1.value"}),
    ({"areas": [AREAS[0]] * 21}, COMPACT, {"areas"}),
    ({"priority": 5000}, COMPACT, {"priority"}),
])
def test_bad_input_is_named_per_field_and_nothing_is_written(workspace, changes, image, fields):
    channel = _channel(workspace)
    with pytest.raises(InvalidInput) as caught:
        _menu(workspace, channel, image=image, **changes)
    assert set(caught.value.fields) == fields
    assert not RichMenu.objects.exists()


def test_a_jpeg_of_the_right_size_is_taken_and_another_workspaces_segment_is_not(workspace, other_workspace):
    channel = _channel(workspace)
    menu = _menu(workspace, channel, image=jpeg_header(2500, 843))
    assert menu.image_type == "image/jpeg"
    theirs = _segment(other_workspace, "gold")
    with pytest.raises(InvalidInput) as caught:
        _menu(workspace, channel, segment=theirs)
    assert set(caught.value.fields) == {"segment"}


def test_a_publication_stopped_between_creating_and_uploading_starts_again_and_leaves_one_menu_at_line(
        workspace, line_api, run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel)
    _publish(workspace, menu)
    start = clock.now()
    # The creation goes through, the upload answers 500: the menu exists at LINE without an image.
    line_api.fail_uploads = [500]
    run_worker()
    menu.refresh_from_db()
    first = menu.line_id
    assert menu.state == MenuState.PUBLISHING and first in line_api.rich_menus and not menu.image_uploaded
    with clock.frozen(start + dt.timedelta(minutes=5)):
        run_worker()
    menu.refresh_from_db()
    assert menu.state == MenuState.PUBLISHED and list(line_api.rich_menus) == [menu.line_id] != [first]
    assert line_api.default_rich_menu == menu.line_id


def test_unpublishing_the_default_menu_cancels_it_at_line(workspace, line_api, run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel)
    _publish(workspace, menu)
    run_worker()
    assert line_api.default_rich_menu
    richmenus.unpublish(workspace=workspace, actor=f.OWNER, rich_menu_id=menu.pk)
    run_worker()
    assert line_api.default_rich_menu == "" and line_api.rich_menus == {}
    assert ("DELETE", "/v2/bot/user/all/richmenu", "") in line_api.requests


def test_a_friend_who_blocks_keeps_their_link_untouched_until_they_come_back(workspace, line_api, run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel, segment=_segment(workspace, "gold"))
    friend = _friend(workspace, 1, "gold")
    _publish(workspace, menu)
    run_worker()
    contacts.suppress(workspace=workspace, channel="line", value=_uid(1), reason="blocked")
    contacts.update_fields(workspace=workspace, contact=friend, values={"rank": "silver"})
    run_worker()
    assert line_api.bulk_requests == [("link", 1)]  # no unlink sent for someone who blocked the account
    assert RichMenuLink.objects.get().user_id == _uid(1)
    assert [row.friends for row in richmenus.menus_of(workspace, channel)] == [0]
    contacts.lift_suppression(workspace=workspace, channel="line", value=_uid(1), reason="blocked")
    run_worker()
    assert line_api.bulk_requests == [("link", 1), ("unlink", 1)] and not RichMenuLink.objects.exists()


def test_a_worker_stopped_after_line_accepted_repeats_the_request_harmlessly_and_records_it_once(
        workspace, line_api, run_worker):
    channel = _channel(workspace)
    menu = _menu(workspace, channel, segment=_segment(workspace, "gold"))
    for n in range(3):
        _friend(workspace, n, "gold")
    _publish(workspace, menu)
    run_worker()
    RichMenuLink.objects.all().delete()
    line_api.user_menus.clear()
    richmenu_sync.run_switching()
    # A worker claims the request and LINE accepts it; the worker dies before recording anything.
    [claimed] = claims.claim(RichMenuSwitch.objects.filter(status="pending"), worker="doomed", limit=10)
    menu.refresh_from_db()
    line_calls.link_rich_menu(access_token="t" * 40, rich_menu_id=menu.line_id,
                                  user_ids=[u for _c, u in claimed.members])
    assert not RichMenuLink.objects.exists()
    with clock.travel(dt.timedelta(minutes=10)):  # the lease runs out
        run_worker()
    claimed.refresh_from_db()
    assert claimed.status == "done" and claimed.attempts == 2
    assert RichMenuLink.objects.count() == 3 and set(line_api.user_menus.values()) == {menu.line_id}
    assert line_api.bulk_requests == [("link", 3), ("link", 3), ("link", 3)]


def test_with_two_accounts_each_menu_goes_only_to_the_friends_of_its_own_account(workspace, line_api, run_worker):
    from musubi.kernel.facts import record_fact

    izakaya, cafe = _channel(workspace), _channel(workspace, "2007654321")
    segment = _segment(workspace, "gold")
    menus = [_menu(workspace, channel, segment=segment) for channel in (izakaya, cafe)]
    for n, channel in ((1, izakaya), (2, cafe)):
        friend = _friend(workspace, n, "gold")
        record_fact(workspace_id=workspace.pk, kind="line.followed", contact_id=friend.pk,
                    data={"channel": channel.channel_id, "unblocked": False})
    _friend(workspace, 3, "gold")  # known by LINE id, but added neither account through its webhook
    for menu in menus:
        _publish(workspace, menu)
    run_worker()
    for menu in menus:
        menu.refresh_from_db()
    assert line_api.user_menus == {_uid(1): menus[0].line_id, _uid(2): menus[1].line_id}
    assert sorted(RichMenuLink.objects.values_list("line_channel_id", "user_id")) == [
        (izakaya.pk, _uid(1)), (cafe.pk, _uid(2))]


def test_a_draft_is_edited_and_a_new_size_needs_a_new_image(workspace):
    channel = _channel(workspace)
    menu = _menu(workspace, channel)

    def edit(image=None, **changes):
        data = richmenus.RichMenuInput(**{"name": "変更後", "chat_bar_text": "お得情報", "height": 843, "areas": AREAS,
                                          **changes})
        return richmenus.update_menu(workspace=workspace, actor=f.OWNER, rich_menu_id=menu.pk, data=data, image=image)

    with pytest.raises(InvalidInput) as caught:
        edit(height=1686, areas=[{"bounds": {"x": 0, "y": 0, "width": 1, "height": 1}, "action": {"type": "x"}}])
    assert set(caught.value.fields) == {"image", "areas.1.action"}
    assert RichMenu.objects.get().name == "通常メニュー"
    edit(image=LARGE, height=1686, priority=2)
    changed = RichMenu.objects.get()
    assert (changed.name, changed.chat_bar_text, changed.height, changed.priority) == ("変更後", "お得情報", 1686, 2)
    assert default_storage.open(changed.image.name).read() == LARGE
