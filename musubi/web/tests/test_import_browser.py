"""An owner imports a Shift_JIS file from Excel on a phone: upload, mapping, dry run, import, result."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, expect

from musubi.contacts.models import ConsentRecord, Contact
from musubi.imports.tests.helpers import HEADER, csv_bytes, work
from musubi.web.tests.test_browser import browser, shot, sign_in_as_demo  # noqa: F401 — the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_imports_a_shift_jis_file_on_a_phone(live_server, browser: Browser, tmp_path):  # noqa: F811
    call_command("demo")
    data = csv_bytes([HEADER, ["taka@example.jp", "髙橋 﨑子", "090-1234-5678", "", "①号店", "ゴールド"],
                      ["yamada@example.jp", "山田 太郎", "080-2222-3333", "", "常連", ""],
                      ["not-an-address", "佐藤 花子", "", "", "", ""]], encoding="cp932")
    csv_file = tmp_path / "顧客名簿.csv"
    csv_file.write_bytes(data)
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/kenko-shop/contacts/")
    page.get_by_role("link", name="インポート（CSV）").click()
    page.get_by_label("CSV ファイル").set_input_files(str(csv_file))
    page.get_by_role("button", name="アップロードして列を確認する").click()
    expect(page.get_by_label("文字コード")).to_have_value("cp932")
    expect(page.get_by_role("cell", name="髙橋 﨑子")).to_be_visible()
    page.get_by_label(re.compile("名刺")).check()
    page.get_by_label("証拠（入手元）").fill("2024年 店頭アンケート用紙")
    shot(page, "imports-01-mapping-phone")

    page.get_by_role("button", name="全行を確認する（ドライラン）").click()
    expect(page.locator("progress")).to_be_visible()
    shot(page, "imports-02-progress-phone")
    work()
    expect(page.get_by_text("ドライランが終わりました。何も書き込んでいません。")).to_be_visible(timeout=10000)
    expect(page.get_by_text("“not-an-address” はメールアドレスではありません。", exact=False)).to_be_visible()
    shot(page, "imports-03-dry-run-phone")
    assert not Contact.objects.filter(identities__value="taka@example.jp").exists()

    page.get_by_label("正しい行だけ取り込み、エラーの行は飛ばす").check()
    page.get_by_role("button", name="インポート", exact=True).click()
    work()
    expect(page.get_by_text("インポートしました。")).to_be_visible(timeout=10000)
    shot(page, "imports-04-done-phone")
    page.set_viewport_size({"width": 1100, "height": 760})
    shot(page, "imports-05-done-desktop")
    contact = Contact.objects.get(identities__value="taka@example.jp")
    assert contact.name == "髙橋 﨑子"
    assert ConsentRecord.objects.filter(contact=contact, basis="written_notice").count() == 2
    context.close()
