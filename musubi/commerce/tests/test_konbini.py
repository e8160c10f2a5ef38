"""コンビニ決済 through Stripe Checkout, against the stand-in: offered for one-time orders within Stripe's limits
(120–300,000 yen), the deadline on the confirmation screen, the slip's numbers and deadline on the order's
page, paid at the store (Stripe's event), or lapsed (the order expires, once)."""

import datetime as dt

import pytest

from musubi.catalog import services as catalog
from musubi.commerce import payment_setup
from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import CustomerMail, Order, PaymentDeadline, PaymentSettings, PaymentWebhook
from musubi.commerce.tests.hosted import at_store, deliver, local, order_on_stripe, pay_on_stripe
from musubi.commerce.tests.test_checkout import confirmation, rows_of
from musubi.kernel import clock
from musubi.kernel.models import Fact
from musubi.kernel.worker import drain_queues
from musubi.workspaces.services import SYSTEM

KONBINI = {"payment_method": "konbini"}


@pytest.fixture
def konbini_shop(shop, workspace):
    payment_setup.save_payment_settings(workspace=workspace, actor=SYSTEM, konbini_enabled=True, konbini_days=4)
    return shop


def slip_order(client, stripe_api, offer):
    order, page_url = order_on_stripe(client, stripe_api, offer, **KONBINI)
    back = pay_on_stripe(page_url, konbini=True)
    assert back
    return order, back


def test_the_checkout_offers_konbini_for_one_time_offers_only(client, konbini_shop):
    assert 'value="konbini"' in client.get(f"/buy/{konbini_shop['trial'].pk}").content.decode()
    assert 'value="konbini"' not in client.get(f"/buy/{konbini_shop['monthly'].pk}").content.decode()
    response = client.post(f"/buy/{konbini_shop['monthly'].pk}", {
        **_buyer(), **KONBINI})
    assert response.status_code == 400
    assert 'id="payment_method-error"' in response.content.decode()
    assert not Order.objects.exists()


def _buyer():
    from musubi.commerce.tests.conftest import BUYER

    return BUYER


# A download sells one at a time, so the order of two is of goods.
@pytest.mark.parametrize(("price", "quantity", "like"), [(100, "1", "guide"), (160_000, "2", "trial")])
def test_a_total_outside_stripes_konbini_limits_is_refused_naming_the_field(client, konbini_shop, workspace, price,
                                                                            quantity, like):
    offer = catalog.create_offer(workspace=workspace, actor=SYSTEM, product_id=konbini_shop[like].product_id,
                                 name="講座", role="back", price=price)
    catalog.publish_offer(workspace=workspace, actor=SYSTEM, offer_id=offer.pk)
    response = client.post(f"/buy/{offer.pk}", {**_buyer(), **KONBINI, "quantity": quantity})
    page = response.content.decode()
    assert response.status_code == 400
    assert "コンビニ決済でお支払いいただける金額は120円から300,000円まで" in page
    assert 'id="payment_method-error"' in page
    assert not Order.objects.exists()


def test_the_konbini_days_setting_is_checked(workspace, shop):
    from musubi.kernel.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        payment_setup.save_payment_settings(workspace=workspace, actor=SYSTEM, konbini_enabled=True, konbini_days=61)
    assert "konbini_days" in refused.value.fields
    assert PaymentSettings.objects.get(workspace=workspace).konbini_enabled is False


def test_the_confirmation_screen_states_the_konbini_deadline(client, konbini_shop):
    with clock.frozen(dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)):
        page, _token = confirmation(client, konbini_shop["guide"], **KONBINI)
    rows = rows_of(page)
    assert rows["お支払い方法"] == "コンビニ決済"
    assert rows["お支払い時期"].startswith("2026年3月6日までにコンビニでお支払いください。")


