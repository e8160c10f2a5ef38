"""Trying a LINE friend-add in the demo, as a new user does: the LINE stand-in's page has a form per channel
connected in Musubi, and its buttons send signed webhooks to Musubi's real webhook (a live server here)."""

from __future__ import annotations

import urllib.parse
import urllib.request

import pytest
from django.core.management import call_command

from musubi.capture import line
from musubi.capture.models import LineChannel, LineEvent
from musubi.capture.tests.factories import owner_actor
from musubi.contacts import services as contacts
from musubi.contacts.models import ConsentRecord, Suppression
from musubi.testing.line_standin_friends import WebhookChannel, demo_name
from musubi.web.management.commands.line_standin import connected_channels

pytestmark = pytest.mark.django_db(transaction=True)
DEMO_CHANNEL = "1650000001"  # the izakaya's account in the demo


def press(standin, action, user=""):
    """Submit the page's form, as the browser does (it follows the redirect back to the page)."""
    form = urllib.parse.urlencode({"channel": DEMO_CHANNEL, "action": action, "user": user}).encode()
    with urllib.request.urlopen(standin.url + "/friends", data=form, timeout=30) as answer:
        assert answer.url == standin.url + "/"
        return answer.read().decode()


@pytest.fixture
def demo(live_server, line_api, settings):
    settings.MUSUBI_BASE_URL = live_server.url
    call_command("demo")
    line_api.channels_from = connected_channels  # what `musubi line_standin` does
    return LineChannel.objects.get(channel_id=DEMO_CHANNEL)


def test_a_friend_add_from_the_standin_page_reaches_musubi_and_makes_a_named_contact_with_the_coupon(
        demo, line_api, run_worker):
    with urllib.request.urlopen(line_api.url + "/", timeout=30) as answer:
        page = answer.read().decode()
    assert "友だち追加を試す" in page and f"居酒屋むすび 公式LINE ({DEMO_CHANNEL})" in page
    assert f"/line/webhook/{DEMO_CHANNEL}" in page

    page = press(line_api, "follow")
    tried = line_api.tried[-1]
    assert (tried.status, tried.action) == (200, "follow") and tried.user_id in page
    contact = contacts.find_by_identity(workspace=demo.workspace, kind="line", value=tried.user_id)
    assert contact is not None and contact.name == demo_name(tried.user_id)  # from the stand-in's profile
    assert ConsentRecord.objects.get(contact=contact, channel="line").granted
    run_worker()
    greeting, coupon = line_api.delivered_to(tried.user_id)
    assert greeting.startswith("友だち追加ありがとうございます") and "本日のおつまみ一品 無料" in coupon


def test_block_and_unblock_from_the_page_act_on_the_latest_friend(demo, line_api):
    press(line_api, "follow")
    friend = line_api.tried[-1].user_id
    press(line_api, "block")
    assert line_api.tried[-1].status == 200
    assert Suppression.objects.filter(value=friend, channel="line").exists()
    press(line_api, "unblock")
    assert line_api.tried[-1].status == 200
    assert not Suppression.objects.filter(value=friend, channel="line").exists()
    kinds = list(LineEvent.objects.filter(user_id=friend).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["follow", "unfollow", "follow"]


def test_a_typed_user_id_is_used_and_a_malformed_one_is_refused_without_sending(demo, line_api):
    typed = "U" + "1234abcd" * 4
    press(line_api, "follow", typed)
    assert line_api.tried[-1].status == 200
    assert contacts.find_by_identity(workspace=demo.workspace, kind="line", value=typed) is not None
    page = press(line_api, "follow", "Uxyz")
    assert line_api.tried[-1].status is None and "a LINE user id is U followed by 32" in page
    assert LineEvent.objects.count() == 1


def test_a_channel_told_a_wrong_secret_is_refused_by_musubi(live_server, line_api, settings, workspace):
    """The signature is what Musubi checks: the stand-in's webhooks pass because it signs as LINE does."""
    settings.MUSUBI_BASE_URL = live_server.url
    channel = line.connect_channel(workspace=workspace, actor=owner_actor(), name="テスト", channel_id=DEMO_CHANNEL,
                                   channel_secret="0" * 32, access_token="t" * 40)
    line_api.channels[DEMO_CHANNEL] = WebhookChannel(DEMO_CHANNEL, "テスト", "f" * 32, line.webhook_url(channel))
    press(line_api, "follow")
    assert line_api.tried[-1].status == 400
    assert not LineEvent.objects.exists()
