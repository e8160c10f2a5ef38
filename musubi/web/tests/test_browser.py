"""A new user's first steps in a real browser (Debian's Chromium through Playwright).

Screenshots go to ``$MUSUBI_TEST_ARTIFACTS`` (default ``test-artifacts/``) so a person can look at them.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("MUSUBI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("MUSUBI_TEST_ARTIFACTS", Path(__file__).resolve().parents[3] / "test-artifacts"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 760})
    page = context.new_page()
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in_as_demo(page: Page, base: str) -> None:
    page.goto(base + "/")
    expect(page.get_by_role("heading", name="Musubi にログイン")).to_be_visible()
    shot(page, "01-login-ja")
    page.get_by_label("メールアドレス").fill("demo@example.com")
    page.get_by_label("パスワード").fill("musubi-demo")
    page.get_by_role("button", name="ログイン").click()


def test_a_new_user_signs_in_to_the_demo_and_finds_their_workspaces(live_server, page):
    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    expect(page.get_by_role("heading", name="あなたのワークスペース")).to_be_visible()
    shot(page, "02-workspaces-ja")
    page.get_by_role("link", name="居酒屋むすび").click()
    expect(page.get_by_role("heading", name="居酒屋むすび")).to_be_visible()
    expect(page.get_by_role("cell", name="demo@example.com").first).to_be_visible()  # its recent activity
    shot(page, "03-dashboard-ja")
    page.get_by_role("link", name="メンバー").click()
    expect(page.get_by_role("cell", name="staff@example.com")).to_be_visible()
    shot(page, "04-members-ja")


def test_an_owner_makes_an_api_key_in_the_browser_and_uses_it(live_server, page):
    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/kenko-shop/api-keys/")
    page.get_by_label("キーの名前").fill("天気連動の配信")
    page.get_by_role("button", name="作成する").click()
    secret = page.locator("#new-secret").inner_text().strip()
    shot(page, "05-api-key-created-ja")
    assert secret.startswith("msk_")

    request = urllib.request.Request(live_server.url + "/api/v1/workspace",
                                     headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["slug"] == "kenko-shop"

    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once only
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="無効にする").click()
    assert "天気連動の配信" in questions[0]
    expect(page.get_by_role("button", name="無効にする")).to_be_visible()  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="無効にする").click()
    expect(page.get_by_text("無効", exact=True)).to_be_visible()


def test_english_is_one_choice_away(live_server, page):
    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/account/")
    page.get_by_label("表示言語").select_option("en")
    page.get_by_role("button", name="保存").click()
    page.goto(live_server.url + "/w/manabi-academy/")
    expect(page.get_by_role("link", name="Members")).to_be_visible()
    shot(page, "06-dashboard-en")


def test_the_counter_staff_page_works_on_a_phone(live_server, browser):
    call_command("demo")
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(live_server.url + "/login/")
    page.get_by_label("メールアドレス").fill("staff@example.com")
    page.get_by_label("パスワード").fill("musubi-demo")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="居酒屋むすび")).to_be_visible()
    expect(page.get_by_role("link", name="APIキー")).to_have_count(0)  # staff do not administer
    shot(page, "07-staff-phone-ja")
    context.close()


def test_an_owner_sees_a_premium_refused_then_compares_plans_and_reads_the_charts(live_server, page):
    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/izakaya-musubi/ladder/")
    expect(page.get_by_role("heading", name="確認が必要な点")).to_be_visible()
    shot(page, "10-ladder-izakaya-ja")
    page.get_by_role("link", name="LINE友だち追加で唐揚げ無料（案）").click()
    page.get_by_role("button", name="公開する").click()
    expect(page.locator(".messages .error")).to_contain_text("公開しませんでした")
    expect(page.locator("#refusal")).to_contain_text("上限の200円")
    shot(page, "11-premium-refused-ja")

    page.goto(live_server.url + "/w/kenko-shop/plans/")
    for box in page.get_by_role("checkbox").all()[:2]:
        box.check()
    page.get_by_role("button", name="チェックしたプランを比較").click()
    expect(page.get_by_role("heading", name="プランの比較")).to_be_visible()
    shot(page, "12-plans-compared-ja")

    page.goto(live_server.url + "/w/kenko-shop/plans/")
    page.get_by_role("link", name="広告CPA 1,500円").click()
    expect(page.get_by_role("img", name="感度分析のトルネードチャート")).to_be_visible()
    expect(page.get_by_role("img", name="1人あたり利益の分布")).to_be_visible()
    shot(page, "13-plan-charts-ja")
    page.get_by_label("1人あたり広告費", exact=True).fill("6000")
    page.get_by_role("button", name="保存して再計算").click()
    expect(page.locator(".messages")).to_contain_text("再計算しました")
    expect(page.locator(".stat .number.bad").first).to_be_visible()  # now a loss per customer
    shot(page, "14-plan-loss-ja")


def test_an_owner_reads_a_contacts_consent_evidence(live_server, page):
    from musubi.contacts import services as contacts
    from musubi.workspaces.models import Workspace

    call_command("demo")
    workspace = Workspace.objects.get(slug="izakaya-musubi")
    contact, _ = contacts.find_or_create_contact(
        workspace=workspace, addresses=contacts.normalise(email="hanako@example.jp", phone="090-1234-5678"),
        name="佐藤花子")
    contacts.record_consent(workspace=workspace, contact=contact, channel="email", address="hanako@example.jp",
                            ip_address="203.0.113.9", capture_point_id=1, capture_point_version=1,
                            wording="お得な情報をメールで受け取る")
    contacts.tag(workspace=workspace, contact=contact, names=["卓上QR"])
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/izakaya-musubi/contacts/")
    page.get_by_role("link", name="佐藤花子").click()
    expect(page.get_by_role("heading", name="同意の記録")).to_be_visible()
    expect(page.get_by_text("090-1234-5678")).to_be_visible()  # written the Japanese way
    shot(page, "15-contact-consent-ja")


def test_an_owner_makes_a_qr_code_for_a_table(live_server, page):
    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/izakaya-musubi/sources/")
    page.get_by_label("種類").select_option("store_spot")
    page.get_by_label("名前").fill("テーブル12番")
    page.get_by_role("button", name="集客元を追加").click()
    page.get_by_label("リンク先").fill("https://izakaya.example.jp/line")
    page.get_by_role("button", name="リンクを作成").click()
    new_row = page.get_by_role("row").filter(has_text="izakaya.example.jp/line")
    expect(new_row.get_by_role("link", name="PNG")).to_be_visible()
    shot(page, "16-sources-links-ja")


def test_a_guest_opts_in_from_a_table_qr_on_a_phone_and_the_staff_redeem_the_coupon_once(live_server, browser, page):
    from musubi.capture import services as capture
    from musubi.capture.models import CapturePoint, Submission
    from musubi.workspaces.services import SYSTEM

    call_command("demo")
    point = CapturePoint.objects.get(workspace__slug="izakaya-musubi")
    table = capture.create_source(workspace=point.workspace, actor=SYSTEM, kind="store_spot", name="テーブル5")
    link = capture.create_link(workspace=point.workspace, actor=SYSTEM, source_id=table.pk,
                               target_url=f"{live_server.url}/p/{point.code}")
    # A phone's own user agent: headless Chromium names itself, and clicks by such agents are not people.
    phone = {"locale": "ja-JP", "viewport": {"width": 390, "height": 844}, "is_mobile": True,
             "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                           "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}

    guest = browser.new_context(**phone).new_page()
    guest.goto(f"{live_server.url}/r/{link.code}")  # what scanning the table's QR code opens
    expect(guest.get_by_role("heading", name="ご登録で、本日のおつまみ一品無料！")).to_be_visible()
    expect(guest.get_by_label("居酒屋むすびからのお知らせ（メール）を受け取ることに同意します")).not_to_be_checked()
    guest.get_by_label("お名前").fill("小林 さくら")
    guest.get_by_label("メールアドレス").fill("sakura@example.jp")
    guest.get_by_role("button", name="登録してクーポンを受け取る").click()
    expect(guest.get_by_text("同意のチェックがないとご登録いただけません。")).to_be_visible()
    expect(guest.get_by_text("この質問にお答えください。")).to_be_visible()
    shot(guest, "17-optin-errors-phone-ja")
    guest.get_by_label("初めて").check()
    guest.get_by_label("焼き鳥").check()
    guest.get_by_label("居酒屋むすびからのお知らせ（メール）を受け取ることに同意します").check()
    guest.get_by_role("button", name="登録してクーポンを受け取る").click()
    expect(guest.get_by_role("heading", name="ご登録ありがとうございます")).to_be_visible()
    expect(guest.get_by_text("本日のおつまみ一品 無料")).to_be_visible()
    shot(guest, "18-coupon-phone-ja")
    submission = Submission.objects.get(contact__identities__value="sakura@example.jp")
    assert submission.source_id == table.pk  # credited to the table whose QR code was scanned
    code = submission.coupon.code

    staff = browser.new_context(**phone).new_page()
    staff.goto(f"{live_server.url}/c/{code}?staff=1")  # the staff member scans the coupon with their phone
    staff.get_by_label("メールアドレス").fill("staff@example.com")
    staff.get_by_label("パスワード").fill("musubi-demo")
    staff.get_by_role("button", name="ログイン").click()
    expect(staff.get_by_role("heading", name="クーポンを使用済みにする")).to_be_visible()
    expect(staff.get_by_text("小林 さくら")).to_be_visible()
    staff.get_by_role("button", name="使用済みにする").click()
    expect(staff.get_by_text("使用済みにしました：本日のおつまみ一品 無料")).to_be_visible()
    staff.get_by_label("クーポンコード").fill(f"{code[:5].lower()}-{code[5:].lower()}")
    staff.get_by_role("button", name="確認").click()
    expect(staff.get_by_text("このクーポンは使用済みです")).to_be_visible()
    expect(staff.get_by_role("button", name="使用済みにする")).to_have_count(0)
    shot(staff, "19-counter-used-phone-ja")

    sign_in_as_demo(page, live_server.url)
    page.goto(f"{live_server.url}/w/izakaya-musubi/forms/{point.pk}/")
    expect(page.get_by_role("cell", name="テーブル5")).to_be_visible()
    shot(page, "20-optin-form-owner-ja")
    page.goto(f"{live_server.url}/w/izakaya-musubi/contacts/{submission.contact_id}/")
    expect(page.get_by_text("登録フォーム「卓上QR：登録で一品無料」（バージョン 1）")).to_be_visible()
    shot(page, "21-contact-from-optin-ja")


def htmx_settled(page: Page) -> None:
    page.wait_for_timeout(50)
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


def test_an_owner_builds_a_segment_on_a_phone_and_watches_the_count_change(live_server, browser):
    import datetime as dt

    from musubi.contacts import services as contacts
    from musubi.kernel import clock
    from musubi.kernel.facts import record_fact
    from musubi.workspaces.models import Workspace

    call_command("demo")
    workspace = Workspace.objects.get(slug="izakaya-musubi")
    for n, (name, tags, redeemed_days_ago) in enumerate([("佐藤花子", ["常連"], 3), ("鈴木一郎", ["常連"], 45),
                                                         ("高橋美咲", ["常連"], None), ("田中健", [], 2)]):
        contact, _ = contacts.find_or_create_contact(
            workspace=workspace, addresses=contacts.normalise(email=f"guest{n}@example.jp"), name=name)
        contacts.tag(workspace=workspace, contact=contact, names=tags)
        if redeemed_days_ago is not None:
            record_fact(workspace_id=workspace.pk, kind="coupon.redeemed", contact_id=contact.pk,
                        occurred_at=clock.now() - dt.timedelta(days=redeemed_days_ago))
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/izakaya-musubi/segments/")
    page.get_by_role("link", name="新しいセグメント").click()
    page.get_by_label("セグメント名").fill("最近来てくれた常連さん")
    expect(page.locator("#live-count")).to_contain_text("条件を入れ終えると")
    page.locator("#c0-tag").select_option("常連")
    expect(page.locator("#live-count")).to_contain_text("3人")
    shot(page, "seg-01-builder-one-condition-phone-ja")

    page.get_by_role("button", name="条件を追加").click()
    htmx_settled(page)  # a person is slower than this test: let htmx wire up the new row first
    page.locator("#c1-type").select_option("event")
    htmx_settled(page)
    page.locator("#c1-kind").select_option(label="クーポンを使った")
    expect(page.locator("#live-count")).to_contain_text("1人")  # used a coupon in the last 30 days: 佐藤花子
    page.locator("#c1-days").fill("60")
    page.locator("#c1-days").blur()
    expect(page.locator("#live-count")).to_contain_text("2人")
    page.get_by_label("いずれかを満たす").check()
    expect(page.locator("#live-count")).to_contain_text("4人")
    page.get_by_label("すべて満たす").check()
    expect(page.locator("#live-count")).to_contain_text("2人")
    shot(page, "seg-02-builder-count-changed-phone-ja")

    page.get_by_role("button", name="セグメントを保存").click()
    expect(page.get_by_role("heading", name="最近来てくれた常連さん")).to_be_visible()
    expect(page.get_by_role("link", name="佐藤花子")).to_be_visible()
    expect(page.get_by_role("link", name="高橋美咲")).to_have_count(0)
    shot(page, "seg-03-segment-members-phone-ja")
    context.close()

    desktop = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 760})
    page = desktop.new_page()
    sign_in_as_demo(page, live_server.url)
    page.goto(live_server.url + "/w/izakaya-musubi/segments/")
    expect(page.get_by_role("cell", name="最近来てくれた常連さん")).to_be_visible()
    shot(page, "seg-04-segment-list-desktop-ja")
    page.get_by_role("link", name="最近来てくれた常連さん").click()
    page.get_by_role("link", name="条件を変更").click()
    shot(page, "seg-05-builder-desktop-ja")
    desktop.close()


def test_an_owner_connects_line_and_a_friend_add_gets_the_coupon(live_server, page, line_api, run_worker):
    import base64
    import hashlib
    import hmac

    from django.test import Client

    from musubi.capture.models import Coupon
    from musubi.contacts.models import Contact

    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    page.goto(f"{live_server.url}/w/izakaya-musubi/line/")
    page.get_by_label("名前").fill("居酒屋むすび 公式")
    page.get_by_label("チャネルID", exact=True).fill("2000123456")
    page.get_by_label("チャネルシークレット", exact=True).fill("0123456789abcdef0123456789abcdef")
    page.get_by_label("チャネルアクセストークン（長期）").fill("t" * 40)
    page.get_by_label("友だち追加時のあいさつメッセージ").fill("友だち追加ありがとうございます！")
    page.get_by_label("あいさつと一緒に送るクーポン").select_option(label="友だち登録の一品無料")
    page.get_by_role("button", name="連携する").click()
    expect(page.get_by_text("/line/webhook/2000123456")).to_be_visible()
    expect(page.get_by_text("0123456789abcdef")).to_have_count(0)  # the secret is never shown back
    shot(page, "22-line-connected-ja")

    user = "U" + "c" * 32
    body = (b'{"destination":"U0","events":[{"type":"follow","mode":"active","timestamp":1763800000000,'
            b'"source":{"type":"user","userId":"' + user.encode() + b'"},"webhookEventId":"01J0000000000000000000000A",'
            b'"deliveryContext":{"isRedelivery":false},"replyToken":"r","follow":{"isUnblocked":false}}]}')
    signature = base64.b64encode(hmac.new(b"0123456789abcdef0123456789abcdef", body, hashlib.sha256).digest())
    line_api.names[user] = "LINEの山田"  # the profile LINE gives for this friend, asked for at the follow
    response = Client().post("/line/webhook/2000123456", data=body, content_type="application/json",
                             HTTP_X_LINE_SIGNATURE=signature.decode())
    assert response.status_code == 200
    run_worker()
    coupon = Coupon.objects.get(contact__identities__value=user)
    assert any(coupon.code[:5] in text for text in line_api.delivered_to(user))
    contact = Contact.objects.get(identities__value=user)
    page.goto(f"{live_server.url}/w/izakaya-musubi/contacts/{contact.pk}/")
    expect(page.get_by_role("heading", name="LINEの山田")).to_be_visible()
    shot(page, "23-line-friend-contact-ja")


def test_the_a6_card_prints_the_whole_qr_code(live_server, page):
    from musubi.capture.models import TrackingLink

    call_command("demo")
    sign_in_as_demo(page, live_server.url)
    link = TrackingLink.objects.filter(workspace__slug="izakaya-musubi").order_by("pk").first()
    page.goto(f"{live_server.url}/w/izakaya-musubi/links/{link.pk}/card/")
    card = page.locator(".a6 .qr svg").bounding_box()
    drawn = page.evaluate("() => { const b = document.querySelector('.a6 .qr svg path').getBBox();"
                          " const v = document.querySelector('.a6 .qr svg').viewBox.baseVal;"
                          " return [b.x + b.width <= v.width, b.y + b.height <= v.height]; }")
    assert card is not None and abs(card["width"] - card["height"]) < 1 and drawn == [True, True]
    page.emulate_media(media="print")
    shot(page, "24-a6-card-print-ja")
