"""The last step of a physical order: the parcel reached the buyer (配達完了)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.commerce.choices import OrderStatus, PaymentMethod
from musubi.commerce.models import Order, OrderEvent
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


@transaction.atomic
def mark_delivered(*, workspace: Workspace, actor: Actor, order_id: int) -> Order:
    """Record that a shipped order arrived. Only a paid order that was shipped can arrive: a cash-on-delivery
    order is delivered once the carrier's payment is recorded (then it reads paid), and a delivered order
    stays delivered — a second click changes nothing but is refused, so staff see it was already done."""
    actor.require(Action.OPERATE)
    order = Order.objects.for_workspace(workspace).select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("This workspace has no such order."))
    if order.status == OrderStatus.DELIVERED:
        raise Conflict(_("This order was already recorded as delivered."), code="already_delivered")
    if order.shipped_at is None:
        raise Conflict(_("Only a shipped order can be delivered."), code="not_shipped")
    if order.status == OrderStatus.AWAITING_PAYMENT and order.payment_method == PaymentMethod.CASH_ON_DELIVERY:
        raise Conflict(_("Record the cash the carrier collected first; then mark the order delivered."),
                       code="not_paid")
    if order.status not in (OrderStatus.SHIPPED, OrderStatus.PAID):
        raise Conflict(_("This order cannot be delivered in its current state."), code="not_deliverable")
    order.status = OrderStatus.DELIVERED
    order.delivered_at = clock.now()
    order.save(update_fields=["status", "delivered_at"])
    who = str(actor.user or actor.api_key or _("the system"))
    OrderEvent.objects.create(workspace_id=order.workspace_id, order=order, at=order.delivered_at,
                              kind="delivered", note=_("Delivered (recorded by %(who)s)") % {"who": who})
    record_fact(workspace_id=order.workspace_id, kind="order.delivered", contact_id=order.contact_id,
                subject=("commerce.order", order.pk), dedupe_key=f"order-delivered-{order.pk}")
    record_audit(workspace=workspace, actor=actor, action="order.delivered", obj=order)
    return order
