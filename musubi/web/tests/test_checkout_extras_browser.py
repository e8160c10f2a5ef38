"""A buyer on a phone, in a real browser: a discount code typed at the checkout becomes its own line of the
confirmation screen and of the amount on Stripe's hosted page (the stand-in's), where a declined card is tried
first; then the one-click upsell right after that card payment is accepted and charged off-session to the card
saved at Stripe; and a subscription's minimum number of deliveries on its screen.

Screenshots go to ``$MUSUBI_TEST_ARTIFACTS`` like the other browser tests'.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from musubi.catalog import services as catalog
from musubi.commerce import discounts
from musubi.commerce.models import DiscountCode, Order, Upsell
from musubi.web.tests.test_browser import browser, page, shot  # noqa: F401  (the shared browser fixtures)
from musubi.web.tests.test_checkout_browser import demo_shop, fill_buyer, phone, row  # noqa: F401
from musubi.workspaces.services import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_buyer_uses_a_discount_code_then_accepts_the_upsell_with_one_click(live_server, phone: Page,  # noqa: F811
                                                                          demo_shop, stripe_api,  # noqa: F811
                                                                          settings):
    settings.MUSUBI_BASE_URL = live_server.url
    page = phone  # noqa: F811
    trial, monthly = demo_shop["初回限定 お試しセット"], demo_shop["青汁 定期便"]
    workspace = trial.workspace
    discounts.create_code(workspace=workspace, actor=SYSTEM, data=discounts.CodeInput(
        code="WELCOME300", kind="amount", value=300, offer_ids=(trial.pk,), max_uses=100))
    catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=trial.pk, upsell_offer_id=monthly.pk)

    page.goto(f"{live_server.url}/buy/{trial.pk}")
    fill_buyer(page)
    page.get_by_label("クレジットカード").check()
    expect(page.locator("[name=card_token]")).to_have_count(0)  # the card is entered on Stripe's page only
    page.get_by_label("クーポンコード（お持ちの方）").fill("welcome-300")  # a typo first
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    expect(page.locator("#discount_code-error")).to_have_text(
        "クーポンコード WELCOME-300 は見つかりません。入力内容をご確認ください。")
    shot(page, "40-discount-code-refused-ja")
    page.get_by_label("クーポンコード（お持ちの方）").fill("welcome300")
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    expect(page.get_by_role("heading", name="ご注文内容の確認")).to_be_visible()
    assert row(page, "割引（コード WELCOME300）") == "−300円"
    assert row(page, "お支払い合計（税込）") == "680円"
    shot(page, "41-confirmation-with-discount-ja")
    page.get_by_role("button", name="注文を確定する").click()

    # Stripe's hosted page asks for the discounted amount; the first card is declined, the buyer stays there.
    expect(page.locator("#amount")).to_have_text("680円")
    page.get_by_label("拒否されるカード").check()
    page.get_by_role("button", name="支払う").click()
    expect(page.locator("#problem")).to_have_text("カードが拒否されました。別のカードをお試しください。")
    shot(page, "41b-stripe-card-declined")
    assert stripe_api.charges() == []
    page.get_by_label("成功するカード（Visa 4242）").check()
    page.get_by_role("button", name="支払う").click()

    # Right after the payment: the upsell, a confirmation screen of its own.
    expect(page.get_by_role("heading", name="ご購入いただいたお客様だけの特別なご案内")).to_be_visible()
    assert row(page, "商品") == "青汁 定期便"
    assert row(page, "お支払い方法") == "クレジットカード"
    assert row(page, "解約方法")  # how to cancel, next to the price
    expect(page.get_by_role("button", name="今回は見送って、ご注文の確認へ進む")).to_be_visible()
    shot(page, "42-upsell-ja")
    page.get_by_role("button", name="注文を確定する").click()
    expect(page.locator("#order-status")).to_have_text("支払い済み")
    shot(page, "43-upsell-paid-ja")

    first = Order.objects.get(offer=trial)
    second = Order.objects.get(offer=monthly)
    assert first.total == 680 and DiscountCode.objects.get().uses == 1
    assert second.total == 4980 and second.status == "paid"
    assert Upsell.objects.get().upsell_order_id == second.pk
    assert [c["amount"] for c in stripe_api.charges()] == [680, 4980]
    saved_at_stripe = stripe_api.charges()[0]["customer"]
    assert stripe_api.charges()[1]["customer"] == saved_at_stripe and Upsell.objects.get().stripe_customer == (
        saved_at_stripe)
    assert stripe_api.charges()[1]["payment_method"] == "pm_card_visa"


def test_the_minimum_number_of_deliveries_is_on_the_subscriptions_screen(live_server, phone: Page,  # noqa: F811
                                                                          demo_shop):  # noqa: F811
    page = phone  # noqa: F811
    monthly = demo_shop["青汁 定期便"]
    catalog.update_offer(workspace=monthly.workspace, actor=SYSTEM, offer_id=monthly.pk, min_deliveries=3)
    page.goto(f"{live_server.url}/buy/{monthly.pk}")
    fill_buyer(page)
    page.get_by_label("銀行振込").check()
    page.get_by_role("button", name="ご注文内容の確認へ進む").click()
    minimum = page.locator("#confirmation tr", has=page.get_by_role("rowheader", name="最低継続回数", exact=True))
    assert "最低3回の継続が条件" in minimum.locator("td").inner_text()
    assert row(page, "最低継続回数分の合計（税込）") == "3回分で14,940円"
    minimum.scroll_into_view_if_needed()
    shot(page, "44-confirmation-minimum-deliveries-ja")


def test_the_owner_adds_a_discount_code_and_sees_its_uses(live_server, page: Page, demo_shop):  # noqa: F811
    from musubi.web.tests.test_browser import sign_in_as_demo

    trial = demo_shop["初回限定 お試しセット"]
    sign_in_as_demo(page, live_server.url)
    page.goto(f"{live_server.url}/w/{trial.workspace.slug}/discount-codes/")
    expect(page.get_by_role("heading", name="クーポンコード", exact=True)).to_be_visible()
    page.get_by_label("コード", exact=True).fill("aki10")
    page.get_by_label("割引", exact=True).select_option("percent")
    page.get_by_label("割引率（％）または金額（円）").fill("10")
    page.get_by_label(trial.name).check()
    page.get_by_label("利用回数の上限（全体）").fill("50")
    page.get_by_role("button", name="コードを追加").click()
    expect(page.locator("#discount-codes")).to_contain_text("AKI10")
    expect(page.locator("#discount-codes .uses")).to_have_text("0 / 50")
    shot(page, "45-discount-codes-staff-ja")
    page.get_by_role("button", name="停止する").click()
    expect(page.locator("#discount-codes")).to_contain_text("停止中")
    assert DiscountCode.objects.get(code="AKI10").active is False
