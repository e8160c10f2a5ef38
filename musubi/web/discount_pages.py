"""Discount codes (クーポンコード) for the checkout: the owner makes them, sees how often each was used, and
disables one that should stop."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from musubi.catalog.models import Offer
from musubi.commerce import discounts
from musubi.commerce.models import DiscountCode
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.forms import ServiceErrorsMixin
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action, role_allows

KIND_CHOICES = [(DiscountCode.PERCENT, gettext_lazy("Percent off")), (DiscountCode.AMOUNT, gettext_lazy("Yen off"))]
DATE = forms.DateInput(attrs={"type": "date"})


class DiscountCodeForm(ServiceErrorsMixin):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=40,
                           help_text=gettext_lazy("Letters and digits, e.g. SPRING10. Upper or lower case does not "
                                                  "matter to the buyer."))
    kind = forms.ChoiceField(label=gettext_lazy("Discount"), choices=KIND_CHOICES)
    value = forms.IntegerField(label=gettext_lazy("Percent or yen"), min_value=1)
    offer_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Offers"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Leave all unticked for every offer."))
    valid_from = forms.DateField(label=gettext_lazy("First day it can be used"), required=False, widget=DATE)
    valid_until = forms.DateField(label=gettext_lazy("Last day it can be used"), required=False, widget=DATE)
    max_uses = forms.IntegerField(label=gettext_lazy("Uses in all"), min_value=1, required=False,
                                  help_text=gettext_lazy("Leave empty for no limit."))
    once_per_buyer = forms.BooleanField(label=gettext_lazy("Once per buyer"), required=False, initial=True)
    every_delivery = forms.BooleanField(
        label=gettext_lazy("Subscriptions: discount every delivery (not only the first)"), required=False)

    def __init__(self, *args: Any, offers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["offer_ids"].choices = offers  # type: ignore[attr-defined]

    def to_input(self, workspace: Workspace) -> discounts.CodeInput:
        data = self.cleaned_data
        zone = zoneinfo.ZoneInfo(workspace.timezone)

        def start_of(day: dt.date | None) -> dt.datetime | None:  # the shop's days, not UTC's
            return dt.datetime.combine(day, dt.time(), tzinfo=zone) if day else None

        until: dt.date | None = data["valid_until"]
        return discounts.CodeInput(
            code=data["code"], kind=data["kind"], value=data["value"], offer_ids=tuple(data["offer_ids"]),
            valid_from=start_of(data["valid_from"]),
            valid_until=start_of(until + dt.timedelta(days=1)) if until else None,
            max_uses=data["max_uses"], once_per_buyer=data["once_per_buyer"], every_delivery=data["every_delivery"])


@workspace_page()
def discount_codes(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    offers = [(o.pk, o.name) for o in Offer.objects.for_workspace(workspace).order_by("name")]
    form = DiscountCodeForm(request.POST or None, offers=offers)
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        if form.is_valid():
            try:
                discounts.create_code(workspace=workspace, actor=request.actor, data=form.to_input(workspace))
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("The discount code was added."))
                return redirect("web:discount_codes", slug=slug)
    return render(request, "web/orders/discount_codes.html", {
        "codes": discounts.codes(workspace)[:200], "form": form,
        "can_manage": role_allows(request.membership.role, Action.MANAGE)}, status=400 if form.errors else 200)


@require_POST
@workspace_page(Action.MANAGE)
def discount_code_active(request: WorkspaceRequest, slug: str, discount_code_id: int) -> HttpResponse:
    discounts.code_of(request.workspace, discount_code_id)  # 404 before anything else
    active = request.POST.get("active") == "1"
    return act(request, lambda: discounts.set_active(workspace=request.workspace, actor=request.actor,
                                                     code_id=discount_code_id, active=active),
               done=_("The code can be used again.") if active else _("The code is disabled."),
               then=redirect("web:discount_codes", slug=slug))
