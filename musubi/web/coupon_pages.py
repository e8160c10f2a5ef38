"""Coupons: the owner defines them; the counter staff redeem them from a phone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from musubi.capture import coupons, queries, rules
from musubi.catalog.models import Offer
from musubi.kernel.errors import Conflict, MusubiError, NotFound
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.optin_forms import CouponDefinitionForm, RedeemForm
from musubi.workspaces.rules import Action, role_allows


@workspace_page()
def coupon_definitions(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    offers = [(o.pk, o.name) for o in Offer.objects.for_workspace(workspace).order_by("name")]
    form = CouponDefinitionForm(request.POST or None, offers=offers)
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        zone = zoneinfo.ZoneInfo(workspace.timezone)

        def end_of_day(day: dt.date) -> dt.datetime:  # "last day" means until that day ends in the shop
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)

        if form.is_valid():
            try:
                coupons.create_definition(workspace=workspace, actor=request.actor, terms=form.terms(end_of_day))
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("web:coupons", slug=slug)
    return render(request, "web/capture/coupons.html", {
        "definitions": queries.coupon_definitions(workspace), "form": form,
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


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
