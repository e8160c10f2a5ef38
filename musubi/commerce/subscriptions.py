"""Subscriptions (定期購入): started by their first order, renewed by the worker once per cycle, and managed by
the customer from a signed link without a password — skip, change the date, pause, resume, cancel.

Exactly one order per cycle: the next delivery is a ``Renewal`` row (unique per subscription and cycle) that
workers claim with ``kernel.claims``; the order it creates is unique per subscription and cycle too, so a
worker that dies after creating the order and before recording it leaves the order for the next claimant to
find, never a second one. A card charge carries an idempotency key per order and declined attempt, so a
repeated request is charged once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import formats
from django.utils.translation import gettext as _

from musubi.commerce import discounts, notices, rules
from musubi.commerce.choices import OrderStatus, PaymentMethod, RenewalOutcome, SubscriptionStatus
from musubi.commerce.events import SubscriptionCancelled, SubscriptionStarted
from musubi.commerce.models import DiscountUse, Order, Renewal, Subscription
from musubi.commerce.ports import Collection, Outcome
from musubi.kernel import claims, clock, events
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

# A declined renewal is tried again after these many days (then the subscription pauses).
RETRY_AFTER_DAYS = (1, 3, 5)


def start(*, order: Order, card: Outcome | None = None) -> Subscription:
    """Start the subscription the first order of a recurring offer commits to, and schedule delivery two."""
    offer = order.offer
    quantity = order.lines.order_by("pk").values_list("quantity", flat=True).first() or 1
    use = DiscountUse.objects.select_related("discount_code").filter(order=order).first()
    # A code for every delivery goes on with the subscription, as the confirmation screen promised.
    discount = asdict(discounts.terms_of(use.discount_code)) if use and use.discount_code.every_delivery else {}
    subscription = Subscription.objects.create(
        workspace_id=order.workspace_id, offer=offer, contact=order.contact, quantity=quantity,
        payment_method=order.payment_method, deliveries=1, started_at=order.created_at,
        stripe_customer=card.customer if card else "", stripe_payment_method=card.saved_card if card else "",
        shipping=order.shipping, discount=discount)
    Order.objects.filter(pk=order.pk).update(subscription=subscription, cycle=1)
    order.subscription, order.cycle = subscription, 1
    if offer.cycles is None or offer.cycles > 1:
        _schedule(subscription, cycle=2, at=rules.next_delivery(order.created_at, offer.interval))
    else:
        subscription.status = SubscriptionStatus.COMPLETED
        subscription.save(update_fields=["status"])
    record_fact(workspace_id=order.workspace_id, kind="subscription.started", contact_id=order.contact_id,
                subject=("commerce.subscription", subscription.pk), data={"offer": offer.pk},
                dedupe_key=f"subscription-started-{subscription.pk}")
    events.publish(SubscriptionStarted(workspace_id=order.workspace_id, subscription_id=subscription.pk,
                                       contact_id=order.contact_id, offer_id=offer.pk))
    notices.subscription_started(subscription, order)
    return subscription


def remember_card(subscription_id: int, *, customer: str, card: str) -> None:
    Subscription.objects.filter(pk=subscription_id).update(stripe_customer=customer, stripe_payment_method=card)


def _schedule(subscription: Subscription, *, cycle: int, at: dt.datetime) -> None:
    Renewal.objects.get_or_create(workspace_id=subscription.workspace_id, subscription=subscription, cycle=cycle,
                                  defaults={"due_at": at, "next_attempt_at": at})


def next_renewal(subscription: Subscription) -> Renewal | None:
    return Renewal.objects.filter(subscription=subscription, outcome=RenewalOutcome.PENDING, status__in=[
        claims.WorkStatus.PENDING, claims.WorkStatus.CLAIMED]).order_by("cycle").first()


# --- The worker -----------------------------------------------------------------------------------------------

def due_renewals() -> Any:
    """The rows the ``commerce.renewals`` queue claims: renewals of active subscriptions not yet ordered."""
    return Renewal.objects.filter(subscription__status=SubscriptionStatus.ACTIVE, outcome=RenewalOutcome.PENDING)


def due_charges() -> Any:
    """The rows the ``commerce.renewal_charges`` queue claims: card renewals ordered and waiting for the charge
    (and declined ones, due again on the retry schedule)."""
    return Renewal.objects.filter(subscription__status=SubscriptionStatus.ACTIVE, outcome=RenewalOutcome.ORDERED)


def charge(renewal: Renewal, order: Order | None) -> str:
    """Charge a renewal's order to the saved card; returns ``done``, or ``later`` for a declined card retried
    on the schedule (the row is already given back here)."""
    if order is None or order.payment_method != PaymentMethod.CARD or order.status != OrderStatus.AWAITING_PAYMENT:
        return "done"
    return _charge_saved_card(renewal, order)


def _charge_saved_card(renewal: Renewal, order: Order) -> str:
    from musubi.commerce import order_lifecycle, payment_setup
    from musubi.commerce.payments import method_for

    subscription = Subscription.objects.get(pk=renewal.subscription_id)
    method = method_for(PaymentMethod.CARD, payment_setup.payment_settings(subscription.workspace))
    outcome = method.collect(Collection(
        order_number=order.number, amount=order.total, currency=order.currency, email=order.email,
        description=subscription.offer.name, customer=subscription.stripe_customer,
        card_token=subscription.stripe_payment_method, off_session=True,
        idempotency_key=f"musubi-order-{order.pk}-attempt-{renewal.charge_attempts}"))
    order_lifecycle.apply_outcome(order=order, outcome=outcome)
    if outcome.paid or outcome.state == "waiting":
        return "done"
    if outcome.state == "needs_buyer" or outcome.reason == "authentication_required":
        notices.authentication_needed(subscription, order)
        return "done"
    attempts = renewal.charge_attempts + 1
    gives_up = rules.renewal_gives_up(attempts, retries=settings.MUSUBI_RENEWAL_RETRIES)
    with transaction.atomic():
        Renewal.objects.filter(pk=renewal.pk).update(charge_attempts=attempts)
        if gives_up:
            Subscription.objects.filter(pk=subscription.pk, status=SubscriptionStatus.ACTIVE).update(
                status=SubscriptionStatus.PAUSED, paused_at=clock.now())
            order_lifecycle.add_to_timeline(order, "paused", _("The card was declined %(n)s times: the subscription is "
                                                               "paused") % {"n": attempts})
        notices.payment_failed(subscription, order, paused=gives_up)
    if gives_up:
        return "done"
    days = RETRY_AFTER_DAYS[min(attempts, len(RETRY_AFTER_DAYS)) - 1]
    # The shop's schedule for a declined card is days, not the worker's seconds-long backoff after a crash:
    # give the row back ourselves, while we still hold it.
    Renewal.objects.filter(pk=renewal.pk, status=claims.WorkStatus.CLAIMED, claimed_by=renewal.claimed_by).update(
        status=claims.WorkStatus.PENDING, claimed_by="", lease_until=None,
        next_attempt_at=clock.now() + dt.timedelta(days=days), last_error=f"card declined: {outcome.reason}")
    return "later"


# --- The customer's page and the staff -----------------------------------------------------------------------

def _locked(workspace: Workspace, subscription_id: int) -> Subscription:
    found = Subscription.objects.for_workspace(workspace).select_for_update().filter(pk=subscription_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such subscription."))
    return found


def _record(subscription: Subscription, action: str, actor: Actor | None, changes: dict[str, Any]) -> None:
    record_fact(workspace_id=subscription.workspace_id, kind=f"subscription.{action}",
                contact_id=subscription.contact_id, subject=("commerce.subscription", subscription.pk),
                data={"by": "customer" if actor is None else "staff", **changes})
    record_audit(workspace=subscription.workspace, actor=actor or _customer(), action=f"subscription.{action}",
                 obj=subscription, changes=changes)


def _customer() -> Actor:
    from musubi.workspaces.services import SYSTEM

    return SYSTEM


def _require(actor: Actor | None) -> None:
    if actor is not None:
        actor.require(Action.OPERATE)


@transaction.atomic
def skip_next(*, workspace: Workspace, subscription_id: int, actor: Actor | None = None) -> Renewal:
    """Skip the next delivery: it moves one interval later (the deliveries still to come stay the same)."""
    _require(actor)
    subscription = _locked(workspace, subscription_id)
    renewal = _pending(subscription)
    later = rules.next_delivery(renewal.next_attempt_at, subscription.offer.interval)
    Renewal.objects.filter(pk=renewal.pk).update(next_attempt_at=later, due_at=later)
    _record(subscription, "skipped", actor, {"next": later.isoformat()})
    renewal.refresh_from_db()
    return renewal


@transaction.atomic
def change_date(*, workspace: Workspace, subscription_id: int, on: dt.date, actor: Actor | None = None) -> Renewal:
    """Move the next delivery to ``on`` (tomorrow at the earliest, within 90 days)."""
    _require(actor)
    subscription = _locked(workspace, subscription_id)
    renewal = _pending(subscription)
    today = clock.now().date()
    if not today < on <= today + dt.timedelta(days=90):
        message = _("Choose a date from tomorrow to 90 days from now.")
        raise InvalidInput(message, fields={"date": message})
    at = renewal.next_attempt_at.replace(year=on.year, month=on.month, day=on.day)
    Renewal.objects.filter(pk=renewal.pk).update(next_attempt_at=at, due_at=at)
    _record(subscription, "rescheduled", actor, {"next": at.isoformat()})
    renewal.refresh_from_db()
    return renewal


def _pending(subscription: Subscription) -> Renewal:
    if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAUSED):
        raise Conflict(_("This subscription has ended."), code="ended")
    renewal = Renewal.objects.filter(subscription=subscription, status=claims.WorkStatus.PENDING,
                                     outcome=RenewalOutcome.PENDING).order_by("cycle").first()
    if renewal is None:
        raise Conflict(_("No delivery is scheduled."), code="nothing_scheduled")
    return renewal


@transaction.atomic
def pause(*, workspace: Workspace, subscription_id: int, actor: Actor | None = None) -> Subscription:
    _require(actor)
    subscription = _locked(workspace, subscription_id)
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise Conflict(_("Only an active subscription can be paused."), code="not_active")
    subscription.status, subscription.paused_at = SubscriptionStatus.PAUSED, clock.now()
    subscription.save(update_fields=["status", "paused_at"])
    _record(subscription, "paused", actor, {})
    return subscription


@transaction.atomic
def resume(*, workspace: Workspace, subscription_id: int, actor: Actor | None = None) -> Subscription:
    """Resume deliveries; a delivery that fell due during the pause comes tomorrow rather than at once."""
    _require(actor)
    subscription = _locked(workspace, subscription_id)
    if subscription.status != SubscriptionStatus.PAUSED:
        raise Conflict(_("Only a paused subscription can be resumed."), code="not_paused")
    subscription.status, subscription.paused_at = SubscriptionStatus.ACTIVE, None
    subscription.save(update_fields=["status", "paused_at"])
    now = clock.now()
    tomorrow = now + dt.timedelta(days=1)
    Renewal.objects.filter(subscription=subscription, status=claims.WorkStatus.PENDING,
                           next_attempt_at__lt=now).update(next_attempt_at=tomorrow, due_at=tomorrow)
    _record(subscription, "resumed", actor, {})
    return subscription


@transaction.atomic
def cancel(*, workspace: Workspace, subscription_id: int, actor: Actor | None = None) -> Subscription:
    """Cancel: no more deliveries. Recorded with its time, as easy as ordering (one button on the page)."""
    _require(actor)
    subscription = _locked(workspace, subscription_id)
    if subscription.status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.COMPLETED):
        raise Conflict(_("This subscription has already ended."), code="ended")
    minimum = subscription.offer.min_deliveries
    early = rules.cancel_refused(deliveries=subscription.deliveries, min_deliveries=minimum)
    if early and actor is None:  # the customer agreed to the minimum; staff may still end it (recorded below)
        when = cancellable_from(subscription)
        raise Conflict(_(
            "This subscription requires at least %(n)s deliveries and %(made)s have been made so far. You can "
            "cancel from around %(date)s, once the %(n)sth delivery is made.") % {
                "n": minimum, "made": subscription.deliveries,
                "date": formats.date_format(when, "DATE_FORMAT") if when else "-"}, code="minimum_deliveries")
    subscription.status, subscription.cancelled_at = SubscriptionStatus.CANCELLED, clock.now()
    subscription.save(update_fields=["status", "cancelled_at"])
    from musubi.commerce import order_lifecycle

    pending = Renewal.objects.filter(subscription=subscription, status=claims.WorkStatus.PENDING)
    # A renewal already ordered but not yet charged is not charged after the buyer cancelled: its order goes too.
    uncharged = Order.objects.filter(pk__in=pending.filter(outcome=RenewalOutcome.ORDERED).values("order_id"),
                                     status=OrderStatus.AWAITING_PAYMENT, payment_method=PaymentMethod.CARD)
    for order in uncharged:
        order.status = OrderStatus.CANCELLED
        order.save(update_fields=["status"])
        order_lifecycle.add_to_timeline(order, "cancelled", _("The subscription was cancelled before this renewal was "
                                                              "charged"))
    pending.update(status=claims.WorkStatus.DONE, finished_at=subscription.cancelled_at, last_error="cancelled")
    changes: dict[str, Any] = {"at": subscription.cancelled_at.isoformat()}
    if early:
        changes.update(before_minimum=True, deliveries=subscription.deliveries, min_deliveries=minimum)
    _record(subscription, "cancelled", actor, changes)
    notices.subscription_cancelled(subscription)
    events.publish(SubscriptionCancelled(workspace_id=subscription.workspace_id, subscription_id=subscription.pk,
                                         contact_id=subscription.contact_id, by_customer=actor is None))
    return subscription


def cancellable_from(subscription: Subscription) -> dt.datetime | None:
    """When the customer may cancel a subscription with a minimum number of deliveries: the date of its last
    minimum delivery, counted from the next delivery as scheduled (skips and moved dates included); None
    when they may cancel now."""
    minimum = subscription.offer.min_deliveries
    if not rules.cancel_refused(deliveries=subscription.deliveries, min_deliveries=minimum):
        return None
    renewal = next_renewal(subscription)
    interval = subscription.offer.interval
    if renewal is not None:
        return rules.next_delivery(renewal.next_attempt_at, interval, steps=(minimum or 0) - renewal.cycle) \
            if (minimum or 0) > renewal.cycle else renewal.next_attempt_at
    return rules.cancellable_from(subscription.started_at, interval, minimum)


def from_token(token: str) -> Subscription:
    """The subscription a customer's signed link names; NotFound for a bad or foreign link."""
    from django.core import signing

    from musubi.kernel import tokens

    try:
        value = tokens.unsign(token, purpose=notices.SUBSCRIPTION_LINK)
    except signing.BadSignature as exc:
        raise NotFound(_("This link is not valid.")) from exc
    found = Subscription.objects.select_related("offer", "workspace", "contact").filter(
        pk=value.get("s"), workspace_id=value.get("w")).first()
    if found is None:
        raise NotFound(_("This link is not valid."))
    return found

