"""Reads of the sales app for staff pages, the API and the packing export."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from musubi.commerce.choices import OrderStatus, PaymentMethod
from musubi.commerce.models import Order, Subscription
from musubi.kernel.errors import NotFound
from musubi.kernel.money import Money, TaxLine, tax_breakdown
from musubi.workspaces.models import Workspace


def orders(workspace: Workspace, *, status: str = "") -> QuerySet[Order]:
    found = Order.objects.for_workspace(workspace).select_related("offer", "contact").order_by("-created_at", "-id")
    return found.filter(status=status) if status else found


def order(workspace: Workspace, order_id: int) -> Order:
    found = Order.objects.for_workspace(workspace).select_related("offer", "contact", "subscription").filter(
        pk=order_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such order."))
    return found


def taxes_of(found: Order) -> list[TaxLine]:
    """Tax per rate, computed once per rate on the whole order (as a qualified invoice must)."""
    return tax_breakdown((Money(line.amount, found.currency), line.tax_rate) for line in found.lines.all())


def subscriptions(workspace: Workspace, *, status: str = "") -> QuerySet[Subscription]:
    found = Subscription.objects.for_workspace(workspace).select_related("offer", "contact").order_by("-started_at",
                                                                                                        "-id")
    return found.filter(status=status) if status else found


def subscription(workspace: Workspace, subscription_id: int) -> Subscription:
    found = Subscription.objects.for_workspace(workspace).select_related("offer", "contact").filter(
        pk=subscription_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such subscription."))
    return found


PACKING_HEADER = ("order_number", "ordered_at", "name", "postal_code", "address", "phone", "items", "payment_method",
                  "collect_on_delivery", "status")


def packing_rows(workspace: Workspace) -> Iterator[tuple[str, ...]]:
    """Orders to pack and ship: paid, or cash on delivery not yet shipped; physical goods only."""
    to_ship = orders(workspace).filter(shipped_at__isnull=True).exclude(shipping={}).filter(
        status__in=[OrderStatus.PAID, OrderStatus.AWAITING_PAYMENT]).prefetch_related("lines")
    for found in to_ship.order_by("created_at", "id"):
        if found.status == OrderStatus.AWAITING_PAYMENT and found.payment_method != PaymentMethod.CASH_ON_DELIVERY:
            continue
        items = " / ".join(f"{line.description} × {line.quantity}" for line in found.lines.all()
                           if line.description == found.offer.name)
        collect = str(found.total) if found.payment_method == PaymentMethod.CASH_ON_DELIVERY else "0"
        yield (found.number, f"{found.created_at:%Y-%m-%d %H:%M}", found.shipping.get("name", found.name),
               found.shipping.get("postal_code", ""), found.shipping.get("address", ""),
               found.shipping.get("phone", ""), items, found.payment_method, collect, found.status)
