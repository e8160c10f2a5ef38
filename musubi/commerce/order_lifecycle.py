"""What happens to an order once placed: paid (once), shipped, refunded, cancelled, reminded and expired at its
deadline, a card authenticated. Staff actions check the actor's role; every change writes the order's
timeline. Subscriptions are in ``subscriptions``."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.catalog.choices import OfferRole
from musubi.commerce import access, confirmation, discounts, notices, payment_setup, rules
from musubi.commerce.choices import (
    OrderStatus,
    PaymentMethod,
)
from musubi.commerce.events import OrderPaid, OrderRefunded
from musubi.commerce.models import (
    Order,
    OrderEvent,
    PaymentDeadline,
    Refund,
)
from musubi.commerce.payments import method_for
from musubi.commerce.ports import Collection, Outcome
from musubi.contacts import services as contacts
from musubi.contacts.choices import Stage
from musubi.integrations import stripe_payments
from musubi.kernel import clock, events
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.kernel.money import Money
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

REMIND_BEFORE = dt.timedelta(days=2)
AUTHENTICATION_WINDOW = dt.timedelta(days=1)


def add_to_timeline(order: Order, kind: str, text: str = "") -> None:
    OrderEvent.objects.create(workspace_id=order.workspace_id, order=order, at=clock.now(), kind=kind,
                              note=str(text)[:500])


def after_commitment(order: Order) -> None:
    """A bank transfer or cash-on-delivery order binds the buyer when placed: a subscription starts now, and
    a transfer gets its reminder and its deadline."""
    from musubi.commerce import subscriptions

    with transaction.atomic():
        if order.offer.is_recurring and order.subscription_id is None:
            subscriptions.start(order=order)
        if order.payment_method == PaymentMethod.BANK_TRANSFER and order.pay_by is not None:
            for kind, at in ((PaymentDeadline.REMIND, order.pay_by - REMIND_BEFORE),
                             (PaymentDeadline.EXPIRE, order.pay_by)):
                PaymentDeadline.objects.get_or_create(workspace_id=order.workspace_id, order=order, kind=kind,
                                                      defaults={"due_at": at, "next_attempt_at": at})


def apply_outcome(*, order: Order, outcome: Outcome) -> None:
    """Record what a payment method answered for ``order``."""
    from musubi.commerce import upsells  # it builds on this module

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if outcome.reference and locked.stripe_payment_intent != outcome.reference:
            locked.stripe_payment_intent = outcome.reference
            locked.save(update_fields=["stripe_payment_intent"])
        if outcome.checkout_session and locked.stripe_checkout_session != outcome.checkout_session:
            locked.stripe_checkout_session = outcome.checkout_session
            locked.save(update_fields=["stripe_checkout_session"])
        at_checkout = locked.subscription_id is None  # not a renewal, which keeps waiting for its payment
        if outcome.paid:
            mark_paid(order=locked, note=_("Card payment succeeded"), card=outcome)
            if at_checkout:
                upsells.offer_after(locked, card=outcome)
        elif outcome.state == "needs_buyer":
            if outcome.checkout_session:
                add_to_timeline(locked, "checkout", _("The buyer was sent to Stripe's payment page"))
            else:
                add_to_timeline(locked, "authentication",
                                _("Waiting for the buyer's card authentication (3-D Secure)"))
            if at_checkout:  # a buyer who never comes back from their bank leaves an order that expires
                at = clock.now() + AUTHENTICATION_WINDOW
                PaymentDeadline.objects.get_or_create(workspace_id=locked.workspace_id, order=locked,
                                                      kind=PaymentDeadline.EXPIRE,
                                                      defaults={"due_at": at, "next_attempt_at": at})
        elif outcome.state == "failed":
            add_to_timeline(locked, "payment_failed", _("Payment failed: %(why)s") % {"why": outcome.reason})
            if at_checkout and locked.status == OrderStatus.AWAITING_PAYMENT:
                # The buyer is still on the page and tries again with a new order; this one is void.
                Order.objects.filter(pk=locked.pk).update(status=OrderStatus.CANCELLED)
                discounts.release(locked)


@transaction.atomic
def mark_paid(*, order: Order, note: str = "", card: Outcome | None = None, provider_says_paid: bool = False) -> bool:
    """Record ``order`` as paid, once: the fact, the event, the contact's stage, the subscription. Returns
    whether it changed (an order already paid, refunded or cancelled stays as it is — except that Stripe
    saying a card was charged revives an order voided when the charge looked failed: the money was taken)."""
    from musubi.commerce import subscriptions

    payable = [OrderStatus.AWAITING_PAYMENT]
    if provider_says_paid:
        payable += [OrderStatus.CANCELLED, OrderStatus.EXPIRED]
    changed = Order.objects.filter(pk=order.pk, status__in=payable, paid_at__isnull=True).update(
        status=OrderStatus.PAID, paid_at=clock.now())
    if not changed:
        return False
    if provider_says_paid:
        discounts.retake(order)  # a revived order's use was given back when it was voided
    order.refresh_from_db()
    add_to_timeline(order, "paid", note or _("Paid"))
    record_fact(workspace_id=order.workspace_id, kind="order.paid", contact_id=order.contact_id,
                subject=("commerce.order", order.pk), amount=Money(order.total, order.currency),
                data={"offer": order.offer_id, "role": order.offer.role}, dedupe_key=f"order-paid-{order.pk}")
    stage = Stage.BACK_CUSTOMER if order.offer.role == OfferRole.BACK else Stage.FRONT_CUSTOMER
    contacts.advance_stage(workspace=order.workspace, contact=order.contact, stage=stage)
    if order.offer.is_recurring and order.subscription_id is None:
        subscriptions.start(order=order, card=card)
    elif order.subscription_id is not None and card is not None and card.saved_card:
        subscriptions.remember_card(order.subscription_id, customer=card.customer, card=card.saved_card)
    if access.delivers_access(order):
        notices.access_granted(order)
    events.publish(OrderPaid(workspace_id=order.workspace_id, order_id=order.pk, contact_id=order.contact_id,
                             offer_id=order.offer_id, role=order.offer.role, amount=order.total,
                             currency=order.currency, subscription_id=order.subscription_id))
    return True


def _order(workspace: Workspace, order_id: int) -> Order:
    order = Order.objects.for_workspace(workspace).select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("This workspace has no such order."))
    return order


@transaction.atomic
def record_payment(*, workspace: Workspace, actor: Actor, order_id: int) -> Order:
    """Staff saw the transfer (or the carrier's cash) arrive: the order is paid."""
    actor.require(Action.OPERATE)
    order = _order(workspace, order_id)
    if order.status != OrderStatus.AWAITING_PAYMENT:
        raise Conflict(_("Only an order awaiting payment can be marked paid."), code="not_awaiting_payment")
    mark_paid(order=order, note=_("Payment recorded by %(who)s") % {"who": _who(actor)})
    record_audit(workspace=workspace, actor=actor, action="order.marked_paid", obj=order)
    order.refresh_from_db()
    return order


@transaction.atomic
def ship(*, workspace: Workspace, actor: Actor, order_id: int, carrier: str, tracking_number: str) -> Order:
    """Record the parcel's hand-over to the carrier with its tracking number. Cash-on-delivery orders ship
    unpaid; others only once paid."""
    actor.require(Action.OPERATE)
    order = _order(workspace, order_id)
    fields: dict[str, str] = {}
    if not carrier.strip():
        fields["carrier"] = _("Enter the carrier.")
    if not tracking_number.strip() or len(tracking_number) > 100:
        fields["tracking_number"] = _("Enter the tracking number.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    shippable = order.status == OrderStatus.PAID or (
        order.status == OrderStatus.AWAITING_PAYMENT and order.payment_method == PaymentMethod.CASH_ON_DELIVERY)
    if not shippable:
        raise Conflict(_("This order cannot be shipped in its current state."), code="not_shippable")
    order.carrier, order.tracking_number = carrier.strip(), tracking_number.strip()
    order.shipped_at = clock.now()
    if order.status == OrderStatus.PAID:
        order.status = OrderStatus.SHIPPED
    order.save(update_fields=["carrier", "tracking_number", "shipped_at", "status"])
    add_to_timeline(order, "shipped", f"{order.carrier} {order.tracking_number}")
    notices.shipped(order)
    record_audit(workspace=workspace, actor=actor, action="order.shipped", obj=order,
                 changes={"tracking_number": order.tracking_number})
    return order


@transaction.atomic
def refund(*, workspace: Workspace, actor: Actor, order_id: int, amount: int, reason: str = "") -> Refund:
    """Give back ``amount`` (all of what is left, or part of it). A card is refunded through Stripe; a
    transfer or cash is paid back by staff and recorded here."""
    actor.require(Action.OPERATE)
    order = _order(workspace, order_id)
    if order.paid_at is None:
        raise Conflict(_("Only a paid order can be refunded."), code="not_paid")
    why = rules.refund_problem(requested=amount, refundable=order.refundable) if isinstance(amount, int) else "positive"
    if why == "positive":
        raise InvalidInput(_("Enter an amount of 1 yen or more."), fields={"amount": _("Enter 1 yen or more.")})
    if why == "too_much":
        message = _("At most %(left)s can still be refunded.") % {"left": confirmation.yen(order.refundable)}
        raise InvalidInput(message, fields={"amount": message})
    done = Refund.objects.filter(order=order).count()
    reference = ""
    if order.payment_method in (PaymentMethod.CARD, PaymentMethod.KONBINI) and order.stripe_payment_intent:
        reference = method_for(order.payment_method, payment_setup.payment_settings(workspace)).refund(
            reference=order.stripe_payment_intent, amount=amount, idempotency_key=f"musubi-refund-{order.pk}-{done}")
    record = record_refund(order, amount=amount, reason=reason, reference=reference)
    record_audit(workspace=workspace, actor=actor, action="order.refunded", obj=order, changes={"amount": amount})
    return record


def record_refund(order: Order, *, amount: int, reason: str, reference: str) -> Refund:
    record = Refund.objects.create(workspace_id=order.workspace_id, order=order, amount=amount,
                                   reason=reason.strip()[:500], at=clock.now(), stripe_refund=reference)
    order.refunded += amount
    fully = order.refunded >= order.total
    order.status = OrderStatus.REFUNDED if fully else OrderStatus.PARTLY_REFUNDED
    order.save(update_fields=["refunded", "status"])
    add_to_timeline(order, "refunded", _("Refunded %(amount)s") % {"amount": confirmation.yen(amount)})
    record_fact(workspace_id=order.workspace_id, kind="order.refunded", contact_id=order.contact_id,
                subject=("commerce.order", order.pk), amount=Money(amount, order.currency),
                data={"fully": fully})
    events.publish(OrderRefunded(workspace_id=order.workspace_id, order_id=order.pk, contact_id=order.contact_id,
                                 amount=amount, currency=order.currency, fully=fully))
    return record


@transaction.atomic
def cancel_order(*, workspace: Workspace, actor: Actor, order_id: int) -> Order:
    actor.require(Action.OPERATE)
    order = _order(workspace, order_id)
    if order.status != OrderStatus.AWAITING_PAYMENT:
        raise Conflict(_("Only an unpaid order can be cancelled; refund a paid one."), code="not_cancellable")
    order.status = OrderStatus.CANCELLED
    order.save(update_fields=["status"])
    discounts.release(order)
    add_to_timeline(order, "cancelled", _("Cancelled by %(who)s") % {"who": _who(actor)})
    record_audit(workspace=workspace, actor=actor, action="order.cancelled", obj=order)
    return order


def _who(actor: Actor) -> str:
    return str(actor.user or actor.api_key or _("the system"))


def handle_deadline(deadline: PaymentDeadline) -> str:
    """Remind before the deadline or expire at it, for an order still unpaid; returns what was done."""

    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=deadline.order_id)
        if order.status != OrderStatus.AWAITING_PAYMENT:
            return "settled"
        if deadline.kind == PaymentDeadline.REMIND:
            add_to_timeline(order, "reminded", _("Payment reminder sent"))
        elif not order.stripe_checkout_session:
            expire_order(order)
            return "expired"
    if deadline.kind == PaymentDeadline.EXPIRE:
        # An order on Stripe's page: Stripe is asked how it stands first, outside the order's transaction.
        from musubi.commerce import hosted_checkout

        return hosted_checkout.expire_at_deadline(order)
    notices.payment_reminder(order)
    return "reminded"


