"""Coupons: the owner defines them; the counter staff redeem them from a phone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from musubi.capture import coupons, queries, rules
from musubi.catalog.models import Offer
from musubi.kernel.errors import Conflict, MusubiError, NotFound
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.optin_forms import CouponDefinitionForm, RedeemForm
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action, role_allows


@workspace_page()
def coupon_definitions(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    offers = [(o.pk, o.name) for o in Offer.objects.for_workspace(workspace).order_by("name")]
    form = CouponDefinitionForm(request.POST or None, offers=offers)
    del form.fields["active"]  # a new coupon is given out; stopping it is a change
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        if form.is_valid():
            try:
                coupons.create_definition(workspace=workspace, actor=request.actor,
                                          terms=form.terms(_end_of_day(workspace)))
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("web:coupons", slug=slug)
    return render(request, "web/capture/coupons.html", {
        "definitions": queries.coupon_definitions(workspace), "form": form,
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


def _end_of_day(workspace: Workspace) -> Callable[[dt.date], dt.datetime]:
    zone = zoneinfo.ZoneInfo(workspace.timezone)

    def end_of_day(day: dt.date) -> dt.datetime:  # "last day" means until that day ends in the shop
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)

    return end_of_day


@workspace_page(Action.MANAGE)
def coupon_edit(request: WorkspaceRequest, slug: str, coupon_id: int) -> HttpResponse:
    workspace = request.workspace
    definition = coupons.definition_of(workspace, coupon_id)
    offers = [(o.pk, o.name) for o in Offer.objects.for_workspace(workspace).order_by("name")]
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    last_day = ((definition.valid_until.astimezone(zone) - dt.timedelta(days=1)).date()
                if definition.valid_until else None)
    initial = {"name": definition.name, "benefit": definition.benefit, "offer_id": definition.offer_id,
               "cost": definition.cost, "valid_days": definition.valid_days, "valid_until": last_day,
               "max_redemptions": definition.max_redemptions, "active": definition.active}
    form = CouponDefinitionForm(request.POST or None, initial=initial, offers=offers)
    if request.method == "POST" and form.is_valid():
        try:
            coupons.update_definition(workspace=workspace, actor=request.actor, definition_id=definition.pk,
                                      terms=form.terms(_end_of_day(workspace)), active=form.cleaned_data["active"])
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved. Coupons already given keep the expiry they were given."))
            return redirect("web:coupons", slug=slug)
    return render(request, "web/capture/coupon_edit.html", {"definition": definition, "form": form})


@workspace_page(Action.OPERATE)
def counter(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The counter: type or scan a code, see whose coupon it is and whether it can be used, redeem it with one
    tap. A refusal (used, expired, unknown — including another shop's code) says why in plain words."""
    workspace = request.workspace
    code = (request.POST.get("code") or request.GET.get("code") or "").strip()
    form = RedeemForm(initial={"code": code})
    context: dict[str, object] = {"form": form, "recent": queries.recent_redemptions(workspace)[:10]}
    if request.method == "POST" and request.POST.get("redeem"):
        try:
            redemption = coupons.redeem(workspace=workspace, actor=request.actor, code=code)
        except (Conflict, NotFound) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Redeemed: %(benefit)s (%(code)s).") % {
                "benefit": redemption.coupon.definition.benefit,
                "code": rules.format_coupon_code(redemption.coupon.code)})
            return redirect("web:counter", slug=slug)
    if code:
        try:
            coupon = coupons.find(workspace=workspace, code=code)
        except NotFound as exc:
            context["problem"] = exc.message
        else:
            verdict = coupons.state(coupon)
            context.update(coupon=coupon, formatted=rules.format_coupon_code(coupon.code), usable=verdict.usable,
                           refusal="" if verdict.usable else coupons.refusal(coupon, verdict.reason))
    return render(request, "web/capture/counter.html", context)
