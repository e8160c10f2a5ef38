"""The guide's PDF from upload to the buyer's phone, in a real browser: the owner adds it on the offer's page,
the buyer pays, finds it on the members' page and saves it under its Japanese name; a bonus video limited to
one download is refused, in Japanese, the second time.

Screenshots go to ``$MUSUBI_TEST_ARTIFACTS`` like the other browser tests'.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from musubi.catalog.models import Offer
from musubi.commerce import order_lifecycle
from musubi.commerce.models import CustomerMail, OfferFile, Order, OrderEvent
from musubi.web.tests.test_browser import browser, shot, sign_in_as_demo  # noqa: F401  (the shared browser)
from musubi.web.tests.test_checkout_browser import phone  # noqa: F401  (a phone-sized page)
from musubi.workspaces.services import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n% guide\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def test_the_owner_adds_the_guides_pdf_and_the_buyer_saves_it_from_their_phone(
        live_server, browser, phone, settings, tmp_path):  # noqa: F811
    settings.MUSUBI_BASE_URL = live_server.url
    call_command("demo")
    guide = Offer.objects.get(workspace__slug="manabi-academy", name="副業スタートガイド")

    staff = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 760}).new_page()
    sign_in_as_demo(staff, live_server.url)
    staff.goto(f"{live_server.url}/w/manabi-academy/offers/{guide.pk}/")
    expect(staff.get_by_role("heading", name="購入者向けダウンロードファイル")).to_be_visible()
    pdf_path = tmp_path / "副業スタートガイド.pdf"
    pdf_path.write_bytes(PDF)
    staff.get_by_label("ファイル", exact=True).set_input_files(str(pdf_path))
    staff.get_by_label("購入者に表示する名前").fill("副業スタートガイド 本編（PDF）")
    staff.get_by_role("button", name="ファイルを追加").click()
    expect(staff.locator(".messages")).to_contain_text("ファイルを追加しました")
    video_path = tmp_path / "特典動画.mp4"
    video_path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"v" * 2000)
    staff.get_by_label("ファイル", exact=True).set_input_files(str(video_path))
    staff.get_by_label("購入者に表示する名前").fill("特典動画")
    staff.get_by_label("1注文あたりのダウンロード回数").fill("1")
    staff.get_by_role("button", name="ファイルを追加").click()
    expect(staff.locator("#offer-files ~ .card table")).to_contain_text("特典動画.mp4")
    staff.locator("#offer-files").scroll_into_view_if_needed()
    shot(staff, "40-offer-files-ja")
    assert OfferFile.objects.filter(offer=guide).count() == 3  # the demo comes with one: the guide itself

    page = phone
    page.goto(f"{live_server.url}/buy/{guide.pk}")
    page.get_by_label("名前", exact=True).fill("田中 次郎")
    page.get_by_label("メールアドレス").fill("jiro@example.jp")
    page.get_by_label("銀行振込").check()
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    page.get_by_role("button", name="注文を確定する").click()
    order = Order.objects.get(offer=guide)
    expect(page.locator("#downloads")).to_have_count(0)  # nothing before the money arrives
    order_lifecycle.record_payment(workspace=order.workspace, actor=SYSTEM, order_id=order.pk)

    mail = CustomerMail.objects.get(kind="access_granted", order=order)
    assert "副業スタートガイド 本編（PDF）（副業スタートガイド.pdf、" in mail.body
    page.goto(live_server.url + re.search(r"http://[^/\s]+(/members/\S+)", mail.body).group(1))
    expect(page.locator("#downloads")).to_contain_text("あと1回ダウンロードできます")
    page.locator("#downloads").scroll_into_view_if_needed()
    shot(page, "41-members-page-downloads-ja")

    with page.expect_download() as caught:
        page.get_by_role("link", name="副業スタートガイド 本編（PDF）").click()
    download = caught.value
    assert download.suggested_filename == "副業スタートガイド.pdf"
    assert Path(download.path()).read_bytes() == PDF

    video_link = page.get_by_role("link", name="特典動画")
    video_href = video_link.get_attribute("href")
    with page.expect_download() as caught:
        video_link.click()
    assert caught.value.suggested_filename == "特典動画.mp4"
    page.goto(live_server.url + video_href)  # the same link again: the one download allowed is used
    expect(page.locator("#refusal")).to_contain_text("ダウンロードできる上限の1回に達しました")
    shot(page, "42-download-used-up-ja")
    forged = video_href[:-4] + ("AAAA" if not video_href.endswith("AAAA") else "BBBB")
    assert page.goto(live_server.url + forged).status == 404
    expect(page.locator("#refusal")).to_contain_text("このリンクは無効か、有効期限が切れています")
    shot(page, "45-download-link-refused-ja")
    page.goto(live_server.url + re.search(r"http://[^/\s]+(/members/\S+)", mail.body).group(1))
    expect(page.locator(f"#download-{OfferFile.objects.get(name='特典動画').pk}")).to_contain_text(
        "ダウンロードできる回数を使い切りました")
    shot(page, "43-members-page-used-up-ja")

    staff.goto(f"{live_server.url}/w/manabi-academy/orders/{order.pk}/")
    expect(staff.locator(".timeline")).to_contain_text("「副業スタートガイド 本編（PDF）」をダウンロード")
    shot(staff, "44-order-timeline-downloads-ja")
    assert OrderEvent.objects.filter(order=order, kind="downloaded").count() == 2
