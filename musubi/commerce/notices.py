"""Mails to buyers, written as ``CustomerMail`` rows in the transaction of the fact they tell of and sent by
the ``commerce.mail`` queue. Links in them are signed and need no password."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import override

from musubi.commerce.models import CustomerMail, OfferFile, Order, PaymentSettings, Subscription
from musubi.kernel import clock, tokens

ORDER_LINK = "order"
SUBSCRIPTION_LINK = "subscription"


def order_token(order: Order) -> str:
    return tokens.sign({"o": order.pk, "w": order.workspace_id}, purpose=ORDER_LINK)


def subscription_token(subscription: Subscription) -> str:
    return tokens.sign({"s": subscription.pk, "w": subscription.workspace_id}, purpose=SUBSCRIPTION_LINK)


def order_url(order: Order) -> str:
    return settings.MUSUBI_BASE_URL + reverse("order_status", args=[order_token(order)])


def subscription_url(subscription: Subscription) -> str:
    return settings.MUSUBI_BASE_URL + reverse("subscription_page", args=[subscription_token(subscription)])


def _render(template: str, context: dict[str, Any]) -> tuple[str, str]:
    with override("ja"):
        subject = render_to_string(f"commerce/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"commerce/email/{template}_body.txt", context)
    return subject[:300], body


def _queue(kind: str, *, to: str, workspace_id: int, template: str, context: dict[str, Any],
           order: Order | None = None, subscription: Subscription | None = None) -> CustomerMail:
    subject, body = _render(template, context)
    now = clock.now()
    return CustomerMail.objects.create(workspace_id=workspace_id, kind=kind, to=to, subject=subject, body=body,
                                       order=order, subscription=subscription, due_at=now, next_attempt_at=now)


def written(mail: CustomerMail) -> tuple[str, str]:
    """The mail's subject and body: as written when it was queued or, for an order's mail that a bulk run
    queued without its text (a renewal's invoice), rendered now from the order and kept on the row, so the
    record shows what was sent."""
    if mail.body:
        return mail.subject, mail.body
    if mail.kind != "order_placed" or mail.order_id is None:
        raise ValueError(f"mail {mail.pk} ({mail.kind}) has no text and cannot be written from its order")
    order = Order.objects.select_related("workspace").get(pk=mail.order_id)
    subject, body = _render("order_placed", _context(order))
    CustomerMail.objects.filter(pk=mail.pk).update(subject=subject, body=body)
    return subject, body


def _context(order: Order) -> dict[str, Any]:
    bank = PaymentSettings.objects.filter(workspace_id=order.workspace_id).values_list("bank_account",
                                                                                        flat=True).first()
    return {"order": order, "shop": order.workspace, "link": order_url(order), "bank_account": bank or "",
            "lines": list(order.lines.all())}


def order_placed(order: Order) -> CustomerMail:
    return _queue("order_placed", to=order.email, workspace_id=order.workspace_id, template="order_placed",
                  context=_context(order), order=order)


def payment_reminder(order: Order) -> CustomerMail:
    return _queue("payment_reminder", to=order.email, workspace_id=order.workspace_id, template="reminder",
                  context=_context(order), order=order)


def subscription_started(subscription: Subscription, order: Order) -> CustomerMail:
    context = {**_context(order), "subscription": subscription, "manage": subscription_url(subscription)}
    return _queue("subscription_started", to=order.email, workspace_id=order.workspace_id,
                  template="subscription_started", context=context, order=order, subscription=subscription)


def subscription_cancelled(subscription: Subscription) -> CustomerMail | None:
    """The buyer's confirmation that the subscription ended, with the moment it did (none without an address)."""
    first = Order.objects.filter(subscription=subscription).exclude(email="").order_by("cycle", "pk").first()
    if first is None:
        return None
    context = {**_context(first), "subscription": subscription}
    return _queue("subscription_cancelled", to=first.email, workspace_id=subscription.workspace_id,
                  template="subscription_cancelled", context=context, order=first, subscription=subscription)


def authentication_needed(subscription: Subscription, order: Order) -> CustomerMail:
    """An off-session renewal the bank wants the cardholder to authenticate (3-D Secure): a link to do it."""
    context = {**_context(order), "subscription": subscription, "manage": subscription_url(subscription),
               "pay": settings.MUSUBI_BASE_URL + reverse("order_pay", args=[order_token(order)])}
    return _queue("authentication_needed", to=order.email, workspace_id=order.workspace_id,
                  template="authentication_needed", context=context, order=order, subscription=subscription)


def payment_failed(subscription: Subscription, order: Order, *, paused: bool) -> CustomerMail:
    context = {**_context(order), "subscription": subscription, "manage": subscription_url(subscription),
               "paused": paused}
    return _queue("payment_failed", to=order.email, workspace_id=order.workspace_id, template="payment_failed",
                  context=context, order=order, subscription=subscription)


def access_granted(order: Order) -> CustomerMail:
    """The member page of a digital product or a course, for its buyer, once paid, with the names of the files
    to download there (the links themselves are made on the page, since each works for a limited time)."""
    from musubi.commerce.access import member_url

    files = OfferFile.objects.filter(workspace_id=order.workspace_id, offer_id=order.offer_id)
    context = {**_context(order), "member": member_url(order), "files": list(files)}
    return _queue("access_granted", to=order.email, workspace_id=order.workspace_id, template="access_granted",
                  context=context, order=order)


def shipped(order: Order) -> CustomerMail:
    """The parcel left with the carrier: its tracking number."""
    return _queue("shipped", to=order.email, workspace_id=order.workspace_id, template="shipped",
                  context=_context(order), order=order)
