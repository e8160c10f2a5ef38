"""The final confirmation screen (最終確認画面, 特定商取引法 Art. 12-6), generated from the offer, never written
by hand.

``build`` returns the screen as data: rows of (heading, text) and the button's label. The page renders these
rows and nothing else, and the order stores the same data, so what the order keeps is exactly what the buyer
saw. For a subscription the rows also give the price per delivery, the number of deliveries or that it renews
until cancelled, the total (or the first year's amount), when a discounted first delivery turns into the
regular price and what that is, and how to cancel — next to the first price, never pages away from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from musubi.commerce import rules
from musubi.commerce.choices import PaymentMethod

INTERVAL_WORDS = {"week": gettext_lazy("every week"), "month": gettext_lazy("every month"),
                  "year": gettext_lazy("every year")}


def yen(amount: int) -> str:
    return _("%(amount)s yen") % {"amount": f"{amount:,}"}


def _day(moment: dt.datetime) -> str:
    # The calendar day where the shop is: 23:30 UTC is already the next day in Japan.
    return formats.date_format(timezone.localtime(moment), "DATE_FORMAT")


def build(*, terms: rules.Terms, quote: rules.Quote, legal: dict[str, str], payment_method: str,
          payment_label: str, pay_by: dt.datetime | None, now: dt.datetime, shipping: dict[str, str],
          legal_url: str, discount: rules.Discount | None = None, saved_card: bool = False) -> dict[str, Any]:
    rows: list[tuple[str, str]] = [(_("Item"), terms.offer_name), (_("Quantity"), str(quote.quantity))]
    if terms.recurring:
        rows.append((_("Price per delivery (incl. tax)"), _first_and_later(terms, quote)))
    else:
        rows.append((_("Price (incl. tax)"), yen(quote.unit_price)))
    if discount is not None:
        rows.append((_("Discount (code %(code)s)") % {"code": discount.code}, f"−{yen(quote.discount)}"))
    if terms.physical:
        rows.append((_("Shipping"), yen(quote.shipping_fee) if quote.shipping_fee else _("Free")))
    if quote.payment_fee:
        rows.append((_("Cash on delivery fee"), yen(quote.payment_fee)))
    rows.append((_("Total to pay now (incl. tax)") if terms.recurring else _("Total (incl. tax)"), yen(quote.total)))
    if terms.recurring:
        rows += _subscription_rows(terms, quote, now=now, legal=legal, discount=discount)
    rows.append((_("Payment method"), payment_label))
    rows.append((_("When payment is due"), _payment_timing(payment_method, legal, pay_by, saved_card=saved_card)))
    rows.append((_("Delivery"), legal.get("delivery_timing", "")))
    if shipping.get("address"):
        rows.append((_("Deliver to"), f"〒{shipping.get('postal_code', '')} {shipping['address']}"))
    if legal.get("application_period"):
        rows.append((_("Application period"), legal["application_period"]))
    rows.append((_("Returns and cancellation"), legal.get("returns_policy", "")))
    rows.append((_("Seller"), legal.get("seller_name", "")))
    return {
        "offer_id": terms.offer_id, "quantity": quote.quantity, "total": quote.total,
        "currency": terms.currency, "payment_method": payment_method, "recurring": terms.recurring,
        "discount_code": discount.code if discount else "",
        "rows": [[heading, text] for heading, text in rows], "button": _("Place the order (payment due)"),
        "legal_url": legal_url,
    }


def _first_and_later(terms: rules.Terms, quote: rules.Quote) -> str:
    later = quote.later_unit_price or 0
    if terms.first_price is None:
        return _("%(price)s × %(quantity)s per delivery") % {"price": yen(later), "quantity": quote.quantity}
    return _("First delivery %(first)s, from the second delivery %(later)s (× %(quantity)s each)") % {
        "first": yen(quote.unit_price), "later": yen(later), "quantity": quote.quantity}


def _subscription_rows(terms: rules.Terms, quote: rules.Quote, *, now: dt.datetime,
                       legal: dict[str, str], discount: rules.Discount | None = None) -> list[tuple[str, str]]:
    second = rules.next_delivery(now, terms.interval)
    rows = [(_("Contract"), _("Subscription (定期購入): delivered %(interval)s") % {
        "interval": INTERVAL_WORDS[terms.interval]})]
    if terms.cycles is not None:
        rows.append((_("Number of deliveries"), ngettext("%(n)s delivery", "%(n)s deliveries", terms.cycles) % {
            "n": terms.cycles}))
    else:
        rows.append((_("Number of deliveries"), _("Renews automatically until you cancel")))
    rows.append((_("From the second delivery (each)"), _(
        "%(quantity)s × %(price)s, %(total)s per delivery with shipping and fees; the second delivery "
        "around %(date)s") % {"quantity": quote.quantity, "price": yen(quote.later_unit_price or 0),
                              "total": yen(quote.later_total or 0), "date": _day(second)}))
    if discount is not None:
        rows.append((_("Discount on later deliveries"), _(
            "%(amount)s off every delivery (code %(code)s)") % {"amount": yen(quote.later_discount),
                                                                 "code": discount.code}
            if discount.every_delivery else _("None: the code %(code)s discounts the first delivery only.") % {
                "code": discount.code}))
    if terms.first_price is not None:
        rows.append((_("When the first-time price ends"), _(
            "Only the first delivery costs %(first)s; from the second delivery (around %(date)s) the regular "
            "price of %(later)s applies.") % {"first": yen(terms.first_price), "date": _day(second),
                                               "later": yen(terms.price)}))
    if quote.contract_total is not None:
        rows.append((_("Total of all deliveries"), yen(quote.contract_total)))
    else:
        rows.append((_("Amount for the first year"), yen(quote.first_year_total or 0)))
    if terms.min_deliveries and quote.minimum_total is not None:
        last = rules.next_delivery(now, terms.interval, steps=terms.min_deliveries - 1)
        rows.append((_("Minimum number of deliveries"), _(
            "This subscription requires at least %(n)s deliveries (最低継続回数). You can cancel once the "
            "%(n)sth delivery is made (around %(date)s); before that, cancelling is not possible.") % {
                "n": terms.min_deliveries, "date": _day(last)}))
        rows.append((_("Total of the minimum deliveries"), _("%(total)s for %(n)s deliveries") % {
            "total": yen(quote.minimum_total), "n": terms.min_deliveries}))
    rows.append((_("How to cancel"), legal.get("subscription_cancellation", "")))
    return rows


def _payment_timing(method: str, legal: dict[str, str], pay_by: dt.datetime | None, *, saved_card: bool) -> str:
    if method == PaymentMethod.FREE:
        return _("Nothing to pay.")
    if method == PaymentMethod.CARD and saved_card:  # a one-click upsell: no payment page follows
        return _("Charged, when you place the order, to the card you have just paid with; you do not enter it "
                 "again.")
    if method == PaymentMethod.CARD:
        return _("Charged to your card when you place the order (you enter the card on Stripe's secure payment "
                 "page next).")
    if method == PaymentMethod.KONBINI and pay_by is not None:
        return _("Pay at a convenience store by %(date)s. After you place the order, Stripe's payment page "
                 "issues the payment number; the exact deadline is shown with it. Unpaid orders are cancelled "
                 "after the deadline.") % {"date": _day(pay_by)}
    if method == PaymentMethod.BANK_TRANSFER and pay_by is not None:
        return _("Transfer by %(date)s; the account is shown after you order.") % {"date": _day(pay_by)}
    if method == PaymentMethod.CASH_ON_DELIVERY:
        return _("Pay the carrier when the goods arrive.")
    return legal.get("payment_timing", "")
