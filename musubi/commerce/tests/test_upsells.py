"""One-click upsell: shown right after a purchase as its own generated confirmation screen, accepted once into
a second order paid the same way (the saved card off-session against the Stripe stand-in, including a card
whose bank wants authentication; a bank transfer as a new order awaiting payment), or declined; the link is
the buyer's own, signed, fresh and answers once."""

import datetime as dt
import re
import urllib.error
import urllib.request

import pytest

from musubi.catalog import services as catalog
from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import Order, PaymentDeadline, Upsell
from musubi.commerce.tests.conftest import BUYER
from musubi.commerce.tests.test_card_payments import NoRedirect
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


def signed_screen(page):
    return re.search(r'name="screen" value="([^"]+)"', page).group(1)


def bank_redirect(url):
    """The bank's 3-D Secure page: the buyer authenticates and is sent back; returns our path."""
    request = urllib.request.Request(url, data=b"result=ok", method="POST")
    with pytest.raises(urllib.error.HTTPError) as back:
        urllib.request.build_opener(NoRedirect).open(request)
    return back.value.headers["Location"].removeprefix("http://127.0.0.1:8000")


def test_after_a_card_purchase_the_upsell_is_a_confirmation_screen_and_one_click_charges_the_saved_card(
        client, upsold, stripe_api):
    with clock.frozen(START):
        response = buy_trial(client, upsold, payment_method="card", card_token=PAYS)
        assert response.status_code == 302 and response["Location"].startswith("/thanks/")
        upsell_path = response["Location"]
        page = client.get(upsell_path).content.decode()
    rows = rows_of(page)
    assert rows["商品"] == "青汁 6回コース" and rows["お支払い方法"] == "クレジットカード"
    assert rows["お届け回数"] == "6回" and rows["すべてのお届けの合計"] == "29,880円"
    assert "返品・キャンセル" in rows and "解約方法" in rows
    assert ">注文を確定する</button>" in page and 'id="decline-upsell"' in page
    first = Order.objects.get()
    with clock.frozen(START + dt.timedelta(minutes=2)):
        accepted = client.post(upsell_path, {"action": "accept", "screen": signed_screen(page)})
    assert accepted.status_code == 302 and accepted["Location"].startswith("/orders/")
    second = Order.objects.exclude(pk=first.pk).get()
    assert second.status == OrderStatus.PAID and second.total == 4980
    assert second.confirmation["total"] == 4980 and second.contact_id == first.contact_id
    charge = stripe_api.charges()[-1]
    assert charge["amount"] == 4980 and charge["customer"] == stripe_api.charges()[0]["customer"]
    assert charge["payment_method"] == PAYS
    assert second.subscription is not None  # the course runs as a subscription with the same card
    upsell = Upsell.objects.get()
    assert (upsell.answer, upsell.upsell_order_id) == (Upsell.ACCEPTED, second.pk)
    # Once: the link now leads to the first order, and a second press orders nothing.
    with clock.frozen(START + dt.timedelta(minutes=3)):
        assert client.get(upsell_path)["Location"].startswith("/orders/")
        client.post(upsell_path, {"action": "accept", "screen": signed_screen(page)})
    assert Order.objects.count() == 2 and len(stripe_api.charges()) == 2


def test_the_confirmation_the_order_keeps_is_the_upsell_screen_the_buyer_saw(client, upsold, stripe_api):
    with clock.frozen(START):
        path = buy_trial(client, upsold, payment_method="card", card_token=PAYS)["Location"]
        page = client.get(path).content.decode()
        client.post(path, {"action": "accept", "screen": signed_screen(page)})
    second = Order.objects.get(offer=upsold["six"])
    shown = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', page.split('id="confirmation"')[1], re.S)
    assert [heading for heading, _text in shown] == [row[0] for row in second.confirmation["rows"]]


def test_no_thanks_orders_nothing_and_the_offer_is_not_shown_again(client, upsold, stripe_api):
    with clock.frozen(START):
        path = buy_trial(client, upsold, payment_method="card", card_token=PAYS)["Location"]
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
        response = buy_trial(client, upsold, payment_method="card", card_token=NEEDS_3DS)
        back = client.get(bank_redirect(response["Location"]))  # 3-D Secure for the first order
        assert back.status_code == 302 and back["Location"].startswith("/thanks/")
        path = back["Location"]
        page = client.get(path).content.decode()
        accepted = client.post(path, {"action": "accept", "screen": signed_screen(page)})
    second = Order.objects.get(offer=upsold["six"])
    assert second.status == OrderStatus.AWAITING_PAYMENT  # waiting for the buyer, not void
    assert accepted["Location"].endswith("/pay")
    assert PaymentDeadline.objects.filter(order=second, kind=PaymentDeadline.EXPIRE).exists()
    order_page = client.get(accepted["Location"].removesuffix("/pay")).content.decode()
    assert 'id="pay-link"' in order_page
    with clock.frozen(START + dt.timedelta(minutes=5)):
        to_bank = client.post(accepted["Location"])
    assert to_bank.status_code == 302 and to_bank["Location"].startswith(f"{stripe_api.url}/3ds/")
    client.get(bank_redirect(to_bank["Location"]))
    second.refresh_from_db()
    assert second.status == OrderStatus.PAID
    assert [c["amount"] for c in stripe_api.charges()] == [980, 4980]


def test_a_forged_foreign_or_stale_link_finds_nothing(client, upsold, stripe_api):
    with clock.frozen(START):
        path = buy_trial(client, upsold, payment_method="card", card_token=PAYS)["Location"]
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
        path = buy_trial(client, upsold, payment_method="card", card_token=PAYS)["Location"]
        page = client.get(path).content.decode()
        catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=upsold["six"].pk, price=5480)
        response = client.post(path, {"action": "accept", "screen": signed_screen(page)})
        assert response.status_code == 409 and "5,480円" in response.content.decode()
        tampered = client.post(path, {"action": "accept", "screen": signed_screen(page)[:-3] + "xyz"})
        assert tampered.status_code == 409
    assert Order.objects.count() == 1 and Upsell.objects.get().answer == ""


def test_no_upsell_when_the_offer_is_not_for_sale_or_not_sold_the_buyers_way(client, upsold, workspace, stripe_api):
    catalog.unpublish_offer(workspace=workspace, actor=SYSTEM, offer_id=upsold["six"].pk)
    response = buy_trial(client, upsold, payment_method="card", card_token=PAYS)
    assert response["Location"].startswith("/orders/") and not Upsell.objects.exists()
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
