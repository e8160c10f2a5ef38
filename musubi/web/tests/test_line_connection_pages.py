"""The LINE account pages: connecting tries the token with LINE, the check button says whose account it is or
why LINE refused, and an owner removes a connection after a page that says what is kept and what stops."""

import pytest

from musubi.capture import line
from musubi.capture.models import LineChannel
from musubi.workspaces.services import SYSTEM

pytestmark = pytest.mark.django_db
JA = {"HTTP_ACCEPT_LANGUAGE": "ja"}
TOKEN = "page-token-" + "p" * 30


def form(**changes):
    return {"name": "居酒屋むすび 公式", "channel_id": "2000123456", "channel_secret": "0123456789abcdef" * 2,
            "access_token": TOKEN, "greeting": "", "coupon_id": "", "basic_id": "", "login_channel_id": "",
            "login_channel_secret": ""} | changes


@pytest.fixture
def account(workspace):
    return line.connect_channel(workspace=workspace, actor=SYSTEM, name="居酒屋むすび", channel_id="2000654321",
                                channel_secret="a" * 32, access_token=TOKEN, greeting="")


def test_connecting_shows_whose_account_line_says_it_is(owner_client, workspace, line_api):
    page = owner_client.post(f"/w/{workspace.slug}/line/", form(), follow=True, **JA).content.decode()
    assert "居酒屋むすび" in page and "@123abcde" in page
    assert LineChannel.objects.get().bot_name == "居酒屋むすび"


def test_a_refused_token_is_named_on_the_form_and_nothing_is_connected(owner_client, workspace, line_api):
    line_api.refused_tokens.add(TOKEN)
    response = owner_client.post(f"/w/{workspace.slug}/line/", form(), **JA)
    assert response.status_code == 200
    assert "LINEがこのチャネルアクセストークンを受け付けませんでした" in response.content.decode()
    assert not LineChannel.objects.exists()


def test_the_check_button_reports_both_ways(owner_client, workspace, account, line_api):
    url = f"/w/{workspace.slug}/line/{account.pk}/check/"
    page = owner_client.post(url, follow=True, **JA).content.decode()
    assert "LINEはこのトークンを受け付けています" in page and "@123abcde" in page
    line_api.refused_tokens.add(TOKEN)
    page = owner_client.post(url, follow=True, **JA).content.decode()
    assert "受け付けませんでした" in page
    assert owner_client.get(url).status_code == 405


def test_the_removal_page_says_what_happens_and_removes_on_confirmation(owner_client, workspace, account):
    url = f"/w/{workspace.slug}/line/{account.pk}/remove/"
    page = owner_client.get(url, **JA).content.decode()
    assert "同意の記録" in page and "Webhook" in page
    owner_client.post(url, {}, **JA)  # without the confirmation nothing happens
    assert LineChannel.objects.filter(pk=account.pk).exists()
    page = owner_client.post(url, {"confirm": "remove"}, follow=True, **JA).content.decode()
    assert not LineChannel.objects.filter(pk=account.pk).exists()
    assert "削除しました" in page
    assert owner_client.get(f"/w/{workspace.slug}/line/{account.pk}/").status_code == 404


def test_staff_may_neither_see_nor_use_the_removal(teammate_client, owner_client, workspace, account):
    url = f"/w/{workspace.slug}/line/{account.pk}/remove/"
    assert teammate_client.get(url).status_code == 403
    assert teammate_client.post(url, {"confirm": "remove"}).status_code == 403
    assert LineChannel.objects.filter(pk=account.pk).exists()
    edit = f"/w/{workspace.slug}/line/{account.pk}/"
    assert url in owner_client.get(edit).content.decode()
