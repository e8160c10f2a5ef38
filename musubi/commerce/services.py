"""Use cases of selling: the checkout (prepare the confirmation screen, place the order, collect the money)
and what happens to an order afterwards (paid, shipped, refunded, expired). Subscriptions are in
``subscriptions``; staff actions check the actor's role; every change writes the order's timeline."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from musubi.catalog.choices import OfferRole, OfferStatus, ProductKind
from musubi.catalog.models import Offer
from musubi.commerce import access, confirmation, discounts, notices, rules
from musubi.commerce.choices import (
    KONBINI_MAX_AMOUNT,
    KONBINI_MAX_DAYS,
    KONBINI_MIN_AMOUNT,
    OrderStatus,
    PaymentMethod,
)
from musubi.commerce.events import OrderPaid, OrderRefunded
from musubi.commerce.models import (
    Order,
    OrderEvent,
    OrderLine,
    PaymentDeadline,
    PaymentSettings,
    PaymentWebhook,
    Refund,
)
from musubi.commerce.payments import method_for
from musubi.commerce.ports import Collection, Outcome
from musubi.contacts import services as contacts
from musubi.contacts.choices import Stage
from musubi.integrations import stripe_payments
from musubi.kernel import clock, events, tokens
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.kernel.money import Money
from musubi.kernel.tax import tax_rate_in_force
from musubi.workspaces.models import Workspace
from musubi.workspaces.queries import legal_profile, missing_legal_fields
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

logger = logging.getLogger("musubi.commerce")

JAPAN = ZoneInfo("Asia/Tokyo")
REMIND_BEFORE = dt.timedelta(days=2)
AUTHENTICATION_WINDOW = dt.timedelta(days=1)


# --- What is for sale -----------------------------------------------------------------------------------------

def offer_for_sale(offer_id: int) -> Offer:
    """A published offer of a workspace whose legal particulars are complete; NotFound otherwise."""
    offer = Offer.objects.select_related("product", "workspace").filter(pk=offer_id,
                                                                        status=OfferStatus.PUBLISHED).first()
    if offer is None or missing_legal_fields(offer.workspace):
        raise NotFound(_("This offer is not on sale."))
    return offer


def payment_settings(workspace: Workspace) -> PaymentSettings:
    return PaymentSettings.objects.for_workspace(workspace).first() or PaymentSettings(workspace=workspace)


def terms_of(offer: Offer) -> rules.Terms:
    rate = tax_rate_in_force(category=offer.product.tax_category, on=clock.now().date())
    return rules.Terms(offer_id=offer.pk, offer_name=offer.name, product_name=offer.product.name,
                       physical=offer.product.kind == ProductKind.PHYSICAL, price=offer.price,
                       first_price=offer.first_price if offer.is_recurring else None, recurring=offer.is_recurring,
                       interval=offer.interval, cycles=offer.cycles, tax_rate=rate,
                       currency=offer.workspace.currency,
                       min_deliveries=offer.min_deliveries if offer.is_recurring else None)


def methods_for(offer: Offer) -> list[str]:
    """The payment methods the offer's checkout shows: none to choose for a free offer; no cash on delivery
    for goods that are not shipped."""
    if offer.entry_price == 0 and offer.price == 0:
        return [PaymentMethod.FREE]
    methods = payment_settings(offer.workspace).enabled_methods()
    if offer.product.kind != ProductKind.PHYSICAL:
        methods = [m for m in methods if m != PaymentMethod.CASH_ON_DELIVERY]
    if offer.is_recurring:  # a konbini slip is paid once, by hand: it cannot pay the renewals
        methods = [m for m in methods if m != PaymentMethod.KONBINI]
    return methods


# --- The checkout ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """What the buyer typed on the checkout page."""

    quantity: int
    name: str
    email: str
    payment_method: str
    phone: str = ""
    postal_code: str = ""
    address: str = ""
    consented: bool = False
    ip_address: str = ""
    user_agent: str = ""
    discount_code: str = ""

    def shipping(self) -> dict[str, str]:
        return {"name": self.name, "postal_code": self.postal_code, "address": self.address, "phone": self.phone}


@dataclass(frozen=True)
class Prepared:
    offer: Offer
    entry: Entry
    quote: rules.Quote
    screen: dict[str, Any]
    discount: rules.Discount | None = None


def prepare(*, offer: Offer, entry: Entry, legal_url: str, saved_card: bool = False) -> Prepared:
    """Check the entries as a whole (every wrong one named) and build the confirmation screen (``saved_card``:
    a card order charged to a card already saved, with no payment page to follow)."""
    fields: dict[str, str] = {}
    if isinstance(entry.quantity, bool) or not isinstance(entry.quantity, int) or not (
            1 <= entry.quantity <= rules.MAX_QUANTITY):
        fields["quantity"] = _("Choose a quantity from 1 to %(n)s.") % {"n": rules.MAX_QUANTITY}
    if not entry.name.strip() or len(entry.name) > 200:
        fields["name"] = _("Enter your name.")
    try:
        addresses = contacts.normalise(email=entry.email, phone=entry.phone or None)
    except InvalidInput as exc:
        fields.update(exc.fields)
        addresses = None
    if addresses is not None and not addresses.email:
        fields["email"] = _("Enter your email address.")
    physical = offer.product.kind == ProductKind.PHYSICAL
    if physical:
        if not entry.postal_code.strip():
            fields["postal_code"] = _("Enter the postal code.")
        if not entry.address.strip():
            fields["address"] = _("Enter the delivery address.")
        if not entry.phone.strip():
            fields["phone"] = _("Enter a phone number for the delivery.")
    methods = methods_for(offer)
    if entry.payment_method == PaymentMethod.KONBINI and offer.is_recurring:
        fields["payment_method"] = _("Convenience store payment is for one-time orders only; choose another "
                                     "way to pay for a subscription.")
    elif entry.payment_method not in methods:
        fields["payment_method"] = _("Choose how to pay.")
    discount = None
    if entry.discount_code.strip() and addresses is not None and addresses.email:
        try:
            discount = discounts.applicable(offer=offer, code=entry.discount_code, email=addresses.email)
        except InvalidInput as exc:
            fields.update(exc.fields)
    if fields:
        raise InvalidInput(_("Some entries need attention."), fields=fields)
    settings_ = payment_settings(offer.workspace)
    terms = terms_of(offer)
    fee = settings_.cod_fee if entry.payment_method == PaymentMethod.CASH_ON_DELIVERY else 0
    quote = rules.quote(terms, quantity=entry.quantity, shipping_fee=settings_.shipping_fee, payment_fee=fee,
                        fee_label=_("Cash on delivery fee"), shipping_label=_("Shipping"), discount=discount,
                        discount_label=discount_label(discount))
    if discount is not None and quote.total == 0 and entry.payment_method != PaymentMethod.FREE:
        message = _("The code %(code)s would make this order free; it cannot be used for it.") % {
            "code": discount.code}
        raise InvalidInput(_("Some entries need attention."), fields={"discount_code": message})
    if entry.payment_method == PaymentMethod.KONBINI and not (
            KONBINI_MIN_AMOUNT <= quote.total <= KONBINI_MAX_AMOUNT):
        message = _("Convenience store payment takes totals from %(low)s to %(high)s; this order is %(total)s. "
                    "Please choose another way to pay.") % {
            "low": confirmation.yen(KONBINI_MIN_AMOUNT), "high": confirmation.yen(KONBINI_MAX_AMOUNT),
            "total": confirmation.yen(quote.total)}
        raise InvalidInput(message, fields={"payment_method": message})
    now = clock.now()
    pay_by = payment_deadline(entry.payment_method, settings_, now)
    screen = confirmation.build(
        terms=terms, quote=quote, legal=legal_profile(offer.workspace).values(),
        payment_method=entry.payment_method, payment_label=str(PaymentMethod(entry.payment_method).label),
        pay_by=pay_by, now=now, shipping=entry.shipping() if physical else {}, legal_url=legal_url,
        discount=discount, saved_card=saved_card)
    return Prepared(offer=offer, entry=entry, quote=quote, screen=screen, discount=discount)


def discount_label(discount: rules.Discount | None) -> str:
    return _("Discount (code %(code)s)") % {"code": discount.code} if discount else ""


def payment_deadline(method: str, settings_: PaymentSettings, now: dt.datetime) -> dt.datetime | None:
    """By when a transfer or a konbini slip must be paid (the slip's exact deadline comes from Stripe)."""
    if method == PaymentMethod.BANK_TRANSFER:
        return now + dt.timedelta(days=settings_.bank_transfer_days)
    if method == PaymentMethod.KONBINI:
        # As Stripe sets a slip's deadline: 23:59 Japan time, ``konbini_days`` days after today there.
        last_day = now.astimezone(JAPAN).date() + dt.timedelta(days=settings_.konbini_days)
        return dt.datetime.combine(last_day, dt.time(23, 59), tzinfo=JAPAN)
    return None


def same_screen(seen: dict[str, Any], now_shown: dict[str, Any]) -> bool:
    """Whether the screen the buyer confirmed still describes the order (dates move with the clock; amounts,
    quantity and terms may not)."""
    keys = ("offer_id", "quantity", "total", "currency", "payment_method", "recurring", "discount_code")
    return all(seen.get(k) == now_shown.get(k) for k in keys) and len(seen.get("rows", [])) == len(
        now_shown.get("rows", []))


@dataclass
class Placed:
    order: Order
    outcome: Outcome
    problems: list[str] = field(default_factory=list)


def place_order(*, prepared: Prepared, seen: dict[str, Any]) -> Placed:
    """Write the order the buyer confirmed, with exactly the screen they saw, then collect the money.

    The order is committed before a provider is called, so a crash between the two leaves an order to
    reconcile rather than a charge without one; the provider call carries the order's idempotency key."""
    if not same_screen(seen, prepared.screen):
        raise Conflict(_("The offer changed while you were ordering. Please check the new details and confirm "
                         "again."), code="offer_changed")
    order = write_order(prepared, seen)

    if order.payment_method == PaymentMethod.FREE:
        mark_paid(order=order, note=_("Free order"))
        notices.order_placed(order)
        return Placed(order=order, outcome=Outcome(state="paid"))
    if order.payment_method in (PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH_ON_DELIVERY):
        from musubi.commerce import upsells  # it builds on this module

        after_commitment(order)
        notices.order_placed(order)
        upsells.offer_after(order)
        return Placed(order=order, outcome=Outcome(state="waiting"))
    # A card or a konbini slip: the buyer goes to Stripe's hosted page and comes back to the order's page.
    outcome = open_hosted_page(order, idempotency_key=f"musubi-order-{order.pk}")
    apply_outcome(order=order, outcome=outcome)
    order.refresh_from_db()
    if outcome.paid:
        notices.order_placed(order)
    return Placed(order=order, outcome=outcome)


@transaction.atomic
def write_order(prepared: Prepared, seen: dict[str, Any]) -> Order:
    """The order, its lines, the contact (and their consent) and the discount code's use, in one transaction;
    nothing is collected here."""
    offer, entry, quote = prepared.offer, prepared.entry, prepared.quote
    workspace = offer.workspace
    contact, _created = contacts.find_or_create_contact(
        workspace=workspace, addresses=contacts.normalise(email=entry.email, phone=entry.phone or None),
        name=entry.name)
    if entry.consented:
        contacts.record_consent(workspace=workspace, contact=contact, channel="email", address=contact_email(entry),
                                ip_address=entry.ip_address, user_agent=entry.user_agent,
                                wording=_("I would like news and offers from this shop by email."))
    now = clock.now()
    physical = offer.product.kind == ProductKind.PHYSICAL
    order = Order.objects.create(
        workspace=workspace, number=new_number(now), offer=offer, contact=contact,
        payment_method=entry.payment_method, currency=workspace.currency, subtotal=quote.subtotal,
        shipping_fee=quote.shipping_fee, payment_fee=quote.payment_fee, total=quote.total,
        email=contact_email(entry), name=entry.name.strip(), shipping=entry.shipping() if physical else {},
        confirmation=seen, created_at=now,
        pay_by=payment_deadline(entry.payment_method, payment_settings(workspace), now))
    _write_lines(order, quote)
    if prepared.discount is not None:
        discounts.claim(order=order, discount=prepared.discount, amount=quote.discount)
    method = PaymentMethod(order.payment_method).label
    add_to_timeline(order, "placed", _("Order placed (%(method)s)") % {"method": method})
    record_fact(workspace_id=workspace.pk, kind="order.placed", contact_id=contact.pk,
                subject=("commerce.order", order.pk), amount=Money(order.total, order.currency),
                data={"offer": offer.pk, "role": offer.role})
    return order


def _write_lines(order: Order, quote: rules.Quote) -> None:
    OrderLine.objects.bulk_create([
        OrderLine(workspace_id=order.workspace_id, order=order, description=line.description,
                  quantity=line.quantity, unit_price=line.unit_price, amount=line.amount, tax_rate=line.tax_rate)
        for line in quote.lines])


def contact_email(entry: Entry) -> str:
    return contacts.normalise(email=entry.email).email or ""


def new_number(now: dt.datetime) -> str:
    """An order number that starts with the date the buyer sees (Japan's, not UTC's)."""
    return f"{timezone.localtime(now):%y%m%d}-{tokens.readable_code(6)}"


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



# --- Staff ----------------------------------------------------------------------------------------------------

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
        reference = method_for(order.payment_method, payment_settings(workspace)).refund(
            reference=order.stripe_payment_intent, amount=amount, idempotency_key=f"musubi-refund-{order.pk}-{done}")
    record = _record_refund(order, amount=amount, reason=reason, reference=reference)
    record_audit(workspace=workspace, actor=actor, action="order.refunded", obj=order, changes={"amount": amount})
    return record


def _record_refund(order: Order, *, amount: int, reason: str, reference: str) -> Refund:
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


# --- Deadlines of bank transfers ------------------------------------------------------------------------------

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


# --- Stripe's webhooks ----------------------------------------------------------------------------------------

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
            mark_paid(order=order, note=note, provider_says_paid=True)
        elif kind == "payment_intent.payment_failed":
            add_to_timeline(order, "payment_failed", _("Card payment failed"))
        elif kind == "charge.refunded" and amount > order.refunded:
            # Stripe reports the charge's whole refunded amount; record what we have not recorded yet
            # (a refund made in Stripe's dashboard, say).
            _record_refund(order, amount=min(amount, order.total) - order.refunded, reason="Stripe",
                           reference="")
        elif kind.startswith("charge.dispute."):
            what = kind.removeprefix("charge.dispute.")
            add_to_timeline(order, "disputed", _("Card dispute: %(kind)s") % {"kind": what})
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


def open_hosted_page(order: Order, *, idempotency_key: str) -> Outcome:
    settings_ = payment_settings(order.workspace)
    link = notices.order_url(order)
    return method_for(order.payment_method, settings_).collect(Collection(
        order_number=order.number, amount=order.total, currency=order.currency, email=order.email,
        description=order.offer.name, idempotency_key=idempotency_key,
        return_url=f"{link}?checkout=returned", cancel_url=f"{link}?checkout=cancelled",
        # A subscription's renewals and a one-click upsell are paid with the card saved now. Only a card can be
        # saved: Stripe refuses a konbini payment asked to be kept for later.
        save_card=order.payment_method == PaymentMethod.CARD and (
            order.offer.is_recurring or order.offer.upsell_offer_id is not None),
        konbini_days=settings_.konbini_days))


def pay_with_saved_card(*, order: Order) -> Outcome:
    """The buyer is here to pay a renewal (or a one-click upsell) their bank wanted authenticated: charge the
    saved card on-session, which may send them through 3-D Secure."""

    card = saved_card_of(order)
    if card is None or order.status != OrderStatus.AWAITING_PAYMENT:
        raise Conflict(_("This order has nothing to pay."), code="nothing_to_pay")
    tries = OrderEvent.objects.filter(order=order, kind="authentication").count()
    outcome = method_for(PaymentMethod.CARD, payment_settings(order.workspace)).collect(Collection(
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
    from musubi.integrations import stripe_payments

    if order.status == OrderStatus.AWAITING_PAYMENT and order.stripe_payment_intent:
        charge = stripe_payments.retrieve(secret_key=payment_settings(order.workspace).stripe_secret_key,
                                          intent_id=order.stripe_payment_intent)
        apply_outcome(order=order, outcome=outcome_of(charge))
        order.refresh_from_db()
    return order


@transaction.atomic
def save_payment_settings(*, workspace: Workspace, actor: Actor, **values: Any) -> PaymentSettings:
    """Change how the workspace is paid. Empty secret fields keep the saved secret (they are never shown)."""
    actor.require(Action.MANAGE)
    current = PaymentSettings.objects.for_workspace(workspace).select_for_update().first() or PaymentSettings(
        workspace=workspace)
    fields: dict[str, str] = {}
    for name in ("cod_fee", "shipping_fee", "bank_transfer_days", "konbini_days"):
        if name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)
                               or values[name] < 0):
            fields[name] = _("Enter a whole number of 0 or more.")
    if "konbini_days" not in fields and not 1 <= values.get("konbini_days", current.konbini_days) <= KONBINI_MAX_DAYS:
        fields["konbini_days"] = _("Enter from 1 to %(n)s days.") % {"n": KONBINI_MAX_DAYS}
    if values.get("bank_transfer_enabled") and not (values.get("bank_account") or current.bank_account).strip():
        fields["bank_account"] = _("Enter the account a transfer goes to.")
    secret = values.get("stripe_secret_key") or ""
    if secret and not secret.startswith(("sk_", "rk_")):
        fields["stripe_secret_key"] = _("A Stripe secret key starts with sk_ (or rk_ for a restricted key).")
    if values.get("card_enabled") and not (secret or current.stripe_secret_key):
        fields["stripe_secret_key"] = _("Enter the Stripe secret key to take cards.")
    if values.get("konbini_enabled") and not (secret or current.stripe_secret_key):
        fields["stripe_secret_key"] = _("Enter the Stripe secret key to take convenience store payments.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    changed = []
    for name, value in values.items():
        if name in ("stripe_secret_key", "stripe_webhook_secret") and not value:
            continue
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed.append(name)
    if changed or current.pk is None:
        current.save()
        # The audit names what changed, never a secret's value.
        record_audit(workspace=workspace, actor=actor, action="payment_settings.saved", obj=current,
                     changes={"changed": sorted(changed)})
    return current
