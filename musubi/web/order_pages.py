"""The staff's pages of selling: orders (mark paid, ship, refund, cancel), the packing CSV, subscriptions,
and how the workspace is paid."""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from musubi.commerce import access, documents, order_lifecycle, outgoing, payment_setup, queries, subscriptions
from musubi.commerce.choices import OrderStatus, SubscriptionStatus
from musubi.commerce.models import WebhookEndpoint
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.forms import ServiceErrorsMixin
from musubi.workspaces.rules import Action, role_allows


class ShipForm(ServiceErrorsMixin):
    carrier = forms.CharField(label=gettext_lazy("Carrier"), max_length=100, initial="ヤマト運輸")
    tracking_number = forms.CharField(label=gettext_lazy("Tracking number"), max_length=100)


class RefundForm(ServiceErrorsMixin):
    amount = forms.IntegerField(label=gettext_lazy("Amount to refund (yen)"), min_value=1)
    reason = forms.CharField(label=gettext_lazy("Reason for the refund"), max_length=500, required=False)


class PaymentSettingsForm(ServiceErrorsMixin):
    bank_transfer_enabled = forms.BooleanField(label=gettext_lazy("Take bank transfers"), required=False)
    bank_account = forms.CharField(label=gettext_lazy("Bank account shown to the buyer"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 3}))
    bank_transfer_days = forms.IntegerField(label=gettext_lazy("Days to pay a transfer"), min_value=1,
                                            max_value=60)
    cod_enabled = forms.BooleanField(label=gettext_lazy("Take cash on delivery"), required=False)
    cod_fee = forms.IntegerField(label=gettext_lazy("Cash on delivery fee (yen, incl. tax)"), min_value=0)
    shipping_fee = forms.IntegerField(label=gettext_lazy("Shipping fee per order of physical goods (yen, incl. tax)"),
                                      min_value=0)
    card_enabled = forms.BooleanField(label=gettext_lazy("Take cards (Stripe)"), required=False)
    konbini_enabled = forms.BooleanField(
        label=gettext_lazy("Take convenience store payments (Stripe, one-time orders)"), required=False)
    konbini_days = forms.IntegerField(label=gettext_lazy("Days to pay at the convenience store"), min_value=1,
                                      max_value=60, required=False)
    stripe_secret_key = forms.CharField(label=gettext_lazy("Stripe secret key"), required=False,
                                        widget=forms.PasswordInput(render_value=False))
    stripe_webhook_secret = forms.CharField(label=gettext_lazy("Stripe webhook signing secret"), required=False,
                                            widget=forms.PasswordInput(render_value=False))

    def clean_konbini_days(self) -> int:
        # Left out of the post (a form from before konbini existed): keep what is saved.
        days = self.cleaned_data.get("konbini_days")
        return int(days if days is not None else self.initial.get("konbini_days", 3))


@workspace_page()
def order_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in OrderStatus.values else ""
    return render(request, "web/orders/list.html", {
        "orders": queries.orders(request.workspace, status=status)[:200], "status": status,
        "statuses": OrderStatus.choices})


@workspace_page()
def order_detail(request: WorkspaceRequest, slug: str, order_id: int) -> HttpResponse:
    order = queries.order(request.workspace, order_id)
    can_operate = role_allows(request.membership.role, Action.OPERATE)
    ship_form = ShipForm(request.POST if request.POST.get("form") == "ship" else None)
    refund_form = RefundForm(request.POST if request.POST.get("form") == "refund" else None,
                             initial={"amount": order.refundable})
    if request.method == "POST":
        request.actor.require(Action.OPERATE)
        form: Any = ship_form if request.POST.get("form") == "ship" else refund_form
        if form.is_valid():
            try:
                if form is ship_form:
                    order_lifecycle.ship(workspace=request.workspace, actor=request.actor, order_id=order.pk,
                                         **form.cleaned_data)
                    messages.success(request, _("The shipment was recorded."))
                else:
                    order_lifecycle.refund(workspace=request.workspace, actor=request.actor, order_id=order.pk,
                                           **form.cleaned_data)
                    messages.success(request, _("The refund was recorded."))
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                return redirect("web:order", slug=slug, order_id=order.pk)
    return render(request, "web/orders/detail.html", {
        "order": order, "lines": list(order.lines.all()), "taxes": queries.taxes_of(order),
        "timeline": list(order.timeline.all()), "refunds": list(order.refunds.all()),
        "ship_form": ship_form, "refund_form": refund_form, "can_operate": can_operate,
        "awaiting": order.status == OrderStatus.AWAITING_PAYMENT,
        "documents": documents.issued_for(order), "document_kinds": documents.available_kinds(order),
        "deliverable": order.shipped_at is not None and order.status in (OrderStatus.SHIPPED, OrderStatus.PAID),
        "shippable": order.shipped_at is None and bool(order.shipping) and (
            order.status == OrderStatus.PAID or (order.status == OrderStatus.AWAITING_PAYMENT
                                                 and order.payment_method == "cod")),
    })


