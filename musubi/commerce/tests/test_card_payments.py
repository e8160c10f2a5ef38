"""Cards through Stripe Checkout's hosted page, against the stand-in: the order is written at 注文を確定する and
the buyer sent to a Checkout Session for its exact amount; paid, through 3-D Secure on that page, declined,
turned back. The order is paid by Stripe's event or by asking Stripe once when the buyer returns, whichever
comes first; the events are verified by signature before parsing and applied once."""

import json
import time

import stripe

from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import CustomerMail, Order, PaymentWebhook, Refund, Subscription
from musubi.commerce.tests.hosted import buy_by_card, deliver, local, order_on_stripe, pay_on_stripe
from musubi.kernel.models import Fact
from musubi.testing.stripe_standin import DECLINED, NEEDS_3DS, PAYS


def session_reads(stripe_api):
    return [r for r in stripe_api.requests if r[0] == "GET" and r[1].startswith("/v1/checkout/sessions/")]


def test_confirming_the_order_sends_the_buyer_to_a_checkout_session_for_its_exact_amount(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"], quantity="2")
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.total == 1960
    session = stripe_api.sessions[order.stripe_checkout_session]
    assert page_url == f"{stripe_api.url}/pay/{session['id']}"
    assert (session["amount_total"], session["currency"], session["mode"]) == (1960, "jpy", "payment")
    assert session["payment_method_types"] == ["card"]
    assert session["metadata"] == {"order": order.number} and session["client_reference_id"] == order.number
    assert session["customer_email"] == "hanako@example.jp"
    assert session["_intent_data"]["metadata"] == {"order": order.number}
    assert "setup_future_usage" not in session["_intent_data"]  # a one-time order keeps no card
    # Back to the order's own page (its signed link, made at that moment).
    assert local(session["success_url"]).startswith("/orders/")
    assert session["success_url"].endswith("?checkout=returned")
    assert session["cancel_url"].endswith("?checkout=cancelled")
    assert ("POST", "/v1/checkout/sessions", f"musubi-order-{order.pk}") in stripe_api.requests
    assert not Fact.objects.filter(kind="order.paid").exists()


def _token(order):
    from musubi.commerce import notices

    return notices.order_token(order)


def test_back_from_stripe_before_the_webhook_the_order_page_asks_stripe_once(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    back = pay_on_stripe(page_url, card=PAYS)
    response = client.get(local(back))  # the webhook is slow: nothing delivered yet
    assert response.status_code == 302 and "checkout=" not in response["Location"]
    assert len(session_reads(stripe_api)) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.stripe_payment_intent.startswith("pi_")
    page = client.get(response["Location"]).content.decode()
    assert "支払い済み" in page and 'http-equiv="refresh"' not in page
    assert len(session_reads(stripe_api)) == 1  # the plain page reads only the order
    # Stripe's events arrive afterwards and change nothing.
    assert [status for _kind, status in deliver(client, stripe_api)] == [200, 200]
    assert Fact.objects.filter(kind="order.paid", subject_id=str(order.pk)).count() == 1
    assert order.timeline.filter(kind="paid").count() == 1
    assert CustomerMail.objects.filter(order=order, kind="order_placed").count() == 1
    assert [i["amount"] for i in stripe_api.charges()] == [980]


def test_the_webhook_before_the_buyer_returns_marks_it_paid_and_the_return_asks_nothing(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    back = pay_on_stripe(page_url, card=PAYS)
    assert [kind for kind, _status in deliver(client, stripe_api)] == ["payment_intent.succeeded",
                                                                     "checkout.session.completed"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    reads = len(session_reads(stripe_api))
    page = client.get(local(back), follow=True).content.decode()
    assert "支払い済み" in page
    assert len(session_reads(stripe_api)) == reads
    assert Fact.objects.filter(kind="order.paid").count() == 1
    assert order.contact.stage == "front_customer"


def test_until_stripe_confirms_the_order_page_says_confirming_and_offers_the_payment_page(client, shop, stripe_api):
    order, _page_url = order_on_stripe(client, stripe_api, shop["trial"])
    page = client.get(f"/orders/{_token(order)}").content.decode()
    assert '<p class="status waiting" id="order-status">確認中</p>' in page
    assert 'http-equiv="refresh"' in page and 'id="pay-again"' in page


def test_3d_secure_is_answered_on_stripes_page(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    assert pay_on_stripe(page_url, card=NEEDS_3DS, authenticate=False) == ""  # not authenticated: still on the page
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT and stripe_api.charges() == []
    back = pay_on_stripe(page_url, card=NEEDS_3DS, authenticate=True)
    client.get(local(back))
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert [i["amount"] for i in stripe_api.charges()] == [980]


def test_a_declined_card_keeps_the_buyer_on_stripes_page_and_turning_back_offers_it_again(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    assert pay_on_stripe(page_url, card=DECLINED) == ""
    assert stripe_api.charges() == [] and stripe_api.pending_webhooks() == []
    # The buyer gives up and goes back to the shop (Stripe's cancel_url).
    cancel = stripe_api.sessions[order.stripe_checkout_session]["cancel_url"]
    page = client.get(local(cancel)).content.decode()
    assert 'id="payment-incomplete"' in page and 'id="pay-again"' in page
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    # Trying again returns to the same, still open, session; this time the card pays.
    again = client.post(f"/orders/{_token(order)}/pay")
    assert again.status_code == 302 and again["Location"] == page_url
    client.get(local(pay_on_stripe(page_url, card=PAYS)))
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert len(stripe_api.sessions) == 1


def test_a_subscription_paid_on_stripes_page_saves_the_card_on_a_customer_for_renewals(client, shop, stripe_api):
    order = buy_by_card(client, stripe_api, shop["discounted"])
    session = stripe_api.sessions[order.stripe_checkout_session]
    assert session["customer"].startswith("cus_") and session["_intent_data"]["setup_future_usage"] == "off_session"
    subscription = Subscription.objects.get()
    assert (subscription.stripe_customer, subscription.stripe_payment_method) == (session["customer"], PAYS)
    assert stripe_api.customers[session["customer"]]["payment_methods"] == [PAYS]
    assert [i["amount"] for i in stripe_api.charges()] == [1980]


def test_the_saved_card_is_kept_whichever_event_comes_first(client, shop, stripe_api):
    _order, page_url = order_on_stripe(client, stripe_api, shop["monthly"])
    pay_on_stripe(page_url, card=PAYS)
    # payment_intent.succeeded names no saved card; the session's event, read from Stripe, does.
    intent_first = stripe_api.pending_webhooks()
    assert [w.type for w in intent_first] == ["payment_intent.succeeded", "checkout.session.completed"]
    deliver(client, stripe_api)
    subscription = Subscription.objects.get()
    assert subscription.stripe_payment_method == PAYS and subscription.stripe_customer.startswith("cus_")


def test_a_partial_then_full_refund_goes_through_stripe(client, shop, stripe_api, workspace):
    from musubi.commerce import order_lifecycle
    from musubi.workspaces.services import SYSTEM

    order = buy_by_card(client, stripe_api, shop["trial"])
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=order.pk, amount=300, reason="一部破損")
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.PARTLY_REFUNDED, 300)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=order.pk, amount=680)
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


def test_a_replayed_checkout_event_is_applied_once(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    pay_on_stripe(page_url, card=PAYS)
    completed = next(w for w in stripe_api.pending_webhooks() if w.type == "checkout.session.completed")
    for _ in range(3):
        response = client.post(completed.url, completed.body, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=completed.signature)
        assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert PaymentWebhook.objects.filter(kind="checkout.session.completed").count() == 1
    assert Fact.objects.filter(kind="order.paid").count() == 1 and order.timeline.filter(kind="paid").count() == 1


def test_a_wrongly_signed_checkout_event_is_refused_before_it_is_read(client, shop, stripe_api):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    pay_on_stripe(page_url, card=PAYS)
    completed = next(w for w in stripe_api.pending_webhooks() if w.type == "checkout.session.completed")
    from musubi.testing.stripe_standin import sign

    reads = len(session_reads(stripe_api))
    for header in (sign(completed.body, "whsec_someone_else"), sign(completed.body, "whsec_test_shop",
                                                                     timestamp=int(time.time()) - 3600), "t=1,v1=00"):
        response = client.post(completed.url, completed.body, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=header)
        assert response.status_code == 400
    response = client.post(completed.url, "{not json", content_type="application/json",
                           HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert response.status_code == 400
    assert len(session_reads(stripe_api)) == reads  # Stripe was not even asked
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT and not PaymentWebhook.objects.exists()


def test_stripe_unreachable_when_its_event_arrives_answers_503_and_the_redelivery_applies(client, shop, stripe_api,
                                                                                         settings):
    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    pay_on_stripe(page_url, card=PAYS)
    completed = next(w for w in stripe_api.pending_webhooks() if w.type == "checkout.session.completed")
    settings.MUSUBI_STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    post = {"content_type": "application/json", "HTTP_STRIPE_SIGNATURE": completed.signature}
    assert client.post(completed.url, completed.body, **post).status_code == 503
    assert not PaymentWebhook.objects.exists()
    settings.MUSUBI_STRIPE_API_BASE = stripe_api.url
    assert client.post(completed.url, completed.body, **post).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_signed_payment_succeeded_event_marks_the_order_paid_once(client, shop, stripe_api):
    order, _page_url = order_on_stripe(client, stripe_api, shop["trial"])
    event = intent_event("evt_1", "payment_intent.succeeded", "pi_from_checkout")
    event["data"]["object"]["metadata"] = {"order": order.number}
    assert signed(client, "kenko", event).status_code == 200
    assert signed(client, "kenko", event).status_code == 200  # delivered twice
    order.refresh_from_db()
    assert (order.status, order.stripe_payment_intent) == (OrderStatus.PAID, "pi_from_checkout")
    assert Fact.objects.filter(kind="order.paid").count() == 1
    assert PaymentWebhook.objects.count() == 1


def test_a_refund_arriving_before_the_payment_event_has_one_effect(client, shop, stripe_api, workspace):
    order = buy_by_card(client, stripe_api, shop["trial"])
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
    order = buy_by_card(client, stripe_api, shop["trial"])
    dispute = {"id": "evt_d", "type": "charge.dispute.created", "data": {"object": {
        "id": "dp_1", "object": "dispute", "payment_intent": order.stripe_payment_intent, "amount": 980}}}
    signed(client, "kenko", dispute)
    signed(client, "kenko", dispute)
    assert order.timeline.filter(kind="disputed").count() == 1
    assert Fact.objects.filter(kind="order.disputed").count() == 1


def test_another_workspaces_webhook_cannot_touch_this_order(client, shop, stripe_api, other_workspace):
    from musubi.commerce import payment_setup
    from musubi.workspaces.services import SYSTEM

    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    pay_on_stripe(page_url, card=PAYS)
    payment_setup.save_payment_settings(workspace=other_workspace, actor=SYSTEM, stripe_secret_key="sk_test_theirs",
                                        stripe_webhook_secret="whsec_theirs")
    completed = next(w for w in stripe_api.pending_webhooks() if w.type == "checkout.session.completed")
    from musubi.testing.stripe_standin import sign

    response = client.post("/stripe/webhook/izakaya", completed.body, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=sign(completed.body, "whsec_theirs"))
    assert response.status_code in (200, 503)  # their key cannot read our session; nothing of ours changes
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert not Fact.objects.filter(kind="order.paid").exists()


def test_a_buyer_who_never_pays_on_stripes_page_leaves_an_order_that_expires_and_a_closed_session(
        client, shop, stripe_api):
    import datetime as dt

    from musubi.kernel import clock
    from musubi.kernel.worker import drain_queues

    order, page_url = order_on_stripe(client, stripe_api, shop["trial"])
    with clock.travel(dt.timedelta(days=1, minutes=1)):
        drain_queues(worker="w", only={"commerce.deadlines"})
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert stripe_api.sessions[order.stripe_checkout_session]["status"] == "expired"
    assert pay_on_stripe(page_url, card=PAYS) == ""  # the page no longer takes a payment
    assert [kind for kind, _status in deliver(client, stripe_api)] == ["checkout.session.expired"]
    assert Fact.objects.filter(kind="order.expired").count() == 1


def test_stripe_unreachable_at_checkout_voids_the_order_and_a_late_success_event_revives_it(client, shop, stripe_api,
                                                                                            settings):
    from musubi.commerce.tests.test_checkout import confirmation, place

    settings.MUSUBI_STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    page, token = confirmation(client, shop["trial"], payment_method="card")
    response = place(client, shop["trial"], page, token)
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert 'id="card-failed"' in client.get(response["Location"]).content.decode()
    # Had the charge gone through, Stripe's event names the order in its metadata.
    event = intent_event("evt_late", "payment_intent.succeeded", "pi_late")
    event["data"]["object"]["metadata"] = {"order": order.number}
    signed(client, "kenko", event)
    order.refresh_from_db()
    assert (order.status, order.stripe_payment_intent) == (OrderStatus.PAID, "pi_late")


def test_the_checkout_form_has_no_card_field(client, shop):
    page = client.get(f"/buy/{shop['trial'].pk}").content.decode()
    assert "card_token" not in page and "pm_card" not in page
    assert 'value="card"' in page
