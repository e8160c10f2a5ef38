"""What a receipt, an invoice or a refund note says, worked out when it is issued and kept with it.

The content is plain JSON (strings and integers), so a document renders the same in ten years whatever
happens to the order, the offer or the workspace's particulars afterwards. It carries what the invoice
system (インボイス制度, 消費税法 57-4) asks of a qualified invoice: the issuer's name and registration
number, the date of the transaction, the items with the reduced-rate ones marked, the total and the
consumption tax per rate — the tax computed once per rate over the whole document
(``kernel.money.tax_breakdown``) — and the recipient's name. A refund note (適格返還請求書, 57-4-3) says the
same of the money given back, with the date of the refund and of the sale it undoes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from musubi.commerce.models import Order, Refund
from musubi.kernel.models import TaxCategory
from musubi.kernel.money import Money, tax_breakdown
from musubi.kernel.tax import tax_rate_in_force
from musubi.workspaces.models import LegalProfile


def local_date(at: dt.datetime, timezone: str) -> str:
    """The day ``at`` fell on in the workspace's time zone, as an ISO date."""
    return at.astimezone(zoneinfo.ZoneInfo(timezone)).date().isoformat()


def _reduced_rate(on: dt.date) -> Decimal | None:
    """The reduced rate in force on ``on`` (8% since October 2019), unless it equals the standard rate (as
    before 2019), when no line is "reduced"."""
    try:
        reduced = tax_rate_in_force(category=TaxCategory.REDUCED, on=on)
    except LookupError:
        return None
    standard = tax_rate_in_force(category=TaxCategory.STANDARD, on=on)
    return reduced if reduced != standard else None


def _taxes(pairs: Iterable[tuple[int, Decimal]], currency: str) -> list[dict[str, Any]]:
    return [{"rate": str(line.rate), "gross": line.gross.amount, "tax": line.tax.amount}
            for line in tax_breakdown((Money(amount, currency), rate) for amount, rate in pairs)]


def _issuer(profile: LegalProfile, shop_name: str) -> dict[str, str]:
    return {"name": profile.seller_name or shop_name, "address": profile.address, "phone": profile.phone,
            "registration_number": profile.invoice_registration_number}


def _lines(order: Order, reduced: Decimal | None) -> list[dict[str, Any]]:
    return [{"description": line.description, "quantity": line.quantity, "unit_price": line.unit_price,
             "amount": line.amount, "rate": str(line.tax_rate), "reduced": line.tax_rate == reduced}
            for line in order.lines.order_by("pk")]


def for_order(*, order: Order, profile: LegalProfile, kind: str, payment_label: str,
              bank_account: str = "") -> dict[str, Any]:
    """The content of the order's receipt or invoice: every line, the total, and the tax per rate."""
    timezone = order.workspace.timezone
    lines = _lines(order, _reduced_rate(order.created_at.date()))
    return {
        "kind": kind, "issuer": _issuer(profile, order.workspace.name), "recipient": order.name,
        "order_number": order.number, "currency": order.currency,
        "transaction_date": local_date(order.created_at, timezone),
        "paid_on": local_date(order.paid_at, timezone) if order.paid_at else "",
        "pay_by": local_date(order.pay_by, timezone) if order.pay_by and not order.paid_at else "",
        "bank_account": bank_account if not order.paid_at else "",
        "payment_method": payment_label, "lines": lines, "total": sum(line["amount"] for line in lines),
        "taxes": _taxes(((line["amount"], Decimal(line["rate"])) for line in lines), order.currency),
    }


def split_by_rate(amount: int, gross_by_rate: Sequence[tuple[Decimal, int]]) -> list[tuple[Decimal, int]]:
    """Share a refund of ``amount`` between the order's tax rates in proportion to what each rate's lines
    cost, in whole minor units (largest remainder first, ties to the higher rate), so a refund of a
    mixed-rate order can say how much of it was at each rate. A full refund gives back each rate's total."""
    whole = sum(gross for _rate, gross in gross_by_rate)
    if whole <= 0:
        return []
    shares = [(rate, amount * gross // whole, amount * gross % whole) for rate, gross in gross_by_rate]
    left = amount - sum(share for _rate, share, _rest in shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (shares[i][2], shares[i][0]), reverse=True)
    extra = set(by_remainder[:left])
    return [(rate, share + (1 if i in extra else 0)) for i, (rate, share, _rest) in enumerate(shares)
            if share + (1 if i in extra else 0) > 0]


def for_refunds(*, order: Order, profile: LegalProfile, refunds: Sequence[Refund],
                earlier: Sequence[str]) -> dict[str, Any]:
    """The content of a refund note for ``refunds`` (those no earlier note covers): the sale they undo, the
    amount given back per rate and the tax in it, and the numbers of the documents issued before it."""
    timezone = order.workspace.timezone
    lines = _lines(order, _reduced_rate(order.created_at.date()))
    by_rate: dict[Decimal, int] = {}
    for line in lines:
        rate = Decimal(line["rate"])
        by_rate[rate] = by_rate.get(rate, 0) + line["amount"]
    gross_by_rate = sorted(by_rate.items(), reverse=True)
    amount = sum(refund.amount for refund in refunds)
    return {
        "kind": "refund_note", "issuer": _issuer(profile, order.workspace.name), "recipient": order.name,
        "order_number": order.number, "currency": order.currency,
        "transaction_date": local_date(order.created_at, timezone),
        "refunds": [{"id": refund.pk, "on": local_date(refund.at, timezone), "amount": refund.amount,
                     "reason": refund.reason} for refund in refunds],
        "lines": lines, "total": amount, "earlier_documents": list(earlier),
        "taxes": _taxes(((share, rate) for rate, share in split_by_rate(amount, gross_by_rate)), order.currency),
    }
