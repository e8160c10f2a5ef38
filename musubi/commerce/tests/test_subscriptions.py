"""Subscriptions: renewals made by the worker once per cycle (even with two workers, or one killed half-way),
charged with the saved card, retried then paused when declined; the customer's login-free page."""

import datetime as dt
import re
import threading

import pytest
from django.db import connection

from musubi.commerce import notices, renewal_run, subscriptions
from musubi.commerce.choices import OrderStatus, SubscriptionStatus
from musubi.commerce.models import CustomerMail, Order, Renewal, Subscription
from musubi.commerce.tests.hosted import buy_by_card
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel import claims, clock
from musubi.kernel.events import subscribe, unsubscribe
from musubi.kernel.models import Fact
from musubi.kernel.worker import drain_queues
from musubi.testing.stripe_standin import NEEDS_3DS, PAYS

START = dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)


def subscribe_by_card(client, offer, stripe_api, card=PAYS):
    with clock.frozen(START):
        buy_by_card(client, stripe_api, offer, card=card)
    return Subscription.objects.get()


def renew_at(moment, worker="w1"):
    with clock.frozen(moment):
        return drain_queues(worker=worker, only={"commerce.renewals", "commerce.renewal_charges"})


def test_the_renewal_is_ordered_and_charged_a_month_later_at_the_regular_price(client, shop, stripe_api):
    from musubi.commerce.events import SubscriptionRenewed

    seen = []
    subscribe(SubscriptionRenewed, seen.append)
    try:
        subscription = subscribe_by_card(client, shop["discounted"], stripe_api)
        assert renew_at(START + dt.timedelta(days=30)) == 0  # not due yet
        renew_at(dt.datetime(2026, 2, 15, 3, 0, tzinfo=dt.UTC))
    finally:
        unsubscribe(SubscriptionRenewed, seen.append)
    second = Order.objects.get(subscription=subscription, cycle=2)
    assert (second.total, second.status) == (4980, OrderStatus.PAID)
    assert [i["amount"] for i in stripe_api.charges()] == [1980, 4980]
    renewal_charge = stripe_api.charges()[1]
    assert renewal_charge["customer"] == subscription.stripe_customer and renewal_charge["payment_method"] == PAYS
    subscription.refresh_from_db()
    assert subscription.deliveries == 2
    assert Renewal.objects.get(subscription=subscription, cycle=3).next_attempt_at == dt.datetime(
        2026, 3, 15, 3, 0, tzinfo=dt.UTC)
    assert [e.cycle for e in seen] == [2]
    assert Fact.objects.filter(kind="subscription.renewed").count() == 1


