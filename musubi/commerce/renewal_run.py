"""The renewal run: a claimed batch of due renewals becomes its orders in one transaction, set by set.

A hundred thousand subscriptions fall due on the first of the month, and each renewal writes an order, its
lines, its timeline entry, the next renewal, a fact, the event for outgoing webhooks and, for a bank transfer,
its deadline, its reminder and the invoice mail. Written one renewal at a time that is some thirty statements
each; here it is a fixed number of statements per batch: the subscriptions are locked together, prices are
worked out once per offer, quantity and payment method, and every kind of row is written in one bulk insert.

Exactly one order per cycle still holds the way it did one at a time: the subscriptions are locked
(``FOR UPDATE``) before anything is read, an order already made for a cycle is linked rather than made again,
and the renewal rows are recorded in the same transaction as the orders, so a worker killed at any point
leaves either all of a batch or none of it.

Card renewals are not charged here: their rows go back to the queue as ``ordered``, and the
``commerce.renewal_charges`` queue charges them one by one (it waits on the card network; this does not).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.catalog.models import Offer
from musubi.commerce import checkout, confirmation, order_lifecycle, payment_setup, rules
from musubi.commerce.choices import OrderStatus, PaymentMethod, RenewalOutcome, SubscriptionStatus
from musubi.commerce.events import SubscriptionRenewed
from musubi.commerce.models import (
    CustomerMail,
    Order,
    OrderEvent,
    OrderLine,
    PaymentDeadline,
    PaymentSettings,
    Renewal,
    Subscription,
)
from musubi.contacts.models import Contact
from musubi.kernel import bulk, claims, clock, events
from musubi.kernel.models import Fact

# A bank transfer's or cash-on-delivery renewal binds the buyer as soon as it is made, like such an order at
# checkout: the invoice mail goes out and, for a transfer, the reminder and the deadline are set.
_COMMITTED_AT_ONCE = (PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH_ON_DELIVERY)


def run(renewals: list[Renewal]) -> None:
    """Make this cycle's order for each renewal whose subscription is active, in one transaction, and record
    every renewal's outcome in it: done, back in the queue to be charged, or (a paused subscription) back as
    it was before it was claimed."""
    with transaction.atomic():
        _Run(renewals).write()


class _Subscription(NamedTuple):
    """What the run reads of a subscription, in ``values_list`` order."""

    id: int
    workspace_id: int
    offer_id: int
    contact_id: int
    status: str
    quantity: int
    payment_method: str
    shipping: dict[str, Any]
    discount: dict[str, Any]  # a discount code's terms for every delivery, or {}


class _Texts(NamedTuple):
    delivery: str
    nth_delivery: str
    total: str
    amount: str
    timeline: str


class _Run:
    def __init__(self, renewals: list[Renewal]) -> None:
        self.renewals = renewals
        self.now = clock.now()
        self.orders: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.timeline: list[dict[str, Any]] = []
        self.next_renewals: list[dict[str, Any]] = []
        self.deadlines: list[dict[str, Any]] = []
        self.mails: list[dict[str, Any]] = []
        self.facts: list[dict[str, Any]] = []
        self.published: list[events.Event] = []
        self.renewal_rows: list[tuple[Any, ...]] = []
        self.subscription_rows: list[tuple[Any, ...]] = []
        self._quotes: dict[tuple[Any, ...], rules.Quote] = {}
        self._settings: dict[int, PaymentSettings] = {}
        self._words: dict[tuple[int, int], _Texts] = {}
        self._names: dict[int, str] = {}

    def write(self) -> None:
        subscription_ids = [r.subscription_id for r in self.renewals]
        # Locked before anything is read: a second worker holding a renewal of the same subscription (after a
        # lease expired) waits here and then finds the order this run made. Read as plain values: building a
        # model instance (and its offer's, product's, workspace's) per subscription costs more than the writes.
        subscriptions = {row[0]: _Subscription(*row) for row in Subscription.objects.select_for_update().filter(
            pk__in=subscription_ids).values_list(*_Subscription._fields)}
        self.offers = Offer.objects.select_related("product", "workspace").in_bulk(
            {s.offer_id for s in subscriptions.values()})
        made = {(o.subscription_id, o.cycle): o for o in Order.objects.filter(
            subscription_id__in=subscription_ids, cycle__in={r.cycle for r in self.renewals})}
        first_orders = {row[0]: row[1:] for row in Order.objects.filter(
            subscription_id__in=subscription_ids, cycle=1).values_list("subscription_id", "email", "name", "number")}
        # A subscription without a first order (made by an import) is addressed by its contact's name.
        unnamed = [s.contact_id for s in subscriptions.values() if s.id not in first_orders]
        self._names = dict(Contact.objects.filter(pk__in=unnamed).values_list("pk", "name")) if unnamed else {}
        new_ids = iter(bulk.allocate_ids(Order, len(self.renewals)))
        numbers = iter(self._numbers(len(self.renewals), {s.workspace_id for s in subscriptions.values()}))
        for renewal in self.renewals:
            subscription = subscriptions[renewal.subscription_id]
            if subscription.status == SubscriptionStatus.PAUSED:  # paused after it was claimed: resume moves it
                self.renewal_rows.append((None, RenewalOutcome.PENDING, claims.WorkStatus.PENDING, "", None,
                                          renewal.next_attempt_at, None, "", renewal.pk))
                continue
            if subscription.status != SubscriptionStatus.ACTIVE:  # cancelled or completed while it was due
                self._finish(renewal, order_id=None, outcome=RenewalOutcome.PENDING, note="subscription ended")
                continue
            existing = made.get((subscription.id, renewal.cycle))
            if existing is not None:  # made by an earlier run whose renewal row was then given back
                self._after_order(renewal, existing.pk, existing.payment_method, existing.status)
                continue
            order = self._order(renewal, subscription, next(new_ids), next(numbers),
                                first_orders.get(subscription.id))
            self._advance(renewal, subscription)
            self._after_order(renewal, order["id"], order["payment_method"], order["status"])
        self._flush()

    # --- one renewal ----------------------------------------------------------------------------------------

    def _order(self, renewal: Renewal, subscription: _Subscription, order_id: int, number: str,
               first: tuple[str, str, str] | None) -> dict[str, Any]:
        quote = self._quote(subscription)
        settings = self._payment_settings(subscription)
        offer = self.offers[subscription.offer_id]
        email, name, first_number = first if first else ("", self._contact_name(subscription.contact_id), "")
        cycle = renewal.cycle
        texts = self._texts(cycle, quote.total)
        order = {
            "id": order_id, "workspace_id": subscription.workspace_id, "number": number,
            "offer_id": subscription.offer_id, "contact_id": subscription.contact_id,
            "subscription_id": subscription.id, "cycle": cycle, "status": OrderStatus.AWAITING_PAYMENT,
            "payment_method": subscription.payment_method, "currency": offer.workspace.currency,
            "subtotal": quote.subtotal, "shipping_fee": quote.shipping_fee, "payment_fee": quote.payment_fee,
            "total": quote.total, "email": email, "name": name, "shipping": subscription.shipping,
            "created_at": self.now,
            # The renewal is bought on the terms the buyer confirmed at the first order; it points to that screen.
            "confirmation": {"renewal_of": first_number, "cycle": cycle, "total": quote.total,
                             "rows": [[texts.delivery, texts.nth_delivery], [texts.total, texts.amount]]},
            "pay_by": self.now + dt.timedelta(days=settings.bank_transfer_days) if (
                subscription.payment_method == PaymentMethod.BANK_TRANSFER) else None,
        }
        self.orders.append(order)
        workspace_id = subscription.workspace_id
        self.lines += [{"workspace_id": workspace_id, "order_id": order_id, "description": line.description,
                        "quantity": line.quantity, "unit_price": line.unit_price, "amount": line.amount,
                        "tax_rate": line.tax_rate} for line in quote.lines]
        self.timeline.append({"workspace_id": workspace_id, "order_id": order_id, "at": self.now, "kind": "placed",
                              "note": texts.timeline})
        self.facts.append({
            "workspace_id": workspace_id, "kind": "subscription.renewed", "occurred_at": self.now,
            "contact_id": subscription.contact_id, "subject_type": "commerce.subscription",
            "subject_id": str(subscription.id), "amount": quote.total, "currency": order["currency"],
            "data": {"cycle": cycle, "order": order_id},
            "dedupe_key": f"subscription-renewed-{subscription.id}-{cycle}"})
        self.published.append(SubscriptionRenewed(
            workspace_id=workspace_id, subscription_id=subscription.id, contact_id=subscription.contact_id,
            order_id=order_id, cycle=cycle))
        if subscription.payment_method in _COMMITTED_AT_ONCE:
            self._commit_buyer(order)
        return order

    def _commit_buyer(self, order: dict[str, Any]) -> None:
        if order["pay_by"] is not None:
            for kind, at in ((PaymentDeadline.REMIND, order["pay_by"] - order_lifecycle.REMIND_BEFORE),
                             (PaymentDeadline.EXPIRE, order["pay_by"])):
                self.deadlines.append({"workspace_id": order["workspace_id"], "order_id": order["id"], "kind": kind,
                                       "due_at": at, "next_attempt_at": at})
        if order["email"]:
            # Written without its text: the mail queue renders the invoice from the order when it sends it,
            # which keeps template rendering out of the run.
            self.mails.append({"workspace_id": order["workspace_id"], "kind": "order_placed", "to": order["email"],
                               "subject": "", "body": "", "order_id": order["id"], "subscription_id": None,
                               "due_at": self.now, "next_attempt_at": self.now})

    def _advance(self, renewal: Renewal, subscription: _Subscription) -> None:
        """Count the delivery and schedule the next one, or complete a subscription whose cycles ran out."""
        offer = self.offers[subscription.offer_id]
        status = subscription.status
        if offer.cycles is None or renewal.cycle < offer.cycles:
            at = rules.next_delivery(renewal.next_attempt_at, offer.interval)
            self.next_renewals.append({"workspace_id": subscription.workspace_id, "subscription_id": subscription.id,
                                       "cycle": renewal.cycle + 1, "due_at": at, "next_attempt_at": at})
        else:
            status = SubscriptionStatus.COMPLETED
        self.subscription_rows.append((renewal.cycle, status, subscription.id))

    def _after_order(self, renewal: Renewal, order_id: int, method: str, status: str) -> None:
        if method == PaymentMethod.CARD and status == OrderStatus.AWAITING_PAYMENT:
            # Back to the queue, now for its charge: pending, unleased, due at once.
            self.renewal_rows.append((order_id, RenewalOutcome.ORDERED, claims.WorkStatus.PENDING, "", None,
                                      self.now, None, "", renewal.pk))
        else:
            self._finish(renewal, order_id=order_id, outcome=RenewalOutcome.ORDERED, note="")

    def _finish(self, renewal: Renewal, *, order_id: int | None, outcome: str, note: str) -> None:
        self.renewal_rows.append((order_id, outcome, claims.WorkStatus.DONE, "", None, renewal.next_attempt_at,
                                  self.now, note, renewal.pk))

    # --- shared per batch -----------------------------------------------------------------------------------

    def _payment_settings(self, subscription: _Subscription) -> PaymentSettings:
        if subscription.workspace_id not in self._settings:
            workspace = self.offers[subscription.offer_id].workspace
            self._settings[subscription.workspace_id] = payment_setup.payment_settings(workspace)
        return self._settings[subscription.workspace_id]

    def _texts(self, cycle: int, total: int) -> _Texts:
        """The words of a renewal order, translated once per cycle and total rather than once per order."""
        if (cycle, total) not in self._words:
            self._words[(cycle, total)] = _Texts(
                delivery=_("Delivery"), nth_delivery=_("Delivery %(n)s of your subscription") % {"n": cycle},
                total=_("Total (incl. tax)"), amount=confirmation.yen(total),
                timeline=_("Renewal %(n)s of the subscription") % {"n": cycle})
        return self._words[(cycle, total)]

    def _contact_name(self, contact_id: int) -> str:
        return self._names.get(contact_id, "")

    def _quote(self, subscription: _Subscription) -> rules.Quote:
        """Later deliveries are at the regular price (less an every-delivery discount); one quote per offer,
        quantity, payment method and discount."""
        key = (subscription.offer_id, subscription.quantity, subscription.payment_method,
               tuple(sorted(subscription.discount.items())))
        if key not in self._quotes:
            terms = checkout.terms_of(self.offers[subscription.offer_id])
            regular = rules.Terms(**{**terms.__dict__, "first_price": None})
            settings = self._payment_settings(subscription)
            fee = settings.cod_fee if subscription.payment_method == PaymentMethod.CASH_ON_DELIVERY else 0
            # A code for every delivery was copied onto the subscription when it started; it holds even if the
            # code has been switched off since.
            discount = rules.Discount(**subscription.discount) if subscription.discount else None
            self._quotes[key] = rules.quote(regular, quantity=subscription.quantity,
                                            shipping_fee=settings.shipping_fee, payment_fee=fee,
                                            fee_label=_("Cash on delivery fee"), shipping_label=_("Shipping"),
                                            discount=discount, discount_label=checkout.discount_label(discount))
        return self._quotes[key]

    def _numbers(self, count: int, workspace_ids: Iterable[int]) -> list[str]:
        """``count`` order numbers unused in these workspaces (random codes can meet: check them in one go)."""
        numbers: set[str] = set()
        while len(numbers) < count:
            wanted = {checkout.new_number(self.now) for _ in range(count - len(numbers))}
            taken = set(Order.objects.filter(workspace_id__in=list(workspace_ids),
                                             number__in=list(wanted)).values_list("number", flat=True))
            numbers |= wanted - taken
        return sorted(numbers)

    def _flush(self) -> None:
        bulk.insert_objects(Order, self.orders)
        bulk.insert_objects(OrderLine, self.lines)
        bulk.insert_objects(OrderEvent, self.timeline)
        bulk.insert_objects(PaymentDeadline, self.deadlines)
        bulk.insert_objects(CustomerMail, self.mails)
        # A next renewal or a fact already there (a customer's earlier change, an earlier run) stays as it is.
        bulk.insert_objects(Renewal, self.next_renewals, skip_duplicates=True)
        bulk.insert_objects(Fact, self.facts, skip_duplicates=True)
        bulk.update_rows(Subscription, ["deliveries", "status"], self.subscription_rows)
        bulk.update_rows(Renewal, ["order_id", "outcome", "status", "claimed_by", "lease_until", "next_attempt_at",
                                   "finished_at", "last_error"], self.renewal_rows)
        events.publish_all(self.published)
