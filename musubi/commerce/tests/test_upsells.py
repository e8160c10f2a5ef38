"""One-click upsell: shown right after a purchase as its own generated confirmation screen, accepted once into
a second order paid the same way (after a card payment on Stripe's hosted page, the card saved there charged
off-session against the Stripe stand-in, including a card whose bank wants authentication; a bank transfer as
a new order awaiting payment), or declined; the link is the buyer's own, signed, fresh and answers once."""

import datetime as dt
import re

import pytest

from musubi.catalog import services as catalog
from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import Order, PaymentDeadline, Upsell
from musubi.commerce.tests.conftest import BUYER
from musubi.commerce.tests.hosted import at_the_bank, deliver, local, order_on_stripe, pay_on_stripe
from musubi.commerce.tests.test_checkout import confirmation, place, rows_of
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.testing.stripe_standin import NEEDS_3DS, PAYS
from musubi.workspaces.services import SYSTEM

START = dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def upsold(shop, workspace):
    """The trial set offers the six-month course right after it is bought."""
    catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=shop["trial"].pk,
                         upsell_offer_id=shop["six"].pk)
    return shop


def buy_trial(client, shop, **changes):
    page, token = confirmation(client, shop["trial"], **changes)
    return place(client, shop["trial"], page, token)


def buy_trial_by_card(client, stripe_api, shop, card=PAYS, *, events_first=False):
    """Order the trial set, pay on Stripe's page and come back (Stripe's events arriving before the buyer, or
    after); returns where the shop sends the buyer on their return."""
    _order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    back = pay_on_stripe(page_url, card=card)
    assert back, "Stripe's page did not take the payment"
    if events_first:
        deliver(client, stripe_api)
    response = client.get(local(back))
    deliver(client, stripe_api)
    assert response.status_code == 302
    return response


def signed_screen(page):
    return re.search(r'name="screen" value="([^"]+)"', page).group(1)


def test_after_a_card_purchase_the_upsell_is_a_confirmation_screen_and_one_click_charges_the_saved_card(
        client, upsold, stripe_api):
    with clock.frozen(START):
        first, page_url = order_on_stripe(client, stripe_api, upsold["trial"])
        session = stripe_api.sessions[first.stripe_checkout_session]
        assert session["_intent_data"]["setup_future_usage"] == "off_session"  # the card is kept for the upsell
        assert not Upsell.objects.exists()  # nothing is offered before the payment
        back = pay_on_stripe(page_url, card=PAYS)
        response = client.get(local(back))  # back before Stripe's events: the shop asks Stripe
        assert response.status_code == 302 and response["Location"].startswith("/thanks/")
        upsell_path = response["Location"]
        page = client.get(upsell_path).content.decode()
        deliver(client, stripe_api)  # Stripe's events arrive afterwards and offer nothing twice
    upsell = Upsell.objects.get()
    assert (upsell.stripe_customer, upsell.stripe_payment_method) == (session["customer"], PAYS)
    rows = rows_of(page)
    assert rows["商品"] == "青汁 6回コース" and rows["お支払い方法"] == "クレジットカード"
    assert rows["お届け回数"] == "6回" and rows["すべてのお届けの合計"] == "29,880円"
    # No payment page follows a one-click upsell: the screen says the card just used is charged.
    assert "先ほどのお支払いに使われたカード" in rows["お支払い時期"] and "Stripe" not in rows["お支払い時期"]
    assert "返品・キャンセル" in rows and "解約方法" in rows
    assert ">注文を確定する</button>" in page and 'id="decline-upsell"' in page
    first.refresh_from_db()
    assert first.status == OrderStatus.PAID
    with clock.frozen(START + dt.timedelta(minutes=2)):
        accepted = client.post(upsell_path, {"action": "accept", "screen": signed_screen(page)})
    assert accepted.status_code == 302 and accepted["Location"].startswith("/orders/")
    second = Order.objects.exclude(pk=first.pk).get()
    assert second.status == OrderStatus.PAID and second.total == 4980
    assert second.confirmation["total"] == 4980 and second.contact_id == first.contact_id
    charge = stripe_api.charges()[-1]
    assert charge["amount"] == 4980 and charge["customer"] == session["customer"] == stripe_api.charges()[0]["customer"]
    assert charge["payment_method"] == PAYS
    assert second.subscription is not None  # the course runs as a subscription with the same card
    upsell.refresh_from_db()
    assert (upsell.answer, upsell.upsell_order_id) == (Upsell.ACCEPTED, second.pk)
    # Once: the link now leads to the first order, and a second press orders nothing.
    with clock.frozen(START + dt.timedelta(minutes=3)):
        assert client.get(upsell_path)["Location"].startswith("/orders/")
        client.post(upsell_path, {"action": "accept", "screen": signed_screen(page)})
    assert Order.objects.count() == 2 and len(stripe_api.charges()) == 2


