"""A buyer on a phone, in a real browser: the health-food trial set by bank transfer (changing the quantity on
the way), the 定期便 and its confirmation screen, the discounted first delivery paid by card on the Stripe
stand-in's hosted page through 3-D Secure (its webhooks posted back to the live server), the renewal a month
later, and cancelling from the link in the mail; the trial set again by konbini: the slip on the order's
page, then paid at the store.

Screenshots go to ``$MUSUBI_TEST_ARTIFACTS`` like the other browser tests'.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from musubi.catalog.models import Offer
from musubi.commerce import payment_setup
from musubi.commerce.models import CustomerMail, Order, Subscription
from musubi.kernel import clock
from musubi.kernel.worker import drain_queues
from musubi.web.tests.test_browser import browser, shot  # noqa: F401  (the shared browser fixture)
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def demo_shop(stripe_api, live_server):
    call_command("demo")
    workspace = Workspace.objects.get(slug="kenko-shop")
    payment_setup.save_payment_settings(workspace=workspace, actor=SYSTEM, card_enabled=True, konbini_enabled=True,
                                        stripe_secret_key="sk_test_demo", stripe_webhook_secret="whsec_demo")
    # Stripe's events go, signed, to the shop's webhook on the live server, as Stripe would send them.
    stripe_api.endpoints["sk_test_demo"] = (f"{live_server.url}/stripe/webhook/kenko-shop", "whsec_demo")
    return {o.name: o for o in Offer.objects.filter(workspace=workspace)}


def fill_buyer(page: Page) -> None:
    page.get_by_label("名前", exact=True).fill("佐藤 花子")
    page.get_by_label("メールアドレス").fill("hanako@example.jp")
    page.get_by_label("電話番号").fill("090-1234-5678")
    page.get_by_label("郵便番号").fill("100-0001")
    page.get_by_label("お届け先住所").fill("東京都千代田区千代田1-1")


def row(page: Page, heading: str) -> str:
    return page.locator("#confirmation tr", has=page.locator("th", has_text=heading)).locator("td").inner_text()


def test_a_buyer_orders_the_trial_set_then_the_subscription_and_cancels_it(live_server, phone, demo_shop, stripe_api,
                                                                          settings):
    settings.MUSUBI_BASE_URL = live_server.url  # links in mails and the way back from 3-D Secure
    page = phone
    trial = demo_shop["初回限定 お試しセット"]
    page.goto(f"{live_server.url}/buy/{trial.pk}")
    expect(page.get_by_role("heading", name="初回限定 お試しセット")).to_be_visible()
    expect(page.get_by_role("link", name="特定商取引法に基づく表記")).to_be_visible()
    fill_buyer(page)
    page.get_by_label("銀行振込").check()
    shot(page, "20-checkout-trial-ja")
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    expect(page.get_by_role("heading", name="ご注文内容の確認")).to_be_visible()
    assert row(page, "数量") == "1"
    # The buyer changes their mind about the quantity: back, change, confirm again.
    page.get_by_role("button", name="戻って変更する").click()
    expect(page.get_by_label("名前", exact=True)).to_have_value("佐藤 花子")
    page.get_by_label("数量").select_option("2")
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    assert row(page, "数量") == "2"
    assert row(page, "お支払い合計（税込）") == "1,960円"
    shot(page, "21-confirmation-trial-ja")
    page.get_by_role("button", name="注文を確定する").click()
    expect(page.get_by_role("heading", name="ご注文ありがとうございます")).to_be_visible()
    expect(page.locator("#bank-account")).to_contain_text("むすび銀行")
    shot(page, "22-ordered-trial-ja")
    assert Order.objects.get(offer=trial).total == 1960

    # The same buyer starts the 定期便 and reads the whole contract before ordering.
    monthly = demo_shop["青汁 定期便"]
    page.goto(f"{live_server.url}/buy/{monthly.pk}")
    fill_buyer(page)
    page.get_by_label("銀行振込").check()
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    assert row(page, "1回あたりの価格（税込）") == "1回につき 4,980円 × 1"
    assert row(page, "お届け回数") == "解約されるまで自動で継続します"
    assert row(page, "1年間のお支払い額") == f"{4980 * 12:,}円"
    assert "いつでも解約できます" in row(page, "解約方法")
    expect(page.get_by_role("button", name="注文を確定する")).to_be_visible()
    shot(page, "23-confirmation-subscription-ja")

    # The variant with a discounted first delivery, paid by card through 3-D Secure.
    discounted = demo_shop["青汁 定期便（初回1,980円）"]
    page.goto(f"{live_server.url}/buy/{discounted.pk}")
    fill_buyer(page)
    page.get_by_label("クレジットカード").check()
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    assert "Stripe の安全な決済ページ" in row(page, "お支払い時期")
    change = row(page, "初回価格の終了")
    assert "初回のみ 1,980円" in change and "4,980円" in change
    # The first price and the later terms are on screen together.
    expect(page.locator("#confirmation th", has_text="初回価格の終了")).to_be_in_viewport()
    shot(page, "24-confirmation-discounted-ja")
    page.get_by_role("button", name="注文を確定する").click()
    # Stripe's hosted page (the stand-in's): the card is entered there, never on the shop's pages.
    expect(page.locator("#amount")).to_have_text("1,980円")
    page.get_by_label("3Dセキュアが必要なカード（初回のみ").check()
    shot(page, "25-stripe-hosted-page")
    page.get_by_role("button", name="支払う").click()
    expect(page.get_by_role("heading", name="本人認証（テスト）")).to_be_visible()
    shot(page, "25b-3ds-standin")
    page.get_by_role("button", name="認証する").click()
    expect(page.locator("#order-status")).to_have_text("支払い済み")
    shot(page, "26-paid-by-card-ja")
    subscription = Subscription.objects.get(offer=discounted)
    assert subscription.stripe_payment_method == "pm_card_authenticationRequiredOnSetup"
    assert {w.type: w.status for w in stripe_api.webhooks} == {"payment_intent.succeeded": 200,
                                                               "checkout.session.completed": 200}

    # A month later the worker makes the renewal at the regular price and charges the saved card.
    with clock.travel(dt.timedelta(days=32)):
        drain_queues(worker="browser-test", only={"commerce.renewals", "commerce.renewal_charges"})
    renewal = Order.objects.get(subscription=subscription, cycle=2)
    assert (renewal.total, renewal.status) == (4980, "paid")

    # The buyer cancels from the link in the mail, without a password.
    mail = CustomerMail.objects.get(kind="subscription_started", subscription=subscription)
    path = re.search(r"http://[^/\s]+(/s/\S+)", mail.body).group(1)
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", name="ご利用中の定期便")).to_be_visible()
    shot(page, "27-subscription-page-ja")
    page.get_by_role("button", name="定期便を解約する").click()
    expect(page.get_by_role("status")).to_contain_text("定期便を解約しました")
    shot(page, "28-cancelled-ja")
    subscription.refresh_from_db()
    assert subscription.status == "cancelled" and subscription.cancelled_at is not None


def test_a_buyer_pays_the_trial_set_at_a_convenience_store(live_server, phone, demo_shop, stripe_api, settings):
    settings.MUSUBI_BASE_URL = live_server.url
    page = phone
    trial = demo_shop["初回限定 お試しセット"]
    page.goto(f"{live_server.url}/buy/{trial.pk}")
    fill_buyer(page)
    page.get_by_label("コンビニ決済").check()
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    assert "までにコンビニでお支払いください" in row(page, "お支払い時期")
    shot(page, "32-confirmation-konbini-ja")
    page.get_by_role("button", name="注文を確定する").click()
    # On Stripe's page the buyer turns back first, then comes again and has the slip issued.
    page.get_by_role("link", name="ショップに戻る").click()
    expect(page.locator("#payment-incomplete")).to_be_visible()
    shot(page, "32b-turned-back-on-stripe-ja")
    page.get_by_role("button", name="もう一度お支払いページへ進む").click()
    page.get_by_role("button", name="コンビニ支払い番号を発行する").click()
    expect(page.locator("#konbini-slip")).to_contain_text("ローソン")
    expect(page.locator("#konbini-deadline")).to_contain_text("までに、コンビニで 980円をお支払いください")
    shot(page, "33-konbini-slip-ja")
    order = Order.objects.get(offer=trial)
    assert order.status == "awaiting_payment"
    # The slip, then paid at the store: Stripe's event marks the order paid.
    page.get_by_role("link", name="払込票と各店舗でのお支払い方法を見る").click()
    shot(page, "34-konbini-voucher-standin")
    page.get_by_role("button", name="店頭で支払う（テスト）").click()
    expect(page.locator("#store-paid")).to_be_visible()
    order.refresh_from_db()
    assert order.status == "paid"
    page.goto(f"{live_server.url}/orders/{services_token(order)}")
    expect(page.locator("#order-status")).to_have_text("支払い済み")
    shot(page, "35-paid-at-konbini-ja")


def services_token(order: Order) -> str:
    from musubi.commerce import notices

    return notices.order_token(order)


def test_a_guide_bought_by_transfer_opens_its_members_page_and_the_course_to_its_buyer_only(
        live_server, browser, phone, settings):  # noqa: F811
    from musubi.web.tests.test_browser import sign_in_as_demo

    settings.MUSUBI_BASE_URL = live_server.url
    call_command("demo")
    guide = Offer.objects.get(workspace__slug="manabi-academy", name="副業スタートガイド")
    course = Offer.objects.get(workspace__slug="manabi-academy", name="オンライン講座（本講座）")
    page = phone
    page.goto(f"{live_server.url}/buy/{guide.pk}")
    page.get_by_label("名前", exact=True).fill("田中 次郎")
    page.get_by_label("メールアドレス").fill("jiro@example.jp")
    page.get_by_label("銀行振込").check()
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    page.get_by_role("button", name="注文を確定する").click()
    expect(page.locator("#bank-account")).to_contain_text("むすび銀行")
    order = Order.objects.get(offer=guide)

    # The shop sees the transfer arrive and marks the order paid.
    staff = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 760}).new_page()
    sign_in_as_demo(staff, live_server.url)
    staff.goto(f"{live_server.url}/w/manabi-academy/orders/")
    staff.get_by_role("link", name=order.number).click()
    staff.get_by_role("button", name="入金済みにする").click()
    expect(staff.locator("#status")).to_have_text("支払い済み")
    shot(staff, "29-order-marked-paid-ja")

    # The buyer opens the guide from the mailed link and finds the course open to them.
    mail = CustomerMail.objects.get(kind="access_granted", order=order)
    page.goto(live_server.url + re.search(r"http://[^/\s]+(/members/\S+)", mail.body).group(1))
    expect(page.locator("#member-content")).to_contain_text("第1章")
    shot(page, "30-members-page-ja")
    page.locator(f"#next-offer-{course.pk}").click()
    expect(page.get_by_role("heading", name="オンライン講座（本講座）")).to_be_visible()
    # Anyone else, without the invitation, is refused.
    page.goto(f"{live_server.url}/buy/{course.pk}")
    expect(page.locator("#refusal")).to_contain_text("招待されたお客様専用")
    shot(page, "31-course-refused-without-invitation-ja")
