"""Card payments through the official Stripe SDK against the stand-in: paid at once, through 3-D Secure,
declined; and Stripe's webhooks, verified by signature before parsing and applied once."""

import json
import time

import pytest
import stripe

from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import Order, PaymentWebhook, Refund, Subscription
from musubi.commerce.tests.conftest import BUYER
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel.models import Fact
from musubi.testing.stripe_standin import DECLINED, NEEDS_3DS, PAYS

CARD = {**BUYER, "payment_method": "card"}


def buy(client, offer, card):
    page, token = confirmation(client, offer, **{**CARD, "card_token": card})
    return place(client, offer, page, token)


def test_a_card_that_pays_marks_the_order_paid_once(client, shop, stripe_api):
    response = buy(client, shop["trial"], PAYS)
    order = Order.objects.get()
    assert order.status == OrderStatus.PAID
    assert [i["amount"] for i in stripe_api.charges()] == [980]
    assert stripe_api.requests[-1][2] == f"musubi-order-{order.pk}"  # the idempotency key
    assert Fact.objects.filter(kind="order.paid", subject_id=str(order.pk)).count() == 1
    assert order.contact.stage == "front_customer"
    assert "支払い済み" in client.get(response["Location"]).content.decode()


def test_3d_secure_sends_the_buyer_to_their_bank_and_back(client, shop, stripe_api):
    response = buy(client, shop["trial"], NEEDS_3DS)
    assert response.status_code == 302 and response["Location"].startswith(f"{stripe_api.url}/3ds/")
    order = Order.objects.get()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert not Fact.objects.filter(kind="order.paid").exists()
    # The bank's page: the buyer authenticates and is sent back to the order's page.
    import urllib.request

    request = urllib.request.Request(response["Location"], data=b"result=ok", method="POST")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as back:
        opener.open(request)
    location = back.value.headers["Location"]
    path = location.removeprefix("http://127.0.0.1:8000")
    page = client.get(path).content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert "支払い済み" in page


class NoRedirect(__import__("urllib.request").request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_declined_card_voids_the_order_and_asks_to_try_again(client, shop, stripe_api):
    response = buy(client, shop["trial"], DECLINED)
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert 'id="card-failed"' in client.get(response["Location"]).content.decode()
    assert not Fact.objects.filter(kind="order.paid").exists()
    assert order.timeline.filter(kind="payment_failed").exists()
    assert stripe_api.charges() == []


def test_a_subscription_paid_by_card_saves_the_card_for_renewals(client, shop, stripe_api):
    buy(client, shop["discounted"], PAYS)
    subscription = Subscription.objects.get()
    assert subscription.stripe_customer.startswith("cus_")
    assert subscription.stripe_payment_method == PAYS
    assert [i["amount"] for i in stripe_api.charges()] == [1980]
    assert stripe_api.charges()[0]["setup_future_usage"] == "off_session"


def test_a_partial_then_full_refund_goes_through_stripe(client, shop, stripe_api, workspace):
    from musubi.commerce import services
    from musubi.workspaces.services import SYSTEM

    buy(client, shop["trial"], PAYS)
    order = Order.objects.get()
    services.refund(workspace=workspace, actor=SYSTEM, order_id=order.pk, amount=300, reason="一部破損")
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.PARTLY_REFUNDED, 300)
    services.refund(workspace=workspace, actor=SYSTEM, order_id=order.pk, amount=680)
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.REFUNDED, 980)
    assert [r["amount"] for r in stripe_api.refunds.values()] == [300, 680]
    assert Fact.objects.filter(kind="order.refunded").count() == 2


# --- Webhooks ------------------------------------------------------------------------------------------------

def signed(client, workspace_slug, event, *, secret="whsec_test_shop", timestamp=None):  # noqa: S107
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return client.post(f"/stripe/webhook/{workspace_slug}", body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=header)


def intent_event(event_id, kind, intent_id, amount=980):
    return {"id": event_id, "type": kind, "object": "event",
            "data": {"object": {"id": intent_id, "object": "payment_intent", "amount": amount}}}


@pytest.fixture
def waiting_card_order(client, shop, stripe_api):
    buy(client, shop["trial"], NEEDS_3DS)
    return Order.objects.get()


