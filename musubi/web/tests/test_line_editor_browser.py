"""An owner writes a LINE template of a text, a picture and a buttons card in a real browser: messages added
and moved with htmx (the page is not reloaded), a picture uploaded, a problem named in place, and the
preview showing the messages roughly as LINE does, on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from conftest import PASSWORD
from musubi.capture import line as capture_line
from musubi.messaging.models import Template
from musubi.messaging.tests import factories as f
from musubi.testing.images import png
from musubi.web.tests.test_browser import browser, shot  # noqa: F401 — the fixture
from musubi.workspaces.services import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"locale": "ja-JP", "viewport": {"width": 390, "height": 844}, "is_mobile": True}
DESKTOP = {"locale": "ja-JP", "viewport": {"width": 1100, "height": 900}}


def _sign_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.get_by_label("メールアドレス").fill("owner@example.com")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("button", name="ログイン")).to_have_count(0)


def test_an_owner_writes_a_line_template_with_a_picture_and_buttons(live_server, browser, workspace,  # noqa: F811
                                                                     tmp_path, line_api):
    capture_line.connect_channel(workspace=workspace, actor=SYSTEM, name="居酒屋むすび", channel_id="1234567890",
                                 channel_secret="a" * 32, access_token="t" * 40, greeting="")
    friend = f.person(workspace, line="U" + "c" * 32, name="さとう")
    picture = tmp_path / "beer.png"
    picture.write_bytes(png(600, 400, grey=90))
    desktop = browser.new_context(**DESKTOP)
    page = desktop.new_page()
    base = live_server.url
    _sign_in(page, base)
    page.goto(base + "/w/kenko/messaging/templates/new/?channel=line")
    page.get_by_label("管理用の名前（お客様には見えません）").fill("雨の日の生ビール")
    page.locator("#m-0-text").fill("{{ name }}さん、雨の日限定のお知らせです☔")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads instead of htmx swapping the editor

    page.get_by_role("button", name="＋ 画像").click()
    expect(page.locator("#line-message-1")).to_have_attribute("data-kind", "image")
    page.locator("#m-1-image_file").set_input_files(str(picture))
    page.locator("#m-1-alt_text").fill("生ビールの写真")
    page.get_by_role("button", name="＋ ボタン").click()
    expect(page.locator("#line-message-2")).to_have_attribute("data-kind", "buttons")
    expect(page.locator("#line-message-1 img.line-editor-picture")).to_be_visible()  # uploaded on the way
    assert page.evaluate("window.notReloaded") is True
    card = page.locator("#line-message-2")
    card.locator("#m-2-title").fill("生ビール半額")
    card.locator("#m-2-text").fill("本日18時から閉店まで")
    card.get_by_label("ボタン1：ボタンの文字").fill("予約する")
    card.get_by_label("ボタン1：リンク").fill("https://izakaya.example.jp/reserve")
    card.get_by_label("ボタン2：動作").select_option("postback")
    card.get_by_label("ボタン2：ボタンの文字").fill("クーポン")
    card.get_by_label("ボタン2：ポストバックデータ").fill("coupon=beer")
    # The card first, then the text: moved up twice.
    page.locator("#line-message-2").get_by_role("button", name="↑").click()
    expect(page.locator("#line-message-1")).to_have_attribute("data-kind", "buttons")
    page.locator("#line-message-1").get_by_role("button", name="↑").click()
    expect(page.locator("#line-message-0")).to_have_attribute("data-kind", "buttons")
    shot(page, "line-editor-desktop")

    page.get_by_role("button", name="保存").click()  # no alternative text yet: named in place
    expect(page.locator("#line-message-0 .errorlist")).to_contain_text("代替テキストを入力してください")
    assert not Template.objects.exists()
    shot(page, "line-editor-error")
    page.locator("#m-0-alt_text").fill("生ビール半額のご案内")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".messages")).to_contain_text("テンプレートを保存しました")
    template = Template.objects.get()
    assert [m["kind"] for m in template.line_messages] == ["buttons", "text", "image"]

    phone = browser.new_context(**PHONE).new_page()
    _sign_in(phone, base)
    phone.goto(base + f"/w/kenko/messaging/templates/{template.pk}/preview/?contact={friend.pk}")
    preview = phone.locator("#preview-line")
    expect(preview.locator(".line-card-title")).to_have_text("生ビール半額")
    expect(preview.locator(".bubble")).to_have_text("さとうさん、雨の日限定のお知らせです☔")
    expect(preview.locator("img.line-image")).to_be_visible()
    assert preview.locator("img.line-image").evaluate("img => img.naturalWidth") == 600  # served from /li/<key>
    shot(phone, "line-preview-phone")
    phone.get_by_role("button", name="LINEでテスト送信").click()
    expect(phone.locator(".messages")).to_contain_text("さとう にLINEでテスト送信しました。")
    [push] = line_api.pushes
    assert [m["type"] for m in push["messages"]] == ["template", "text", "image"]


def test_the_sending_domain_page_on_a_phone(live_server, browser, workspace, dns_server, settings):  # noqa: F811
    settings.MUSUBI_SENDING_IPS = ["192.0.2.25"]
    f.sender(workspace)
    page = browser.new_context(**PHONE).new_page()
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/w/kenko/messaging/sender/")
    page.get_by_role("link", name="送信ドメイン（SPF・DKIM・DMARC）").click()
    page.get_by_role("button", name="DKIM鍵を作成").click()
    expect(page.locator("#dkim-name")).to_contain_text("._domainkey.kenko.example.jp")
    dns_server.txt("kenko.example.jp", "v=spf1 ip4:192.0.2.25 -all")
    page.get_by_role("button", name="今すぐ確認").click()
    expect(page.locator("#check-spf")).to_contain_text("SPFはメールを送るサーバーを許可しています。")
    expect(page.locator("#check-dkim")).to_contain_text("まだ公開されていません")
    shot(page, "sending-domain-phone")
