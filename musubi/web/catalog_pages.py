"""The ladder pages: products, offers and their premiums, ladders and their steps."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.catalog import queries, services
from musubi.commerce import access
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.catalog_forms import LadderForm, OfferForm, PremiumForm, ProductForm, StepForm
from musubi.workspaces.rules import Action, role_allows


def _step_choices(request: WorkspaceRequest) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Offers that can start a step (front-ends, middles, subscriptions with a discounted first delivery) and
    offers that can end one (back-ends, middles, those same subscriptions), each with the price that applies."""
    offers = list(queries.offers(request.workspace))
    fronts = [(o.pk, f"{o.name}（¥{o.entry_price:,}）") for o in offers
              if o.role in ("front", "middle") or o.first_price is not None]
    backs = [(o.pk, f"{o.name}（¥{o.price:,}）") for o in offers
             if o.role in ("back", "middle") or o.first_price is not None]
    return fronts, backs


@workspace_page()
def ladder_home(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    overviews = [queries.ladder_overview(workspace, ladder) for ladder in queries.ladders(workspace)]
    offers = list(queries.offers(workspace))
    lonely = queries.unladdered_fronts(workspace)
    problems = [_("The front-end “%(name)s” is on no ladder: it wins customers the business never sells to "
                  "again.") % {"name": o.name} for o in lonely]
    for overview in overviews:
        problems += [f"{overview.ladder.name}: {p}" for p in overview.problems]
    return render(request, "web/ladder/home.html", {
        "overviews": overviews, "offers": [(o, queries.premium_limit_of(o)) for o in offers],
        "products": queries.products(workspace), "problems": problems,
        "can_manage": role_allows(request.membership.role, Action.MANAGE),
    })


def _create(request: WorkspaceRequest, form: Any, create: Any, *, template: str, done: str,
            context: dict[str, Any] | None = None) -> HttpResponse:
    """The pattern of every "new …" page: show the form; on a valid post, call the service; show its errors
    on the form's fields, or go back to the ladder page."""
    if request.method == "POST" and form.is_valid():
        try:
            create(form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, done)
            return redirect("web:ladder", slug=request.workspace.slug)
    return render(request, template, {"form": form, **(context or {})})


@workspace_page(Action.MANAGE)
def product_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = ProductForm(request.POST or None)
    return _create(request, form, lambda data: services.create_product(
        workspace=request.workspace, actor=request.actor, **data),
        template="web/ladder/form.html", done=_("The product was added."),
        context={"title": _("Add a product")})


def _offer_choices(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return [(o.pk, o.name) for o in queries.offers(request.workspace)]


@workspace_page(Action.MANAGE)
def offer_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    products = [(p.pk, p.name) for p in queries.products(request.workspace)]
    form = OfferForm(request.POST or None, products=products, offers=_offer_choices(request))
    return _create(request, form, lambda data: services.create_offer(
        workspace=request.workspace, actor=request.actor, **data),
        template="web/ladder/form.html", done=_("The offer was added as a draft."),
        context={"title": _("Add an offer")})


@workspace_page(Action.MANAGE)
def ladder_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = LadderForm(request.POST or None)
    return _create(request, form, lambda data: services.create_ladder(
        workspace=request.workspace, actor=request.actor, **data),
        template="web/ladder/form.html", done=_("The ladder was created."), context={"title": _("Create a ladder")})


@workspace_page(Action.MANAGE)
def step_new(request: WorkspaceRequest, slug: str, ladder_id: int) -> HttpResponse:
    ladder = queries.ladder(request.workspace, ladder_id)
    fronts, backs = _step_choices(request)
    form = StepForm(request.POST or None, fronts=fronts, backs=backs)
    return _create(request, form, lambda data: services.add_step(
        workspace=request.workspace, actor=request.actor, ladder_id=ladder.pk, **data),
        template="web/ladder/form.html", done=_("The step was added."),
        context={"title": _("Add a step to “%(name)s”") % {"name": ladder.name}})


@require_POST
@workspace_page(Action.MANAGE)
def step_remove(request: WorkspaceRequest, slug: str, ladder_id: int, step_id: int) -> HttpResponse:
    return act(request, lambda: services.remove_step(workspace=request.workspace, actor=request.actor,
                                                     ladder_id=ladder_id, step_id=step_id),
               done=_("The step was removed."), then=redirect("web:ladder", slug=slug))


@workspace_page()
def offer_detail(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    """One offer: its terms, its premium with the legal limit worked out, and publishing."""
    offer = queries.offer(request.workspace, offer_id)
    premium = getattr(offer, "premium", None)
    initial = {name: getattr(premium, name) for name in services.PREMIUM_FIELDS} if premium else None
    form = PremiumForm(request.POST or None, initial=initial)
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        if form.is_valid():
            try:
                services.set_premium(workspace=request.workspace, actor=request.actor, offer_id=offer.pk,
                                     **form.cleaned_data)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("The premium was saved."))
                return redirect("web:offer", slug=slug, offer_id=offer.pk)
    return render(request, "web/ladder/offer.html", {
        "offer": offer, "form": form, "limit": queries.premium_limit_of(offer),
        "refusal": services.publishing_refusal(offer), "legal_refusal": services.legal_refusal(request.workspace),
        "invitation_only": access.is_invitation_only(offer),
        "can_manage": role_allows(request.membership.role, Action.MANAGE),
    })


@require_POST
@workspace_page(Action.MANAGE)
def offer_publish(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    try:
        services.publish_offer(workspace=request.workspace, actor=request.actor, offer_id=offer_id)
    except MusubiError as exc:
        # The page itself explains the limit; the banner says what to do about it.
        messages.error(request, _("Not published: lower the premium's normal price to its limit, or remove "
                                  "the premium.") if exc.code == "premium_over_limit" else exc.message)
        if exc.code == "legal_profile_incomplete":
            return redirect("web:legal_settings", slug=slug)
    else:
        messages.success(request, _("The offer is published."))
    return redirect("web:offer", slug=slug, offer_id=offer_id)


@require_POST
@workspace_page(Action.MANAGE)
def offer_unpublish(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    return act(request, lambda: services.unpublish_offer(workspace=request.workspace, actor=request.actor,
                                                         offer_id=offer_id),
               done=_("The offer is back to draft."), then=redirect("web:offer", slug=slug, offer_id=offer_id))


@require_POST
@workspace_page(Action.MANAGE)
def premium_remove(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    return act(request, lambda: services.remove_premium(workspace=request.workspace, actor=request.actor,
                                                        offer_id=offer_id),
               done=_("The premium was removed."), then=redirect("web:offer", slug=slug, offer_id=offer_id))


@workspace_page(Action.MANAGE)
def offer_edit(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    offer = queries.offer(request.workspace, offer_id)
    products = [(p.pk, p.name) for p in queries.products(request.workspace)]
    initial = {name: getattr(offer, name) for name in services.OFFER_FIELDS}
    form = OfferForm(request.POST or None, products=products, initial=initial,
                     offers=[(pk, name) for pk, name in _offer_choices(request) if pk != offer.pk])
    if request.method == "POST" and form.is_valid():
        try:
            services.update_offer(workspace=request.workspace, actor=request.actor, offer_id=offer.pk,
                                  **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("The offer was saved."))
            return redirect("web:offer", slug=slug, offer_id=offer.pk)
    title = _("Change “%(name)s”") % {"name": offer.name}
    return render(request, "web/ladder/form.html", {"form": form, "title": title})


@require_POST
@workspace_page(Action.MANAGE)
def offer_delete(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    return act(request, lambda: services.delete_offer(workspace=request.workspace, actor=request.actor,
                                                      offer_id=offer_id),
               done=_("The offer was deleted."), then=redirect("web:ladder", slug=slug))


@require_POST
@workspace_page(Action.MANAGE)
def ladder_delete(request: WorkspaceRequest, slug: str, ladder_id: int) -> HttpResponse:
    return act(request, lambda: services.delete_ladder(workspace=request.workspace, actor=request.actor,
                                                       ladder_id=ladder_id),
               done=_("The ladder was deleted."), then=redirect("web:ladder", slug=slug))


@require_POST
@workspace_page(Action.MANAGE)
def product_delete(request: WorkspaceRequest, slug: str, product_id: int) -> HttpResponse:
    return act(request, lambda: services.delete_product(workspace=request.workspace, actor=request.actor,
                                                        product_id=product_id),
               done=_("The product was deleted."), then=redirect("web:ladder", slug=slug))