def test_a_konbini_slip_waits_then_is_paid_at_the_store(client, konbini_shop, stripe_api):
    order, back = slip_order(client, stripe_api, konbini_shop["guide"])
    session = stripe_api.sessions[order.stripe_checkout_session]
    assert session["payment_method_types"] == ["konbini"]
    assert session["payment_method_options"] == {"konbini": {"expires_after_days": "4"}}
    assert session["amount_total"] == 2980
    response = client.get(local(back), follow=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    slip = order.payment_instructions
    assert [s["name"] for s in slip["stores"]] == ["ファミリーマート", "ローソン", "ミニストップ", "セイコーマート"]
    page = response.content.decode()
    assert 'id="konbini-slip"' in page and slip["stores"][0]["confirmation_number"] in page
    assert "までに、コンビニで 2,980円をお支払いください" in page
    assert order.pay_by == dt.datetime.fromisoformat(slip["expires_at"])
    mail = CustomerMail.objects.get(order=order, kind="order_placed")
    assert "コンビニでお支払いください" in mail.body
    deliver(client, stripe_api)  # checkout.session.completed, unpaid: nothing more
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.timeline.filter(kind="slip_issued").count() == 1
    assert CustomerMail.objects.filter(order=order, kind="order_placed").count() == 1

    at_store(slip["voucher_url"], paid=True)
    assert [kind for kind, status in deliver(client, stripe_api) if status == 200] == [
        "payment_intent.succeeded", "checkout.session.async_payment_succeeded"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.timeline.filter(kind="paid").get().note == "コンビニで支払われました"
    assert Fact.objects.filter(kind="order.paid", subject_id=str(order.pk)).count() == 1


def test_a_lapsed_konbini_slip_expires_the_order_once(client, konbini_shop, stripe_api):
    order, back = slip_order(client, stripe_api, konbini_shop["guide"])
    client.get(local(back))
    deliver(client, stripe_api)
    at_store(Order.objects.get().payment_instructions["voucher_url"], paid=False)
    failed = [w for w in stripe_api.pending_webhooks() if w.type == "checkout.session.async_payment_failed"]
    deliver(client, stripe_api)
    client.post(failed[0].url, failed[0].body, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=failed[0].signature)  # delivered again
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert order.timeline.filter(kind="expired").count() == 1
    assert Fact.objects.filter(kind="order.expired").count() == 1
    assert PaymentWebhook.objects.filter(kind="checkout.session.async_payment_failed").count() == 1
    assert 'id="konbini-expired"' in client.get(local(back), follow=True).content.decode()
    # The backstop deadline later finds it settled.
    assert PaymentDeadline.objects.filter(order=order, kind=PaymentDeadline.EXPIRE).exists()
    with clock.travel(dt.timedelta(days=10)):
        drain_queues(worker="w", only={"commerce.deadlines"})
    assert Fact.objects.filter(kind="order.expired").count() == 1


def test_a_slip_whose_event_never_comes_expires_after_its_deadline(client, konbini_shop, stripe_api):
    order, back = slip_order(client, stripe_api, konbini_shop["guide"])
    client.get(local(back))
    order.refresh_from_db()
    with clock.travel(dt.timedelta(days=2)):  # the checkout's own one-day window no longer applies
        drain_queues(worker="w", only={"commerce.deadlines"})
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    with clock.travel(dt.timedelta(days=7)):
        drain_queues(worker="w", only={"commerce.deadlines"})
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED


def test_the_owner_enables_konbini_on_the_payment_settings_page(owner_client, workspace, shop):
    page = owner_client.get("/w/kenko/settings/payments/").content.decode()
    assert "コンビニ決済を受け付ける" in page and "コンビニ決済の支払期限（日数）" in page
    form = {"bank_transfer_enabled": "on", "bank_account": "口座", "bank_transfer_days": "5", "cod_fee": "330",
            "shipping_fee": "0", "card_enabled": "on", "konbini_enabled": "on"}
    assert owner_client.post("/w/kenko/settings/payments/", {**form, "konbini_days": "61"}).status_code == 200
    assert PaymentSettings.objects.get(workspace=workspace).konbini_enabled is False  # refused, nothing saved
    owner_client.post("/w/kenko/settings/payments/", {**form, "konbini_days": "5"})
    saved = PaymentSettings.objects.get(workspace=workspace)
    assert (saved.konbini_enabled, saved.konbini_days) == (True, 5)


def test_konbini_for_an_offer_with_an_upsell_asks_stripe_to_keep_no_card(client, konbini_shop, stripe_api, workspace):
    from musubi.catalog import services as catalog

    catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=konbini_shop["guide"].pk,
                         upsell_offer_id=konbini_shop["six"].pk)
    order, _back = slip_order(client, stripe_api, konbini_shop["guide"])  # Stripe refuses a konbini kept for later
    assert stripe_api.sessions[order.stripe_checkout_session]["payment_method_types"] == ["konbini"]
