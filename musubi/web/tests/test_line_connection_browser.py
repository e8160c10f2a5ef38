"""An owner on a phone connects a LINE account (a refused token first), checks it, and removes it after
reading what is kept and what stops."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from musubi.capture.models import LineChannel
from musubi.web.tests.test_browser import browser, shot  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TOKEN = "phone-token-" + "p" * 30


def test_an_owner_connects_checks_and_removes_a_line_account_on_a_phone(live_server, browser,  # noqa: F811
                                                                        owner_client, workspace, line_api):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    session = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    line_api.bot_name, line_api.bot_basic_id = "居酒屋むすび 梅田店", "@musubi-umeda"
    line_api.refused_tokens.add("revoked-" + "r" * 30)

    page.goto(f"{live_server.url}/w/{workspace.slug}/line/")
    page.locator("input[name=name]").fill("居酒屋むすび")
    page.locator("input[name=channel_id]").fill("2000123456")
    page.locator("input[name=channel_secret]").fill("0123456789abcdef" * 2)
    page.locator("input[name=access_token]").fill("revoked-" + "r" * 30)
    page.get_by_role("button", name="連携する").click()
    expect(page.get_by_text("LINEがこのチャネルアクセストークンを受け付けませんでした")).to_be_visible()
    shot(page, "line-connect-token-refused")
    assert not LineChannel.objects.exists()

    page.locator("input[name=channel_secret]").fill("0123456789abcdef" * 2)
    page.locator("input[name=access_token]").fill(TOKEN)
    page.get_by_role("button", name="連携する").click()
    expect(page.get_by_text("居酒屋むすび 梅田店 @musubi-umeda と連携しました")).to_be_visible()
    shot(page, "line-connected")

    page.get_by_role("link", name="居酒屋むすび", exact=True).click()
    page.get_by_role("button", name="LINEとの連携を確認").click()
    expect(page.get_by_text("LINEはこのトークンを受け付けています")).to_be_visible()
    shot(page, "line-checked")

    page.get_by_role("link", name="削除…").click()
    expect(page.get_by_role("heading", name="「居酒屋むすび」の連携を削除しますか？")).to_be_visible()
    shot(page, "line-remove-confirmation")
    page.get_by_role("button", name="この連携を削除する").click()
    expect(page.get_by_text("居酒屋むすび の連携を削除しました")).to_be_visible()
    shot(page, "line-removed")
    assert not LineChannel.objects.exists()
    context.close()
