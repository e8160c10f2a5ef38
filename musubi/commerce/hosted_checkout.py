"""Orders paid on Stripe Checkout's hosted page — a card at checkout, or a konbini payment slip — and how they
settle.

The buyer confirms on our confirmation screen, the order is written, and they are sent to a Checkout Session
for the order's exact amount. Stripe sends them back to the order's page and, separately and in any order,
sends its ``checkout.session.*`` events. Both lead here to one rule, applied to the session as Stripe
describes it at that moment: paid → the order is paid (the saved card kept for a subscription's renewals);
a konbini slip issued → the order waits for the store payment, with the slip's deadline and numbers; the
slip unpaid at its deadline or the session expired → the order expires. Whatever arrives second changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.commerce import checkout, notices, order_lifecycle, payment_setup, stripe_events
from musubi.commerce.choices import OrderStatus, PaymentMethod
from musubi.commerce.models import CustomerMail, Order, OrderEvent, PaymentDeadline
from musubi.commerce.ports import Outcome
from musubi.integrations import stripe_payments
from musubi.integrations.stripe_payments import CheckoutState
from musubi.kernel import clock
from musubi.kernel.errors import Conflict
from musubi.workspaces.models import Workspace

logger = logging.getLogger("musubi.commerce")

PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
ENDING_EVENTS = ("checkout.session.async_payment_failed", "checkout.session.expired")
# A slip Stripe says is unpaid at its deadline ends with an event; should that event never come, the order
# expires this long after the deadline anyway.
SLIP_GRACE = dt.timedelta(days=1)
STORE_NAMES = {"familymart": "ファミリーマート", "lawson": "ローソン", "ministop": "ミニストップ",
               "seicomart": "セイコーマート"}


def needs_state(kind: str) -> bool:
    """Whether an event's session must be read from Stripe before it is applied (one that may have paid)."""
    return kind in PAID_EVENTS


def apply_event(*, workspace: Workspace, event_id: str, kind: str, session_id: str, order_number: str,
                state: CheckoutState | None) -> bool:
    """Apply a verified ``checkout.session.*`` event once; returns whether it was new."""
    with transaction.atomic():
        if not stripe_events.record_webhook(workspace=workspace, event_id=event_id, kind=kind):
            return False
        orders = Order.objects.for_workspace(workspace).select_for_update()
        order = orders.filter(stripe_checkout_session=session_id).first() if session_id else None
        if order is None and order_number:  # the connection broke before the session's id was recorded
            order = orders.filter(number=order_number, stripe_checkout_session="").first()
        if order is None:
            logger.info("stripe event %s (%s) names no order of workspace %s", event_id, kind, workspace.pk)
            return True
        if kind in ENDING_EVENTS and not (state is not None and state.paid):
            why = _("The convenience store payment was not made in time") if (
                kind == "checkout.session.async_payment_failed") else _("Stripe's payment page expired unused")
            order_lifecycle.expire_order(order, note=why)
        elif state is not None:
            _settle(order, state)
    return True


def finish_checkout(order: Order) -> Order:
    """The buyer is back from Stripe's page: ask Stripe once how the session stands, so a slow webhook does not
    keep them waiting. Stripe unreachable is not an error here: the event will settle the order."""
    import stripe

    if order.status != OrderStatus.AWAITING_PAYMENT or not order.stripe_checkout_session:
        return order
    try:
        state = stripe_payments.checkout_state(secret_key=_key(order), session_id=order.stripe_checkout_session)
    except stripe.StripeError as exc:
        logger.warning("checkout session %s could not be read: %s", order.stripe_checkout_session, exc)
        return order
    with transaction.atomic():
        _settle(Order.objects.select_for_update().get(pk=order.pk), state)
    order.refresh_from_db()
    return order


def checkout_again(order: Order) -> str:
    """The buyer turned back on Stripe's page (or it expired) and wants to pay the order: the address of the
    same session while it is open, else of a new one. Raises Conflict for an order with nothing to pay."""
    import stripe

    if order.status != OrderStatus.AWAITING_PAYMENT or order.payment_method not in (PaymentMethod.CARD,
                                                                                    PaymentMethod.KONBINI):
        raise Conflict(_("This order has nothing to pay."), code="nothing_to_pay")
    if order.payment_instructions.get("voucher_url"):  # a slip is issued: the buyer pays that one
        return str(order.payment_instructions["voucher_url"])
    if order.stripe_checkout_session:
        try:
            state = stripe_payments.checkout_state(secret_key=_key(order), session_id=order.stripe_checkout_session)
        except stripe.StripeError:
            state = None
        if state is not None and state.status == "open":
            return state.url
    tries = OrderEvent.objects.filter(order=order, kind="checkout").count()
    outcome = checkout.open_hosted_page(order, idempotency_key=f"musubi-order-{order.pk}-checkout-{tries}")
    if outcome.state != "needs_buyer":
        raise Conflict(_("Stripe's payment page could not be opened. Please try again in a few minutes."),
                       code="provider_error")
    order_lifecycle.apply_outcome(order=order, outcome=outcome)
    return outcome.redirect_url