def test_a_signed_payment_succeeded_event_marks_the_order_paid_once(client, waiting_card_order):
    event = intent_event("evt_1", "payment_intent.succeeded", waiting_card_order.stripe_payment_intent)
    assert signed(client, "kenko", event).status_code == 200
    assert signed(client, "kenko", event).status_code == 200  # delivered twice
    waiting_card_order.refresh_from_db()
    assert waiting_card_order.status == OrderStatus.PAID
    assert Fact.objects.filter(kind="order.paid").count() == 1
    assert PaymentWebhook.objects.count() == 1
    assert waiting_card_order.timeline.filter(kind="paid").count() == 1


def test_an_unsigned_or_wrongly_signed_event_is_refused_before_it_is_read(client, waiting_card_order):
    event = intent_event("evt_2", "payment_intent.succeeded", waiting_card_order.stripe_payment_intent)
    assert signed(client, "kenko", event, secret="whsec_someone_else").status_code == 400
    assert signed(client, "kenko", event, timestamp=int(time.time()) - 3600).status_code == 400  # replayed
    response = client.post("/stripe/webhook/kenko", "{not json", content_type="application/json",
                           HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert response.status_code == 400
    waiting_card_order.refresh_from_db()
    assert waiting_card_order.status == OrderStatus.AWAITING_PAYMENT
    assert not PaymentWebhook.objects.exists()


def test_a_refund_arriving_before_the_payment_event_has_one_effect(client, shop, stripe_api, workspace):
    buy(client, shop["trial"], PAYS)
    order = Order.objects.get()
    refunded = {"id": "evt_r", "type": "charge.refunded", "data": {"object": {
        "id": "ch_1", "object": "charge", "payment_intent": order.stripe_payment_intent, "amount": 980,
        "amount_refunded": 980}}}
    assert signed(client, "kenko", refunded).status_code == 200
    assert signed(client, "kenko", intent_event("evt_s", "payment_intent.succeeded",
                                                order.stripe_payment_intent)).status_code == 200
    assert signed(client, "kenko", refunded).status_code == 200
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.REFUNDED, 980)
    assert Refund.objects.count() == 1
    assert Fact.objects.filter(kind="order.paid").count() == 1


def test_a_dispute_is_written_on_the_order(client, shop, stripe_api):
    buy(client, shop["trial"], PAYS)
    order = Order.objects.get()
    dispute = {"id": "evt_d", "type": "charge.dispute.created", "data": {"object": {
        "id": "dp_1", "object": "dispute", "payment_intent": order.stripe_payment_intent, "amount": 980}}}
    signed(client, "kenko", dispute)
    signed(client, "kenko", dispute)
    assert order.timeline.filter(kind="disputed").count() == 1
    assert Fact.objects.filter(kind="order.disputed").count() == 1


def test_another_workspaces_webhook_cannot_touch_this_order(client, waiting_card_order, other_workspace):
    from musubi.commerce import services
    from musubi.workspaces.services import SYSTEM

    services.save_payment_settings(workspace=other_workspace, actor=SYSTEM, stripe_webhook_secret="whsec_theirs")
    event = intent_event("evt_x", "payment_intent.succeeded", waiting_card_order.stripe_payment_intent)
    assert signed(client, "izakaya", event, secret="whsec_theirs").status_code == 200
    waiting_card_order.refresh_from_db()
    assert waiting_card_order.status == OrderStatus.AWAITING_PAYMENT


def test_a_buyer_who_never_returns_from_3d_secure_leaves_an_order_that_expires(client, shop, stripe_api):
    import datetime as dt

    from musubi.kernel import clock
    from musubi.kernel.worker import drain_queues

    buy(client, shop["trial"], NEEDS_3DS)
    with clock.travel(dt.timedelta(days=1, minutes=1)):
        drain_queues(worker="w", only={"commerce.deadlines"})
    assert Order.objects.get().status == OrderStatus.EXPIRED


def test_stripe_unreachable_is_not_a_paid_order_and_a_late_success_event_revives_it(client, shop, stripe_api,
                                                                                    settings):
    settings.MUSUBI_STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    buy(client, shop["trial"], PAYS)
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    # The charge had gone through before the connection broke: Stripe's event names the order in its metadata.
    event = intent_event("evt_late", "payment_intent.succeeded", "pi_late")
    event["data"]["object"]["metadata"] = {"order": order.number}
    signed(client, "kenko", event)
    order.refresh_from_db()
    assert (order.status, order.stripe_payment_intent) == (OrderStatus.PAID, "pi_late")