def test_running_the_worker_again_makes_no_second_order(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    later = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    renew_at(later)
    renew_at(later, worker="w2")
    assert Order.objects.filter(subscription=subscription, cycle=2).count() == 1
    assert len(stripe_api.charges()) == 2


def test_a_worker_killed_before_charging_leaves_the_charge_for_the_next_one(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    due = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    with clock.frozen(due):
        [claimed] = claims.claim(subscriptions.due_renewals(), worker="doomed", limit=10)
        renewal_run.run([claimed])  # the order is made and the row goes back to be charged
        [to_charge] = claims.claim(subscriptions.due_charges(), worker="doomed", limit=10)
        assert to_charge.pk == claimed.pk  # ... then the worker dies holding it, before charging
    renew_at(due + dt.timedelta(minutes=2), worker="w2")  # the lease still holds: nothing happens
    assert len(stripe_api.charges()) == 1
    renew_at(due + dt.timedelta(minutes=10), worker="w2")  # the lease ran out: w2 takes over
    assert Order.objects.filter(subscription=subscription, cycle=2).count() == 1
    assert Order.objects.get(subscription=subscription, cycle=2).status == OrderStatus.PAID
    assert len(stripe_api.charges()) == 2


def test_cancelling_between_the_order_and_its_charge_cancels_the_order_uncharged(client, shop, stripe_api, workspace):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    due = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    with clock.frozen(due):
        renewal_run.run(claims.claim(subscriptions.due_renewals(), worker="w1", limit=10))
        subscriptions.cancel(workspace=workspace, subscription_id=subscription.pk)
    renew_at(due + dt.timedelta(minutes=1))
    assert Order.objects.get(subscription=subscription, cycle=2).status == OrderStatus.CANCELLED
    assert len(stripe_api.charges()) == 1


def test_a_fixed_length_subscription_completes_after_its_last_delivery(client, shop, stripe_api):
    from musubi.catalog import services as catalog
    from musubi.workspaces.services import SYSTEM

    two = catalog.create_offer(workspace=shop["trial"].workspace, actor=SYSTEM, product_id=shop["six"].product_id,
                               name="2回コース", role="back", price=3000, billing="recurring", interval="month",
                               cycles=2)
    catalog.publish_offer(workspace=shop["trial"].workspace, actor=SYSTEM, offer_id=two.pk)
    subscription = subscribe_by_card(client, two, stripe_api)
    renew_at(dt.datetime(2026, 2, 16, tzinfo=dt.UTC))
    renew_at(dt.datetime(2026, 4, 16, tzinfo=dt.UTC))
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.COMPLETED
    assert Order.objects.filter(subscription=subscription).count() == 2


def test_a_declined_renewal_is_retried_then_the_subscription_pauses(client, shop, stripe_api, settings):
    settings.MUSUBI_RENEWAL_RETRIES = 2
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    stripe_api.decline_next = 10
    moment = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    renew_at(moment)
    renewal = Renewal.objects.get(subscription=subscription, cycle=2)
    assert renewal.status == "pending" and renewal.charge_attempts == 1
    assert renewal.next_attempt_at == moment + dt.timedelta(days=1)
    renew_at(moment + dt.timedelta(days=1))
    renew_at(moment + dt.timedelta(days=4))
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    assert Order.objects.filter(subscription=subscription, cycle=2).count() == 1
    mails = list(CustomerMail.objects.filter(kind="payment_failed").order_by("pk").values_list("body", flat=True))
    assert len(mails) == 3 and "一時停止しました" in mails[-1] and "一時停止しました" not in mails[0]


def test_a_renewal_the_bank_wants_authenticated_mails_a_link_to_pay(client, shop, stripe_api):

    with clock.frozen(START):
        # The first payment goes through 3-D Secure on Stripe's page; then the card is saved for renewals.
        buy_by_card(client, stripe_api, shop["monthly"], card=NEEDS_3DS)
    subscription = Subscription.objects.get()
    assert subscription.stripe_payment_method == NEEDS_3DS
    renew_at(dt.datetime(2026, 2, 16, tzinfo=dt.UTC))
    second = Order.objects.get(subscription=subscription, cycle=2)
    assert second.status == OrderStatus.AWAITING_PAYMENT
    mail = CustomerMail.objects.get(kind="authentication_needed")
    link = re.search(r"http://\S+/orders/(\S+)/pay", mail.body)
    response = client.post(f"/orders/{link.group(1)}/pay")
    assert response.status_code == 302 and response["Location"].startswith(f"{stripe_api.url}/3ds/")


def test_a_paused_subscription_is_not_renewed_and_a_cancelled_one_never_again(client, shop, stripe_api, workspace):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    subscriptions.pause(workspace=workspace, subscription_id=subscription.pk)
    renew_at(dt.datetime(2026, 2, 16, tzinfo=dt.UTC))
    assert not Order.objects.filter(cycle=2).exists()
    subscriptions.resume(workspace=workspace, subscription_id=subscription.pk)
    subscriptions.cancel(workspace=workspace, subscription_id=subscription.pk)
    renew_at(dt.datetime(2026, 6, 16, tzinfo=dt.UTC))
    assert not Order.objects.filter(cycle=2).exists()


# --- The customer's page -------------------------------------------------------------------------------------

def manage_path(subscription):
    mail = CustomerMail.objects.get(kind="subscription_started", subscription=subscription)
    return re.search(r"http://[^/\s]+(/s/\S+)", mail.body).group(1)


def test_the_customer_cancels_from_the_link_in_the_email_without_a_password(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    path = manage_path(subscription)
    page = client.get(path).content.decode()
    assert "青汁 定期便" in page and 'id="cancel-subscription"' in page
    with clock.frozen(START + dt.timedelta(days=3)):
        response = client.post(path, {"action": "cancel"})
    assert "定期便を解約しました" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELLED
    assert subscription.cancelled_at == START + dt.timedelta(days=3)
    fact = Fact.objects.get(kind="subscription.cancelled")
    assert fact.data["by"] == "customer"
    assert client.post(path, {"action": "cancel"}).status_code == 400  # once is enough


def test_the_customer_skips_the_next_delivery(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    client.post(manage_path(subscription), {"action": "skip"})
    assert Renewal.objects.get(subscription=subscription).next_attempt_at == dt.datetime(2026, 3, 15, 3, 0,
                                                                                          tzinfo=dt.UTC)


def test_the_customer_moves_the_next_delivery_within_limits(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    path = manage_path(subscription)
    with clock.frozen(START):
        assert client.post(path, {"action": "date", "date": "2026-02-01"}).status_code == 200
        refused = client.post(path, {"action": "date", "date": "2027-01-01"})
    assert refused.status_code == 400 and "90日後" in refused.content.decode()
    assert Renewal.objects.get(subscription=subscription).next_attempt_at.date() == dt.date(2026, 2, 1)


def test_a_forged_subscription_link_finds_nothing(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    path = manage_path(subscription)
    assert client.get(path[:-4] + "abcd").status_code == 404
    assert client.post(path[:-4] + "abcd", {"action": "cancel"}).status_code == 404
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


# --- Two workers at once (PostgreSQL: real row locks) -----------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_make_one_order_per_cycle(client, shop, stripe_api):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL's row locks; SQLite has one writer")
    for n in range(6):
        with clock.frozen(START):
            buy_by_card(client, stripe_api, shop["monthly"], email=f"buyer{n}@example.jp")
    errors = []

    def work(name):
        try:
            renew_at(dt.datetime(2026, 2, 16, tzinfo=dt.UTC), worker=name)
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Order.objects.filter(cycle=2).count() == 6
    assert len(stripe_api.charges()) == 12



def test_a_bank_transfer_renewal_mails_the_amount_and_the_account(client, shop):
    from musubi.commerce.tests.conftest import BANK

    with clock.frozen(START):
        page, token = confirmation(client, shop["monthly"])
        place(client, shop["monthly"], page, token)
    renew_at(dt.datetime(2026, 2, 16, tzinfo=dt.UTC))
    renewal = Order.objects.get(cycle=2)
    assert renewal.status == OrderStatus.AWAITING_PAYMENT and renewal.pay_by is not None
    mail = CustomerMail.objects.get(kind="order_placed", order=renewal)
    assert mail.body == ""  # the run leaves the writing to the mail queue ...
    subject, body = notices.written(mail)
    assert BANK in body and "4,980円" in body
    mail.refresh_from_db()
    assert (mail.subject, mail.body) == (subject, body)  # ... which keeps what it sent on the row


def test_the_customer_is_mailed_that_the_cancellation_was_taken(client, shop, stripe_api):
    subscription = subscribe_by_card(client, shop["monthly"], stripe_api)
    with clock.frozen(dt.datetime(2026, 1, 20, 3, 0, tzinfo=dt.UTC)):
        client.post(manage_path(subscription), {"action": "cancel"})
    mail = CustomerMail.objects.get(kind="subscription_cancelled")
    assert mail.to == "hanako@example.jp" and "解約を承りました" in mail.subject
    assert "2026年1月20日 12:00" in mail.body  # when it was taken, in Japan's time