def test_the_confirmation_the_order_keeps_is_the_upsell_screen_the_buyer_saw(client, upsold, stripe_api):
    with clock.frozen(START):
        path = buy_trial_by_card(client, stripe_api, upsold)["Location"]
        page = client.get(path).content.decode()
        client.post(path, {"action": "accept", "screen": signed_screen(page)})
    second = Order.objects.get(offer=upsold["six"])
    shown = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', page.split('id="confirmation"')[1], re.S)
    assert [heading for heading, _text in shown] == [row[0] for row in second.confirmation["rows"]]


def test_no_thanks_orders_nothing_and_the_offer_is_not_shown_again(client, upsold, stripe_api):
    with clock.frozen(START):
        path = buy_trial_by_card(client, stripe_api, upsold)["Location"]
        page = client.get(path).content.decode()
        declined = client.post(path, {"action": "decline"})
        assert declined["Location"].startswith("/orders/")
        assert "upsell-link" not in client.get(declined["Location"]).content.decode()
        client.post(path, {"action": "accept", "screen": signed_screen(page)})
    assert Order.objects.count() == 1 and Upsell.objects.get().answer == Upsell.DECLINED
    assert len(stripe_api.charges()) == 1


def test_after_a_bank_transfer_the_upsell_is_a_new_order_awaiting_payment(client, upsold, smtp):
    with clock.frozen(START):
        path = buy_trial(client, upsold)["Location"]
        page = client.get(path).content.decode()
        assert "までにお振り込みください" in rows_of(page)["お支払い時期"]
        client.post(path, {"action": "accept", "screen": signed_screen(page)})
    second = Order.objects.get(offer=upsold["six"])
    assert second.status == OrderStatus.AWAITING_PAYMENT and second.payment_method == "bank_transfer"
    assert second.pay_by is not None
    assert PaymentDeadline.objects.filter(order=second, kind=PaymentDeadline.EXPIRE).exists()
    assert second.shipping["address"] == BUYER["address"]


def test_a_card_whose_bank_wants_authentication_gets_a_link_to_complete_the_upsell(client, upsold, stripe_api):
    with clock.frozen(START):
        # 3-D Secure for the first order on Stripe's page; Stripe's events reach the shop before the buyer.
        response = buy_trial_by_card(client, stripe_api, upsold, card=NEEDS_3DS, events_first=True)
        assert response["Location"].startswith("/thanks/")
        path = response["Location"]
        page = client.get(path).content.decode()
        accepted = client.post(path, {"action": "accept", "screen": signed_screen(page)})
    assert Upsell.objects.get().stripe_payment_method == NEEDS_3DS
    second = Order.objects.get(offer=upsold["six"])
    assert second.status == OrderStatus.AWAITING_PAYMENT  # waiting for the buyer, not void
    assert accepted["Location"].endswith("/pay")
    assert PaymentDeadline.objects.filter(order=second, kind=PaymentDeadline.EXPIRE).exists()
    order_page = client.get(accepted["Location"].removesuffix("/pay")).content.decode()
    assert 'id="pay-link"' in order_page
    sessions = len(stripe_api.sessions)
    with clock.frozen(START + dt.timedelta(minutes=5)):
        to_bank = client.post(accepted["Location"])  # the saved card, on-session: no second hosted page
    assert to_bank.status_code == 302 and to_bank["Location"].startswith(f"{stripe_api.url}/3ds/")
    assert len(stripe_api.sessions) == sessions
    back = client.get(local(at_the_bank(to_bank["Location"])))
    assert back.status_code == 200 and "支払い済み" in back.content.decode()  # the order's page: no further upsell
    assert "upsell-link" not in back.content.decode() and Upsell.objects.count() == 1
    second.refresh_from_db()
    assert second.status == OrderStatus.PAID
    assert [c["amount"] for c in stripe_api.charges()] == [980, 4980]
    assert stripe_api.charges()[1]["payment_method"] == NEEDS_3DS