def expire_at_deadline(order: Order) -> str:
    """The order's deadline passed while it was on Stripe's page: close the session so it can no longer be
    paid, unless Stripe says it was paid after all; then expire the order."""
    import stripe

    state = None
    if order.stripe_checkout_session:
        try:
            state = stripe_payments.checkout_state(secret_key=_key(order), session_id=order.stripe_checkout_session)
            if state.status == "open":
                stripe_payments.expire_checkout(secret_key=_key(order), session_id=state.session_id)
        except stripe.StripeError as exc:  # expire anyway: money that did arrive revives it by its event
            logger.warning("checkout session %s could not be read at its deadline: %s",
                           order.stripe_checkout_session, exc)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if state is not None and (state.paid or state.awaiting_store_payment):
            _settle(locked, state)
            if state.paid or not _past_slip_deadline(locked):
                return "settled"
        return "expired" if order_lifecycle.expire_order(locked) else "settled"


def _settle(order: Order, state: CheckoutState) -> None:
    """Record where the order's Checkout Session stands (``order`` locked)."""
    if state.intent_id and order.stripe_payment_intent != state.intent_id:
        order.stripe_payment_intent = state.intent_id
        order.save(update_fields=["stripe_payment_intent"])
    if state.paid:
        card = Outcome(state="paid", reference=state.intent_id, customer=state.customer,
                       saved_card=state.payment_method) if order.payment_method == PaymentMethod.CARD else None
        note = _("Paid at a convenience store") if order.payment_method == PaymentMethod.KONBINI else _(
            "Card payment succeeded")
        at_checkout = order.subscription_id is None  # not a renewal; a first order's subscription starts now
        if order_lifecycle.mark_paid(order=order, note=note, card=card, provider_says_paid=True):
            _tell_buyer_once(order)
        elif card is not None and card.saved_card and order.status == OrderStatus.PAID:
            # Paid first by Stripe's payment_intent.succeeded, which does not name the saved card: the
            # session does, for the subscription's renewals and for the upsell charged to it. The buyer's
            # mail was not written on that path either.
            _tell_buyer_once(order)
            at_checkout = (order.cycle or 1) == 1
            if order.subscription_id:
                from musubi.commerce import subscriptions

                subscriptions.remember_card(order.subscription_id, customer=card.customer, card=card.saved_card)
        else:
            return
        if at_checkout:
            from musubi.commerce import upsells  # it builds on the checkout, as this module does

            upsells.offer_after(order, card=card)
        return
    if state.status == "expired" and order.status == OrderStatus.AWAITING_PAYMENT:
        order_lifecycle.expire_order(order, note=_("Stripe's payment page expired unused"))
        return
    if state.awaiting_store_payment and state.voucher and order.status == OrderStatus.AWAITING_PAYMENT:
        instructions = slip_instructions(state.voucher)
        if instructions != order.payment_instructions:
            order.payment_instructions = instructions
            deadline = dt.datetime.fromisoformat(instructions["expires_at"])
            order.pay_by = deadline
            order.save(update_fields=["payment_instructions", "pay_by"])
            order_lifecycle.add_to_timeline(order, "slip_issued", _("Convenience store payment slip issued"))
            at = deadline + SLIP_GRACE
            PaymentDeadline.objects.update_or_create(
                workspace_id=order.workspace_id, order=order, kind=PaymentDeadline.EXPIRE,
                defaults={"due_at": at, "next_attempt_at": at})
            _tell_buyer_once(order)


def slip_instructions(voucher: dict[str, Any]) -> dict[str, Any]:
    """What a konbini slip says, kept on the order for its page: where to see it, until when, at which store
    with which numbers."""
    expires = dt.datetime.fromtimestamp(int(voucher.get("expires_at") or 0), tz=dt.UTC)
    stores = [{"name": STORE_NAMES.get(code, code), "confirmation_number": str(details.get("confirmation_number", "")),
               "payment_code": str(details.get("payment_code", ""))}
              for code, details in sorted((voucher.get("stores") or {}).items()) if isinstance(details, dict)]
    return {"voucher_url": str(voucher.get("hosted_voucher_url") or ""), "expires_at": expires.isoformat(),
            "stores": stores}


def _past_slip_deadline(order: Order) -> bool:
    return order.pay_by is None or order.pay_by + SLIP_GRACE <= clock.now()


def _tell_buyer_once(order: Order) -> None:
    """The order's mail (thanks, or the slip's deadline) once the hosted payment settled it."""
    if not CustomerMail.objects.filter(order=order, kind="order_placed").exists():
        order.refresh_from_db()
        notices.order_placed(order)


def _key(order: Order) -> str:
    return payment_setup.payment_settings(order.workspace).stripe_secret_key
