"""Stripe's verified webhook events, each applied to its order once."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from musubi.commerce import order_lifecycle
from musubi.commerce.choices import (
    PaymentMethod,
)
from musubi.commerce.models import (
    Order,
    PaymentWebhook,
)
from musubi.integrations import stripe_payments
from musubi.kernel import clock
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace

logger = logging.getLogger("musubi.commerce")


def apply_stripe_event(*, workspace: Workspace, event_id: str, kind: str, intent_id: str, amount: int,
                       order_number: str = "", checkout_session: str = "",
                       checkout: stripe_payments.CheckoutState | None = None) -> bool:
    """Apply a verified Stripe event once; a second delivery (or one arriving after a later state) changes
    nothing. Returns whether it was new. A ``checkout.session.*`` event comes with the session as Stripe
    describes it now (``checkout``), read by the caller before this transaction."""
    if kind.startswith("checkout.session."):
        from musubi.commerce import hosted_checkout

        return hosted_checkout.apply_event(workspace=workspace, event_id=event_id, kind=kind,
                                           session_id=checkout_session, order_number=order_number, state=checkout)
    with transaction.atomic():
        if not record_webhook(workspace=workspace, event_id=event_id, kind=kind):
            return False
        orders = Order.objects.for_workspace(workspace).select_for_update()
        order = orders.filter(stripe_payment_intent=intent_id).first() if intent_id else None
        if order is None and order_number:  # the connection broke before the intent's id was recorded
            order = orders.filter(number=order_number, stripe_payment_intent="").first()
            if order is not None and intent_id:
                order.stripe_payment_intent = intent_id
                order.save(update_fields=["stripe_payment_intent"])
        if order is None:
            logger.info("stripe event %s (%s) names no order of workspace %s", event_id, kind, workspace.pk)
            return True
        if kind == "payment_intent.succeeded":
            note = _("Paid at a convenience store") if order.payment_method == PaymentMethod.KONBINI else _(
                "Card payment succeeded")
            order_lifecycle.mark_paid(order=order, note=note, provider_says_paid=True)
        elif kind == "payment_intent.payment_failed":
            order_lifecycle.add_to_timeline(order, "payment_failed", _("Card payment failed"))
        elif kind == "charge.refunded" and amount > order.refunded:
            # Stripe reports the charge's whole refunded amount; record what we have not recorded yet
            # (a order_lifecycle.refund made in Stripe's dashboard, say).
            order_lifecycle.record_refund(order, amount=min(amount, order.total) - order.refunded, reason="Stripe",
                                          reference="")
        elif kind.startswith("charge.dispute."):
            what = kind.removeprefix("charge.dispute.")
            order_lifecycle.add_to_timeline(order, "disputed", _("Card dispute: %(kind)s") % {"kind": what})
            record_fact(workspace_id=workspace.pk, kind="order.disputed", contact_id=order.contact_id,
                        subject=("commerce.order", order.pk), dedupe_key=f"stripe-{event_id}")
    return True


def record_webhook(*, workspace: Workspace, event_id: str, kind: str) -> bool:
    """Note a provider's event as applied; False if it already was (call inside the transaction that applies
    it, so a failure leaves it to be delivered again)."""
    try:
        with transaction.atomic():
            PaymentWebhook.objects.create(workspace=workspace, provider="stripe", event_id=event_id, kind=kind,
                                          received_at=clock.now())
    except IntegrityError:
        return False
    return True
