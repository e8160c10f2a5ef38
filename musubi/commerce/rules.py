"""Pure decisions of the sales app: what an order costs, when a subscription delivers next, what a
subscription costs in all. No ORM, no I/O: amounts are integers of the currency's minor unit, tax-inclusive."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

MAX_QUANTITY = 99


@dataclass(frozen=True)
class Terms:
    """What an offer sells and on which terms, read from the catalog at the moment of the checkout."""

    offer_id: int
    offer_name: str
    product_name: str
    physical: bool
    price: int
    first_price: int | None
    recurring: bool
    interval: str  # "week" / "month" / "year" for a subscription
    cycles: int | None  # None: renews until cancelled
    tax_rate: Decimal
    currency: str = "JPY"
    min_deliveries: int | None = None  # 最低継続回数: no cancelling before this many deliveries

    @property
    def entry_price(self) -> int:
        return self.first_price if self.first_price is not None else self.price


@dataclass(frozen=True)
class Discount:
    """A discount code's terms as the checkout applies them: ``percent`` of the goods or ``amount`` yen off
    them (never more than the goods cost), on the first delivery only or on every delivery."""

    code: str
    kind: str  # "percent" / "amount"
    value: int
    every_delivery: bool = False

    def off(self, goods: int) -> int:
        if self.kind == "percent":
            return goods * self.value // 100  # rounded down: the buyer never pays more than the shown percent
        return min(self.value, goods)


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_price: int
    tax_rate: Decimal

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Quote:
    """The amounts of one delivery (the first, at checkout) and, for a subscription, of the ones after it."""

    quantity: int
    unit_price: int
    shipping_fee: int
    payment_fee: int
    lines: tuple[Line, ...]
    later_unit_price: int | None = None
    later_total: int | None = None
    deliveries: int | None = None  # a subscription's number of deliveries; None: until cancelled
    contract_total: int | None = None  # every delivery of a fixed-length subscription
    first_year_total: int | None = None  # an open-ended subscription's first year
    discount: int = 0  # yen off the first delivery's goods
    later_discount: int = 0  # yen off each later delivery's goods
    minimum_total: int | None = None  # the total of a subscription's minimum number of deliveries

    @property
    def subtotal(self) -> int:
        return self.quantity * self.unit_price

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def quote(terms: Terms, *, quantity: int, shipping_fee: int, payment_fee: int, fee_label: str = "",
          shipping_label: str = "", discount: Discount | None = None, discount_label: str = "") -> Quote:
    """The price of the first delivery, with shipping (physical goods only) and the payment method's fee,
    each a line of its own taxed at the standard rate of the goods' line; and for a subscription the later
    deliveries and the total or the first year's amount, which the confirmation screen must show.

    A discount is a negative line at the goods' own rate right after them: it reduces the taxable amount of
    that rate, never shipping or fees."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValueError(f"quantity must be 1..{MAX_QUANTITY}")
    shipping = shipping_fee if terms.physical else 0
    lines = [Line(terms.offer_name, quantity, terms.entry_price, terms.tax_rate)]
    first_off = discount.off(quantity * terms.entry_price) if discount else 0
    if first_off:
        lines.append(Line(discount_label or f"discount {discount.code if discount else ''}", 1, -first_off,
                          terms.tax_rate))
    # Shipping and fees follow the goods' rate only when the goods are at the standard rate; food at the
    # reduced rate still ships at the standard 10% (the delivery is a service).
    if shipping:
        lines.append(Line(shipping_label or "shipping", 1, shipping, STANDARD_RATE))
    if payment_fee:
        lines.append(Line(fee_label or "fee", 1, payment_fee, STANDARD_RATE))
    first = Quote(quantity=quantity, unit_price=terms.entry_price, shipping_fee=shipping, payment_fee=payment_fee,
                  lines=tuple(lines), discount=first_off)
    if not terms.recurring:
        return first
    later_off = discount.off(terms.price * quantity) if discount and discount.every_delivery else 0
    later_total = terms.price * quantity - later_off + shipping + payment_fee
    contract_total = first_year = minimum_total = None
    if terms.cycles is not None:
        contract_total = first.total + later_total * (terms.cycles - 1)
    else:
        first_year = first.total + later_total * (deliveries_per_year(terms.interval) - 1)
    if terms.min_deliveries:
        minimum_total = first.total + later_total * (terms.min_deliveries - 1)
    return Quote(quantity=quantity, unit_price=terms.entry_price, shipping_fee=shipping, payment_fee=payment_fee,
                 lines=tuple(lines), later_unit_price=terms.price, later_total=later_total, deliveries=terms.cycles,
                 contract_total=contract_total, first_year_total=first_year, discount=first_off,
                 later_discount=later_off, minimum_total=minimum_total)


STANDARD_RATE = Decimal("0.10")


def deliveries_per_year(interval: str) -> int:
    return {"week": 52, "month": 12, "year": 1}[interval]


def next_delivery(after: dt.datetime, interval: str, *, steps: int = 1) -> dt.datetime:
    """``steps`` intervals after ``after``. A month later than 31 January is the last day of February."""
    if interval == "week":
        return after + dt.timedelta(weeks=steps)
    months = steps * (12 if interval == "year" else 1) if interval in ("month", "year") else None
    if months is None:
        raise ValueError(f"unknown interval {interval!r}")
    month_index = after.month - 1 + months
    year, month = after.year + month_index // 12, month_index % 12 + 1
    day = min(after.day, calendar.monthrange(year, month)[1])
    return after.replace(year=year, month=month, day=day)


def refund_problem(*, requested: int, refundable: int) -> str | None:
    """Why a refund of ``requested`` cannot be made on an order with ``refundable`` left, or None."""
    if requested <= 0:
        return "positive"
    if requested > refundable:
        return "too_much"
    return None


def renewal_gives_up(charge_attempts: int, *, retries: int) -> bool:
    """Whether a renewal whose card was declined ``charge_attempts`` times stops trying (and the
    subscription pauses): after the first attempt and ``retries`` more."""
    return charge_attempts > retries


def cancellable_from(started_at: dt.datetime, interval: str, min_deliveries: int | None) -> dt.datetime | None:
    """When a subscription with a minimum number of deliveries may first be cancelled by its customer: once
    the last of the minimum deliveries is made (its scheduled date); None when there is no minimum."""
    if not min_deliveries or min_deliveries <= 1:
        return None
    return next_delivery(started_at, interval, steps=min_deliveries - 1)


def cancel_refused(*, deliveries: int, min_deliveries: int | None) -> bool:
    """Whether a customer's cancel is refused: fewer deliveries made than the minimum."""
    return bool(min_deliveries) and deliveries < (min_deliveries or 0)