def expire_order(order: Order, note: str = "") -> bool:
    """An order still awaiting payment passed its deadline (a transfer not made, a konbini slip not paid, a
    buyer who never finished Stripe's page): it expires. Call with the order locked; returns whether it did."""
    if order.status != OrderStatus.AWAITING_PAYMENT:
        return False
    order.status = OrderStatus.EXPIRED
    order.save(update_fields=["status"])
    discounts.release(order)
    add_to_timeline(order, "expired", note or _("Expired unpaid"))
    record_fact(workspace_id=order.workspace_id, kind="order.expired", contact_id=order.contact_id,
                subject=("commerce.order", order.pk))
    return True


def pay_with_saved_card(*, order: Order) -> Outcome:
    """The buyer is here to pay a renewal (or a one-click upsell) their bank wanted authenticated: charge the
    saved card on-session, which may send them through 3-D Secure."""

    card = saved_card_of(order)
    if card is None or order.status != OrderStatus.AWAITING_PAYMENT:
        raise Conflict(_("This order has nothing to pay."), code="nothing_to_pay")
    tries = OrderEvent.objects.filter(order=order, kind="authentication").count()
    outcome = method_for(PaymentMethod.CARD, payment_setup.payment_settings(order.workspace)).collect(Collection(
        order_number=order.number, amount=order.total, currency=order.currency, email=order.email,
        description=order.offer.name, customer=card[0], card_token=card[1], return_url=notices.order_url(order),
        idempotency_key=f"musubi-order-{order.pk}-on-session-{tries}"))
    apply_outcome(order=order, outcome=outcome)
    return outcome


def saved_card_of(order: Order) -> tuple[str, str] | None:
    """The card saved for ``order`` (a subscription's, or the one a one-click upsell was charged to)."""
    from musubi.commerce import upsells  # it builds on this module

    if order.subscription is not None:
        return order.subscription.stripe_customer, order.subscription.stripe_payment_method
    return upsells.saved_card(order)


def finish_authentication(*, order: Order) -> Order:
    """The buyer came back from 3-D Secure: read the intent again and record the result."""
    from musubi.commerce.payments import outcome_of

    if order.status == OrderStatus.AWAITING_PAYMENT and order.stripe_payment_intent:
        charge = stripe_payments.retrieve(secret_key=payment_setup.payment_settings(order.workspace).stripe_secret_key,
                                          intent_id=order.stripe_payment_intent)
        apply_outcome(order=order, outcome=outcome_of(charge))
        order.refresh_from_db()
    return order