def test_a_forged_foreign_or_stale_link_finds_nothing(client, upsold, stripe_api):
    with clock.frozen(START):
        path = buy_trial_by_card(client, stripe_api, upsold)["Location"]
    assert client.get(path[:-4] + "abcd").status_code == 404
    assert client.post(path[:-4] + "abcd", {"action": "accept"}).status_code == 404
    from django.core import signing

    forged = "/thanks/" + signing.dumps({"u": Upsell.objects.get().pk, "w": 1}, salt="not-ours")
    assert client.get(forged).status_code == 404
    with clock.frozen(START + dt.timedelta(hours=2)):
        assert client.get(path).status_code == 404
    assert Order.objects.count() == 1


def test_a_screen_that_no_longer_matches_is_shown_again_and_orders_nothing(client, upsold, stripe_api, workspace):
    with clock.frozen(START):
        path = buy_trial_by_card(client, stripe_api, upsold)["Location"]
        page = client.get(path).content.decode()
        catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=upsold["six"].pk, price=5480)
        response = client.post(path, {"action": "accept", "screen": signed_screen(page)})
        assert response.status_code == 409 and "5,480円" in response.content.decode()
        tampered = client.post(path, {"action": "accept", "screen": signed_screen(page)[:-3] + "xyz"})
        assert tampered.status_code == 409
    assert Order.objects.count() == 1 and Upsell.objects.get().answer == ""


def test_no_upsell_when_the_offer_is_not_for_sale_or_not_sold_the_buyers_way(client, upsold, workspace, stripe_api):
    catalog.unpublish_offer(workspace=workspace, actor=SYSTEM, offer_id=upsold["six"].pk)
    response = buy_trial_by_card(client, stripe_api, upsold)
    assert response["Location"].startswith("/orders/") and not Upsell.objects.exists()
    assert Order.objects.get().status == OrderStatus.PAID
    # Cash on delivery cannot pay a digital guide: no upsell after a cash-on-delivery order.
    catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=upsold["trial"].pk,
                         upsell_offer_id=upsold["guide"].pk)
    response = buy_trial(client, upsold, payment_method="cod", email="taro@example.jp")
    assert response["Location"].startswith("/orders/") and not Upsell.objects.exists()


def test_an_upsell_must_be_another_offer_of_the_same_workspace(shop, workspace, other_workspace):
    with pytest.raises(InvalidInput) as itself:
        catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=shop["trial"].pk,
                             upsell_offer_id=shop["trial"].pk)
    assert "upsell_offer_id" in itself.value.fields
    product = catalog.create_product(workspace=other_workspace, actor=SYSTEM, name="x")
    theirs = catalog.create_offer(workspace=other_workspace, actor=SYSTEM, product_id=product.pk, name="x",
                                  role="back", price=1000)
    with pytest.raises(InvalidInput) as foreign:
        catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=shop["trial"].pk,
                             upsell_offer_id=theirs.pk)
    assert "upsell_offer_id" in foreign.value.fields
    shop["trial"].refresh_from_db()
    assert shop["trial"].upsell_offer_id is None
