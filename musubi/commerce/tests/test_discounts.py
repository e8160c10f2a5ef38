"""Discount codes at the checkout: the discount as its own line of the generated confirmation screen and of the
order, tax per rate, every refusal named and writing nothing, uses counted under a lock (two buyers racing for
the last use on PostgreSQL), a cancelled or expired order giving its use back, and subscriptions."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from musubi.commerce import checkout, discounts, order_lifecycle, queries
from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import DiscountCode, DiscountUse, Order, OrderLine, PaymentDeadline
from musubi.commerce.tests.conftest import BUYER
from musubi.commerce.tests.hosted import SHOP_ENDPOINT, deliver, local, pay_on_stripe
from musubi.commerce.tests.test_checkout import confirmation, place, rows_of
from musubi.commerce.tests.test_subscriptions import START, renew_at
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.kernel.worker import drain_queues
from musubi.testing.stripe_standin import DECLINED, PAYS
from musubi.workspaces.services import SYSTEM

TOKYO = dt.timezone(dt.timedelta(hours=9))


def make_code(workspace, code="SPRING500", kind="amount", value=500, **options):
    return discounts.create_code(workspace=workspace, actor=SYSTEM, data=discounts.CodeInput(
        code=code, kind=kind, value=value, **options))


def order_by_card(client, stripe_api, offer, **entries):
    """Confirm a card order (with its code) and go to Stripe's page: the screen's rows, the order, the page."""
    stripe_api.endpoints["sk_test_shop"] = SHOP_ENDPOINT
    page, token = confirmation(client, offer, payment_method="card", **entries)
    response = place(client, offer, page, token)
    assert response.status_code == 302 and response["Location"].startswith(f"{stripe_api.url}/pay/")
    return rows_of(page), Order.objects.order_by("-pk").first(), response["Location"]


def pay_and_come_back(client, stripe_api, page_url, card=PAYS):
    back = pay_on_stripe(page_url, card=card)
    assert back, "Stripe's page did not take the payment"
    client.get(local(back))
    deliver(client, stripe_api)


def refused_with(client, offer, code, **changes):
    response = client.post(f"/buy/{offer.pk}", {**BUYER, "discount_code": code, **changes})
    assert response.status_code == 400
    page = response.content.decode()
    return page.split('id="discount_code-error">')[1].split("</p>")[0]


def test_a_code_typed_in_lower_case_is_its_own_line_on_the_confirmation_screen_and_on_the_order(client, shop,
                                                                                                 workspace):
    make_code(workspace)
    page, token = confirmation(client, shop["trial"], quantity="2", discount_code=" spring500 ")
    rows = rows_of(page)
    assert rows["割引（コード SPRING500）"] == "−500円"
    assert rows["お支払い合計（税込）"] == "1,460円"  # 980 × 2 − 500
    response = place(client, shop["trial"], page, token)
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.total == 1460
    assert ["割引（コード SPRING500）", "−500円"] in order.confirmation["rows"]
    assert order.confirmation["discount_code"] == "SPRING500"
    lines = list(OrderLine.objects.filter(order=order).order_by("pk").values_list("description", "amount",
                                                                                  "tax_rate"))
    assert lines == [("初回限定 お試しセット", 1960, Decimal("0.0800")),
                     ("割引（コード SPRING500）", -500, Decimal("0.0800"))]
    code = DiscountCode.objects.get()
    assert code.uses == 1
    assert DiscountUse.objects.get().amount == 500 and DiscountUse.objects.get().email == "hanako@example.jp"


def test_the_discount_reduces_the_taxable_amount_of_its_own_rate_only(client, shop, workspace):
    from musubi.commerce.models import PaymentSettings

    PaymentSettings.objects.filter(workspace=workspace).update(shipping_fee=660)
    make_code(workspace, code="TENOFF", kind="percent", value=10)
    page, token = confirmation(client, shop["trial"], quantity="3", discount_code="TENOFF")
    place(client, shop["trial"], page, token)
    order = Order.objects.get()
    # Goods 2,940 at 8% less 294 (10%, rounded down) = 2,646 at 8%; shipping 660 stays at 10%.
    taxes = {str(t.rate): (t.gross.amount, t.tax.amount) for t in queries.taxes_of(order)}
    assert taxes == {"0.1000": (660, 60), "0.0800": (2646, 196)}
    assert order.total == 2646 + 660


def test_a_percentage_is_rounded_down_in_the_buyers_favour(client, shop, workspace):
    make_code(workspace, code="ODD15", kind="percent", value=15)
    page, _token = confirmation(client, shop["trial"], discount_code="ODD15")
    assert rows_of(page)["割引（コード ODD15）"] == "−147円"  # 980 × 15% = 147.0
    make_code(workspace, code="ODD7", kind="percent", value=7)
    page, _token = confirmation(client, shop["trial"], discount_code="ODD7")
    assert rows_of(page)["割引（コード ODD7）"] == "−68円"  # 68.6


@pytest.mark.parametrize(("setup", "expected"), [
    ({}, "クーポンコード NOSUCH は見つかりません"),
    ({"code": "NOSUCH", "valid_from": dt.datetime(2026, 4, 1, tzinfo=TOKYO)}, "まだご利用期間前です"),
    ({"code": "NOSUCH", "valid_until": dt.datetime(2026, 1, 1, tzinfo=TOKYO)}, "有効期限が切れています"),
    ({"code": "NOSUCH", "offers": "guide"}, "この商品にはご利用いただけません"),
])
def test_an_unusable_code_is_refused_naming_why_and_nothing_changes(client, shop, workspace, setup, expected):
    if setup:
        options = {k: v for k, v in setup.items() if k not in ("code", "offers")}
        if "offers" in setup:
            options["offer_ids"] = (shop[setup["offers"]].pk,)
        make_code(workspace, code=setup["code"], **options)
    with clock.frozen(dt.datetime(2026, 2, 1, tzinfo=dt.UTC)):
        error = refused_with(client, shop["trial"], "nosuch")
    assert expected in error
    assert not Order.objects.exists() and not DiscountUse.objects.exists()
    assert all(c.uses == 0 for c in DiscountCode.objects.all())


def test_a_used_up_or_disabled_code_and_a_second_use_by_the_same_buyer_are_refused(client, shop, workspace):
    code = make_code(workspace, code="ONCE", max_uses=2)
    page, token = confirmation(client, shop["trial"], discount_code="ONCE")
    place(client, shop["trial"], page, token)
    assert "すでにご利用済みです" in refused_with(client, shop["trial"], "once")
    # Another address is a different buyer; the case of the address does not make a new one.
    assert "すでにご利用済みです" in refused_with(client, shop["trial"], "once", email="Hanako@Example.jp")
    page, token = confirmation(client, shop["trial"], discount_code="ONCE", email="taro@example.jp")
    place(client, shop["trial"], page, token)
    assert "利用上限に達した" in refused_with(client, shop["trial"], "ONCE", email="jiro@example.jp")
    discounts.set_active(workspace=workspace, actor=SYSTEM, code_id=code.pk, active=False)
    assert "受付を終了しました" in refused_with(client, shop["trial"], "ONCE", email="saburo@example.jp")
    assert Order.objects.count() == 2 and DiscountCode.objects.get().uses == 2


def test_a_code_used_up_between_the_confirmation_screen_and_the_order_writes_nothing(client, shop, workspace):
    make_code(workspace, code="LAST", max_uses=1)
    page, token = confirmation(client, shop["trial"], discount_code="LAST")
    other, other_token = confirmation(client, shop["trial"], discount_code="LAST", email="taro@example.jp")
    assert place(client, shop["trial"], other, other_token).status_code == 302
    response = place(client, shop["trial"], page, token)
    assert response.status_code == 400
    assert "利用上限に達した" in response.content.decode()
    assert Order.objects.count() == 1 and DiscountCode.objects.get().uses == 1


def test_a_code_that_would_make_a_paid_order_free_is_refused(client, shop, workspace):
    make_code(workspace, code="ALL", kind="percent", value=100)
    assert "0円になる" in refused_with(client, shop["guide"], "ALL")
    assert not Order.objects.exists()


def test_a_cancelled_order_gives_its_use_back_and_the_buyer_may_use_the_code_again(client, shop, workspace):
    make_code(workspace, code="BACK", max_uses=1)
    page, token = confirmation(client, shop["trial"], discount_code="BACK")
    place(client, shop["trial"], page, token)
    order = Order.objects.get()
    order_lifecycle.cancel_order(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    assert DiscountCode.objects.get().uses == 0
    assert DiscountUse.objects.get().released_at is not None
    page, token = confirmation(client, shop["trial"], discount_code="BACK")
    assert place(client, shop["trial"], page, token).status_code == 302
    assert DiscountCode.objects.get().uses == 1


def test_an_expired_unpaid_transfer_gives_its_use_back_once(client, shop, workspace):
    make_code(workspace, code="EXPIRE", max_uses=5)
    with clock.frozen(START):
        page, token = confirmation(client, shop["trial"], discount_code="EXPIRE")
        place(client, shop["trial"], page, token)
    order = Order.objects.get()
    deadline = PaymentDeadline.objects.get(order=order, kind=PaymentDeadline.EXPIRE)
    with clock.frozen(deadline.due_at + dt.timedelta(minutes=1)):
        drain_queues(worker="w1", only={"commerce.deadlines"})
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert DiscountCode.objects.get().uses == 0
    assert discounts.release(order) is False  # given back once only


def test_a_declined_card_holds_the_use_while_the_buyer_may_pay_and_an_unpaid_order_gives_it_back(
        client, shop, workspace, stripe_api):
    make_code(workspace, code="CARD", max_uses=1)
    with clock.frozen(START):
        rows, order, page_url = order_by_card(client, stripe_api, shop["guide"], discount_code="CARD")
    assert rows["お支払い合計（税込）"] == "2,480円"
    assert stripe_api.sessions[order.stripe_checkout_session]["amount_total"] == 2480
    assert pay_on_stripe(page_url, card=DECLINED) == ""  # declined: the buyer stays on Stripe's page
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT and stripe_api.charges() == []
    assert DiscountCode.objects.get().uses == 1  # held for them while they may try another card
    # They give up: at the order's deadline Stripe's page is closed, the order expires, the use comes back.
    with clock.frozen(START + dt.timedelta(days=1, minutes=1)):
        drain_queues(worker="w1", only={"commerce.deadlines"})
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert stripe_api.sessions[order.stripe_checkout_session]["status"] == "expired"
    assert DiscountCode.objects.get().uses == 0
    assert [kind for kind, _status in deliver(client, stripe_api)] == ["checkout.session.expired"]
    assert DiscountCode.objects.get().uses == 0  # Stripe's event gives nothing back twice
    # The buyer may use the code again: a declined card, then another card on the same page pays.
    _rows, again, page_url = order_by_card(client, stripe_api, shop["guide"], discount_code="CARD")
    assert pay_on_stripe(page_url, card=DECLINED) == ""
    pay_and_come_back(client, stripe_api, page_url)
    again.refresh_from_db()
    assert again.status == OrderStatus.PAID and again.total == 2480
    assert [c["amount"] for c in stripe_api.charges()] == [2480]
    assert DiscountCode.objects.get().uses == 1
    assert DiscountUse.objects.get(order=again).released_at is None
    assert DiscountUse.objects.get(order=order).released_at is not None


def test_a_code_for_every_delivery_discounts_the_renewals_as_the_screen_said(client, shop, workspace, stripe_api):
    make_code(workspace, code="EVERY", kind="percent", value=10, every_delivery=True)
    with clock.frozen(START):
        rows, first, page_url = order_by_card(client, stripe_api, shop["six"], discount_code="EVERY")
        pay_and_come_back(client, stripe_api, page_url)
    first.refresh_from_db()
    assert first.status == OrderStatus.PAID and first.total == 4482
    assert rows["2回目以降の割引"] == "毎回のお届けで498円引き（コード EVERY）"
    assert rows["今回のお支払い合計（税込）"] == "4,482円"
    assert rows["すべてのお届けの合計"] == "26,892円"  # 4,482 × 6
    discounts.set_active(workspace=workspace, actor=SYSTEM, code_id=DiscountCode.objects.get().pk, active=False)
    renew_at(dt.datetime(2026, 2, 15, 3, 0, tzinfo=dt.UTC))
    second = Order.objects.get(cycle=2)
    assert second.total == 4482 and second.status == OrderStatus.PAID
    assert second.lines.filter(amount=-498).exists()
    assert [c["amount"] for c in stripe_api.charges()] == [4482, 4482]  # the card saved on Stripe's page
    assert stripe_api.charges()[1]["customer"] == first.subscription.stripe_customer


def test_a_code_for_the_first_delivery_only_says_so_and_renewals_pay_the_regular_price(client, shop, workspace,
                                                                                      stripe_api):
    make_code(workspace, code="FIRST", kind="amount", value=1000)
    with clock.frozen(START):
        rows, first, page_url = order_by_card(client, stripe_api, shop["monthly"], discount_code="FIRST")
        pay_and_come_back(client, stripe_api, page_url)
    first.refresh_from_db()
    assert first.status == OrderStatus.PAID and first.total == 3980
    assert rows["2回目以降の割引"] == "なし：コード FIRST の割引は初回のお届けのみです。"
    assert rows["今回のお支払い合計（税込）"] == "3,980円"
    renew_at(dt.datetime(2026, 2, 15, 3, 0, tzinfo=dt.UTC))
    assert Order.objects.get(cycle=2).total == 4980
    assert [c["amount"] for c in stripe_api.charges()] == [3980, 4980]


def test_a_screen_confirmed_without_a_code_cannot_be_placed_with_one(shop, workspace):
    make_code(workspace, code="SNEAK")
    entry = checkout.Entry(quantity=1, name="x", email="x@example.jp", payment_method="bank_transfer",
                           phone="090-1111-2222", postal_code="100-0001", address="東京都")
    plain = checkout.prepare(offer=shop["trial"], entry=entry, legal_url="/legal/")
    with_code = checkout.prepare(offer=shop["trial"], legal_url="/legal/", entry=checkout.Entry(
        **{**entry.__dict__, "discount_code": "SNEAK"}))
    from musubi.kernel.errors import Conflict

    with pytest.raises(Conflict):
        checkout.place_order(prepared=with_code, seen=plain.screen)
    assert not Order.objects.exists()


# --- Two buyers racing for the last use (PostgreSQL: real row locks) ----------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_buyers_racing_for_the_last_use_one_wins(shop, workspace):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent orders need PostgreSQL's row locks; SQLite has one writer")
    make_code(workspace, code="RACE", max_uses=1)
    prepared = [checkout.prepare(offer=shop["trial"], legal_url="/legal/", entry=checkout.Entry(
        quantity=1, name=f"buyer {n}", email=f"buyer{n}@example.jp", payment_method="bank_transfer",
        phone=f"090-1111-222{n}", postal_code="100-0001", address="東京都", discount_code="RACE")) for n in range(2)]
    start = threading.Barrier(2)
    results: list[str] = []

    def buy(one):
        try:
            start.wait()
            checkout.place_order(prepared=one, seen=one.screen)
            results.append("ordered")
        except InvalidInput as exc:
            results.append(exc.fields["discount_code"])
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(one,)) for one in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ordered") == 1
    assert ["利用上限に達した" in r for r in results if r != "ordered"] == [True]
    assert Order.objects.count() == 1
    assert DiscountCode.objects.get().uses == 1 and DiscountUse.objects.count() == 1


def test_a_voided_card_order_that_stripe_says_was_paid_counts_its_use_again(client, shop, workspace, stripe_api,
                                                                            settings):
    from musubi.commerce.tests.test_card_payments import intent_event, signed

    make_code(workspace, code="LATE", max_uses=1)
    settings.MUSUBI_STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there: the charge looks failed
    page, token = confirmation(client, shop["guide"], discount_code="LATE", payment_method="card")
    place(client, shop["guide"], page, token)
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED and DiscountCode.objects.get().uses == 0
    event = intent_event("evt_late", "payment_intent.succeeded", "pi_late")
    event["data"]["object"]["metadata"] = {"order": order.number}
    signed(client, "kenko", event)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert DiscountCode.objects.get().uses == 1 and DiscountUse.objects.get().released_at is None
