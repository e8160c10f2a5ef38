"""What the sales app tells the rest of Musubi: facts in the fact table and events messaging subscribes to,
and the contact's stage on the ladder."""

import pytest

from musubi.commerce import order_lifecycle, subscriptions
from musubi.commerce.events import OrderPaid, OrderRefunded, SubscriptionCancelled, SubscriptionStarted
from musubi.commerce.models import Order
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.contacts.models import Contact
from musubi.kernel.events import subscribe, unsubscribe
from musubi.kernel.models import Fact
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def published():
    seen = []
    kinds = (OrderPaid, OrderRefunded, SubscriptionStarted, SubscriptionCancelled)
    for kind in kinds:
        subscribe(kind, seen.append)
    yield seen
    for kind in kinds:
        unsubscribe(kind, seen.append)


def order(client, offer, **changes):
    page, token = confirmation(client, offer, **changes)
    place(client, offer, page, token)
    return Order.objects.filter(offer=offer).latest("pk")


def test_a_front_end_then_a_back_end_purchase_move_the_contact_up_the_ladder(client, shop, workspace, published):
    trial = order(client, shop["trial"])
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=trial.pk)
    assert Contact.objects.get().stage == "front_customer"
    monthly = order(client, shop["monthly"])
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=monthly.pk)
    assert Contact.objects.get().stage == "back_customer"
    paid = [e for e in published if isinstance(e, OrderPaid)]
    assert [(e.role, e.amount) for e in paid] == [("front", 980), ("back", 4980)]
    assert paid[1].subscription_id == monthly.subscription_id
    assert [type(e).__name__ for e in published].count("SubscriptionStarted") == 1


def test_a_back_end_buyer_never_moves_back_down(client, shop, workspace):
    monthly = order(client, shop["monthly"])
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=monthly.pk)
    trial = order(client, shop["trial"])
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=trial.pk)
    assert Contact.objects.get().stage == "back_customer"


def test_refunds_and_cancellations_are_facts_and_events(client, shop, workspace, published):
    monthly = order(client, shop["monthly"])
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=monthly.pk)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=monthly.pk, amount=4980)
    subscriptions.cancel(workspace=workspace, subscription_id=monthly.subscription_id, actor=SYSTEM)
    refunded = [e for e in published if isinstance(e, OrderRefunded)]
    assert [(e.amount, e.fully) for e in refunded] == [(4980, True)]
    cancelled = [e for e in published if isinstance(e, SubscriptionCancelled)]
    assert [e.by_customer for e in cancelled] == [False]
    kinds = list(Fact.objects.filter(kind__startswith=("order.")).values_list("kind", flat=True)) + list(
        Fact.objects.filter(kind__startswith="subscription.").values_list("kind", flat=True))
    assert sorted(kinds) == ["order.paid", "order.placed", "order.refunded", "subscription.cancelled",
                             "subscription.started"]