@require_POST
@workspace_page(Action.OPERATE)
def order_mark_paid(request: WorkspaceRequest, slug: str, order_id: int) -> HttpResponse:
    return act(request, lambda: order_lifecycle.record_payment(workspace=request.workspace, actor=request.actor,
                                                               order_id=order_id),
               done=_("The payment was recorded."), then=redirect("web:order", slug=slug, order_id=order_id))


@require_POST
@workspace_page(Action.OPERATE)
def order_cancel(request: WorkspaceRequest, slug: str, order_id: int) -> HttpResponse:
    return act(request, lambda: order_lifecycle.cancel_order(workspace=request.workspace, actor=request.actor,
                                                             order_id=order_id),
               done=_("The order was cancelled."), then=redirect("web:order", slug=slug, order_id=order_id))


@workspace_page(Action.OPERATE)
def packing_export(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """Orders to pack and ship, as CSV for the carrier's label software (UTF-8 with a BOM, which Excel reads)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(queries.PACKING_HEADER)
    writer.writerows(queries.packing_rows(request.workspace))
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="packing-{slug}.csv"'
    return response


@workspace_page()
def subscription_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in SubscriptionStatus.values else ""
    return render(request, "web/orders/subscriptions.html", {
        "subscriptions": queries.subscriptions(request.workspace, status=status)[:200], "status": status,
        "statuses": SubscriptionStatus.choices,
        "can_operate": role_allows(request.membership.role, Action.OPERATE)})


@require_POST
@workspace_page(Action.OPERATE)
def subscription_action(request: WorkspaceRequest, slug: str, subscription_id: int) -> HttpResponse:
    actions = {"skip": (subscriptions.skip_next, _("The next delivery was skipped.")),
               "pause": (subscriptions.pause, _("The subscription is paused.")),
               "resume": (subscriptions.resume, _("The subscription is running again.")),
               "cancel": (subscriptions.cancel, _("The subscription was cancelled."))}
    chosen = actions.get(request.POST.get("action", ""))
    queries.subscription(request.workspace, subscription_id)  # 404 before anything else
    if chosen is None:
        messages.error(request, _("Choose what to do."))
        return redirect("web:subscriptions", slug=slug)
    action, done = chosen
    return act(request, lambda: action(workspace=request.workspace, subscription_id=subscription_id,
                                       actor=request.actor),
               done=done, then=redirect("web:subscriptions", slug=slug))


@workspace_page(Action.MANAGE)
def payment_settings(request: WorkspaceRequest, slug: str) -> HttpResponse:
    current = payment_setup.payment_settings(request.workspace)
    initial = {name: getattr(current, name) for name in PaymentSettingsForm.base_fields
               if name not in ("stripe_secret_key", "stripe_webhook_secret")}
    form = PaymentSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            payment_setup.save_payment_settings(workspace=request.workspace, actor=request.actor, **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("The payment settings were saved."))
            return redirect("web:payment_settings", slug=slug)
    endpoint = WebhookEndpoint.objects.for_workspace(request.workspace).first()
    return render(request, "web/orders/payment_settings.html", {
        "form": form, "has_secret_key": bool(current.stripe_secret_key), "endpoint": endpoint,
        "can_administer": role_allows(request.membership.role, Action.ADMINISTER),
        "has_webhook_secret": bool(current.stripe_webhook_secret), "webhook_path": f"/stripe/webhook/{slug}"})


@require_POST
@workspace_page(Action.MANAGE)
def offer_invitation_only(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    """Sell the offer only through invitations to existing customers (or to anyone again)."""
    on = request.POST.get("invitation_only") == "1"
    return act(request, lambda: access.set_invitation_only(workspace=request.workspace, actor=request.actor,
                                                           offer_id=offer_id, invitation_only=on),
               done=_("Only invited customers can buy this offer now.") if on else _("Anyone can buy this offer now."),
               then=redirect("web:offer", slug=slug, offer_id=offer_id))


@require_POST
@workspace_page(Action.ADMINISTER)
def webhook_endpoint(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """Set the address sales events are posted to; its signing secret is shown this once."""
    try:
        secret = outgoing.set_endpoint(workspace=request.workspace, actor=request.actor,
                                       url=request.POST.get("webhook_url", ""))
    except MusubiError as exc:
        messages.error(request, exc.message)
    else:
        if secret:
            messages.success(request, _("Saved. The signing secret, shown only now: %(secret)s") % {"secret": secret})
        else:
            messages.success(request, _("The webhook address was saved."))
    return redirect("web:payment_settings", slug=slug)
