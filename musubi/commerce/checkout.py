"""The checkout: what is for sale and how, the confirmation screen built from the buyer's entries, and the
order placed exactly as confirmed before any money is collected."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from musubi.catalog.choices import OfferStatus, ProductKind
from musubi.catalog.models import Offer
from musubi.commerce import confirmation, discounts, notices, order_lifecycle, payment_setup, rules
from musubi.commerce.choices import (
    KONBINI_MAX_AMOUNT,
    KONBINI_MIN_AMOUNT,
    PaymentMethod,
)
from musubi.commerce.models import (
    Order,
    OrderLine,
    PaymentSettings,
)
from musubi.commerce.payments import method_for
from musubi.commerce.ports import Collection, Outcome
from musubi.contacts import services as contacts
from musubi.kernel import clock, tokens
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.kernel.money import Money
from musubi.kernel.tax import tax_rate_in_force
from musubi.workspaces.queries import legal_profile, missing_legal_fields

JAPAN = ZoneInfo("Asia/Tokyo")


def offer_for_sale(offer_id: int) -> Offer:
    """A published offer of a workspace whose legal particulars are complete; NotFound otherwise."""
    offer = Offer.objects.select_related("product", "workspace").filter(pk=offer_id,
                                                                        status=OfferStatus.PUBLISHED).first()
    if offer is None or missing_legal_fields(offer.workspace):
        raise NotFound(_("This offer is not on sale."))
    return offer


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
    methods = payment_setup.payment_settings(offer.workspace).enabled_methods()
    if offer.product.kind != ProductKind.PHYSICAL:
        methods = [m for m in methods if m != PaymentMethod.CASH_ON_DELIVERY]
    if offer.is_recurring:  # a konbini slip is paid once, by hand: it cannot pay the renewals
        methods = [m for m in methods if m != PaymentMethod.KONBINI]
    return methods


def max_quantity(offer: Offer) -> int:
    """How many the buyer may order at once: a digital product is files delivered to the buyer, and a second
    copy of the same files is worth nothing, so it is sold one at a time; anything else up to the limit of
    the quantity menu."""
    return 1 if offer.product.kind == ProductKind.DIGITAL else rules.MAX_QUANTITY


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
    limit = max_quantity(offer)
    if isinstance(entry.quantity, bool) or not isinstance(entry.quantity, int) or not 1 <= entry.quantity <= limit:
        fields["quantity"] = (_("Choose a quantity from 1 to %(n)s.") % {"n": limit} if limit > 1 else
                              _("This is a download, sold one at a time: the quantity can only be 1."))
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
    settings_ = payment_setup.payment_settings(offer.workspace)
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
        order_lifecycle.mark_paid(order=order, note=_("Free order"))
        notices.order_placed(order)
        return Placed(order=order, outcome=Outcome(state="paid"))
    if order.payment_method in (PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH_ON_DELIVERY):
        from musubi.commerce import upsells  # it builds on this module

        order_lifecycle.after_commitment(order)
        notices.order_placed(order)
        upsells.offer_after(order)
        return Placed(order=order, outcome=Outcome(state="waiting"))
    # A card or a konbini slip: the buyer goes to Stripe's hosted page and comes back to the order's page.
    outcome = open_hosted_page(order, idempotency_key=f"musubi-order-{order.pk}")
    order_lifecycle.apply_outcome(order=order, outcome=outcome)
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
        pay_by=payment_deadline(entry.payment_method, payment_setup.payment_settings(workspace), now))
    _write_lines(order, quote)
    if prepared.discount is not None:
        discounts.claim(order=order, discount=prepared.discount, amount=quote.discount)
    method = PaymentMethod(order.payment_method).label
    order_lifecycle.add_to_timeline(order, "placed", _("Order placed (%(method)s)") % {"method": method})
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


def open_hosted_page(order: Order, *, idempotency_key: str) -> Outcome:
    settings_ = payment_setup.payment_settings(order.workspace)
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
