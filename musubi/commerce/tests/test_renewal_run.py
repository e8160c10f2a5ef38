"""The renewal run writes a batch set by set: the statements it takes do not grow with the batch, and every
subscription still gets exactly its own order, lines, timeline, next renewal, fact, deadlines and mail."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from musubi.commerce import outgoing, renewal_run, subscriptions
from musubi.commerce.choices import OrderStatus, RenewalOutcome, SubscriptionStatus
from musubi.commerce.models import (
    CustomerMail,
    Order,
    OrderEvent,
    OrderLine,
    PaymentDeadline,
    Renewal,
    Subscription,
    WebhookDelivery,
)
from musubi.contacts.models import Contact
from musubi.kernel import claims, clock
from musubi.kernel.models import Fact
from musubi.workspaces.services import SYSTEM

DUE = dt.datetime(2026, 2, 16, 3, 0, tzinfo=dt.UTC)


def subscribe(offer, n, *, method="bank_transfer", quantity=1, cycle=2):
    """``n`` subscriptions of ``offer`` with their first order, each due for ``cycle``."""
    made = []
    for i in range(n):
        contact = Contact.objects.create(workspace=offer.workspace, name=f"買い手{i}", created_at=DUE)
        subscription = Subscription.objects.create(workspace=offer.workspace, offer=offer, contact=contact,
                                                   quantity=quantity, payment_method=method, started_at=DUE)
        Order.objects.create(workspace=offer.workspace, number=f"F{contact.pk}", offer=offer,
                             contact=contact, subscription=subscription, cycle=1, payment_method=method,
                             subtotal=1, total=1, email=f"buyer{i}@example.jp", name=f"買い手{i}", created_at=DUE)
        Renewal.objects.create(workspace=offer.workspace, subscription=subscription, cycle=cycle, due_at=DUE,
                               next_attempt_at=DUE)
        made.append(subscription)
    return made


def run_claimed(limit=1000):
    with clock.frozen(DUE):
        rows = claims.claim(subscriptions.due_renewals(), worker="w", limit=limit)
        with CaptureQueriesContext(connection) as queries:
            renewal_run.run(rows)
    return rows, len(queries)


def test_the_statements_of_a_run_do_not_grow_with_its_batch(shop):
    subscribe(shop["monthly"], 3)
    _, small = run_claimed()
    subscribe(shop["monthly"], 40)
    rows, large = run_claimed()
    assert len(rows) == 40
    # COPY (PostgreSQL) and executemany (both) are one statement per kind of row; only the number check may
    # take another round when two random order numbers meet.
    assert large <= small + 2


def test_every_subscription_of_a_mixed_batch_gets_its_own_rows(shop):
    transfer = subscribe(shop["monthly"], 3)
    cash = subscribe(shop["monthly"], 2, method="cod", quantity=2)
    card = subscribe(shop["monthly"], 2, method="card")
    last = subscribe(shop["six"], 1, cycle=6)
    rows, _ = run_claimed()
    assert len(rows) == 8
    orders = {o.subscription_id: o for o in Order.objects.filter(cycle__gte=2)}
    assert len(orders) == 8 and len({o.number for o in orders.values()}) == 8
    assert all(o.status == OrderStatus.AWAITING_PAYMENT for o in orders.values())
    assert {orders[s.pk].total for s in transfer} == {4980}
    assert {orders[s.pk].total for s in cash} == {2 * 4980 + 330}  # two boxes and the cash-on-delivery fee
    assert {orders[s.pk].email for s in transfer} == {"buyer0@example.jp", "buyer1@example.jp", "buyer2@example.jp"}
    for order in orders.values():
        lines = OrderLine.objects.filter(order=order)
        assert sum(line.amount for line in lines) == order.total
        assert OrderEvent.objects.filter(order=order, kind="placed").count() == 1
    # A transfer gets its reminder and deadline; a transfer or cash on delivery its invoice mail; a card neither.
    assert PaymentDeadline.objects.count() == 2 * (len(transfer) + 1)  # the six-delivery course pays by transfer
    assert CustomerMail.objects.filter(kind="order_placed").count() == len(transfer) + len(cash) + 1
    # Card renewals go back to the queue to be charged; the rest are done.
    for subscription in card:
        renewal = Renewal.objects.get(subscription=subscription, cycle=2)
        assert (renewal.status, renewal.outcome) == (claims.WorkStatus.PENDING, RenewalOutcome.ORDERED)
        assert renewal.claimed_by == "" and renewal.order_id == orders[subscription.pk].pk
    assert Renewal.objects.filter(subscription__in=transfer + cash, cycle=2, status="done").count() == 5
    # The next delivery a month on, except for the course whose sixth delivery was its last.
    assert Renewal.objects.filter(cycle=3).count() == 7
    assert Renewal.objects.get(cycle=3, subscription=transfer[0]).next_attempt_at == DUE.replace(month=3)
    assert not Renewal.objects.filter(cycle=7).exists()
    assert Subscription.objects.get(pk=last[0].pk).status == SubscriptionStatus.COMPLETED
    assert Subscription.objects.get(pk=transfer[0].pk).deliveries == 2
    assert Fact.objects.filter(kind="subscription.renewed").count() == 8


def test_a_run_links_an_order_already_made_rather_than_making_another(shop):
    [subscription] = subscribe(shop["monthly"], 1)
    run_claimed()
    # The renewal row is given back as if a worker had died before recording it.
    Renewal.objects.filter(subscription=subscription, cycle=2).update(status="pending", outcome="",
                                                                       order=None, next_attempt_at=DUE)
    run_claimed()
    assert Order.objects.filter(subscription=subscription, cycle=2).count() == 1
    assert Renewal.objects.get(subscription=subscription, cycle=2).order_id is not None
    assert Fact.objects.filter(kind="subscription.renewed").count() == 1


def test_a_subscription_paused_while_its_renewal_was_claimed_keeps_the_renewal_for_later(shop, workspace):
    [subscription] = subscribe(shop["monthly"], 1)
    with clock.frozen(DUE):
        rows = claims.claim(subscriptions.due_renewals(), worker="w", limit=10)
        subscriptions.pause(workspace=workspace, subscription_id=subscription.pk)
        renewal_run.run(rows)
    renewal = Renewal.objects.get(subscription=subscription, cycle=2)
    assert (renewal.status, renewal.outcome, renewal.claimed_by) == ("pending", "", "")
    assert not Order.objects.filter(cycle=2).exists()


def test_one_webhook_delivery_per_renewal_from_one_query_for_the_endpoints(shop, workspace):
    outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url="http://127.0.0.1:9/musubi")
    subscribe(shop["monthly"], 4)
    run_claimed()
    deliveries = WebhookDelivery.objects.filter(event_type="subscription.renewed")
    assert deliveries.count() == 4
    assert {d.payload["data"]["cycle"] for d in deliveries} == {2}


def test_a_mail_written_without_text_is_written_when_sent(shop, mailoutbox):
    from musubi.commerce.tasks import handle_mail
    from musubi.kernel.worker import BatchOutcome

    subscribe(shop["monthly"], 1)
    run_claimed()
    mail = CustomerMail.objects.get(kind="order_placed")
    outcome = BatchOutcome()
    handle_mail([mail], outcome)
    assert outcome.done == [mail.pk]
    [sent] = mailoutbox
    mail.refresh_from_db()
    assert (sent.subject, sent.body) == (mail.subject, mail.body)
    assert "4,980円" in mail.body
