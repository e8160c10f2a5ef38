"""Reads of the catalog for pages, the API and the planner."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from musubi.catalog.models import Ladder, LadderStep, Offer, Premium, Product
from musubi.catalog.rules import OfferFacts, PremiumFacts, PremiumLimit, StepFacts, ladder_problems, premium_limit
from musubi.catalog.services import publishing_refusal
from musubi.kernel.errors import NotFound
from musubi.workspaces.models import Workspace


def products(workspace: Workspace) -> QuerySet[Product]:
    return Product.objects.for_workspace(workspace).order_by("name", "id")


def offers(workspace: Workspace) -> QuerySet[Offer]:
    return Offer.objects.for_workspace(workspace).select_related("product", "premium").order_by("role", "price", "id")


def ladders(workspace: Workspace) -> QuerySet[Ladder]:
    return Ladder.objects.for_workspace(workspace).order_by("name", "id")


def steps(workspace: Workspace, ladder: Ladder) -> QuerySet[LadderStep]:
    return (LadderStep.objects.for_workspace(workspace).filter(ladder=ladder)
            .select_related("front__product", "back__product", "front__premium", "back__premium").order_by("id"))


def product(workspace: Workspace, product_id: int) -> Product:
    found = products(workspace).filter(pk=product_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such product."))
    return found


def ladder(workspace: Workspace, ladder_id: int) -> Ladder:
    found = ladders(workspace).filter(pk=ladder_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such ladder."))
    return found


def offer(workspace: Workspace, offer_id: int) -> Offer:
    found = offers(workspace).filter(pk=offer_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such offer."))
    return found


def premium_limit_of(offer: Offer) -> PremiumLimit | None:
    premium: Premium | None = getattr(offer, "premium", None)
    if premium is None:
        return None
    return premium_limit(PremiumFacts(kind=premium.kind, legal_value=premium.legal_value,
                                      purchase_required=premium.purchase_required,
                                      visit_required=premium.visit_required,
                                      cheapest_normal_purchase=premium.cheapest_normal_purchase,
                                      offer_price=offer.entry_price))


@dataclass(frozen=True)
class LadderOverview:
    ladder: Ladder
    steps: list[LadderStep]
    problems: list[str]


def ladder_overview(workspace: Workspace, ladder: Ladder) -> LadderOverview:
    """The ladder's steps and, in plain words, what is wrong with them. (Front-ends that lead nowhere are on
    no ladder at all: ``unladdered_fronts`` finds those.)"""
    ladder_steps = list(steps(workspace, ladder))
    involved = {s.front_id for s in ladder_steps} | {s.back_id for s in ladder_steps}
    candidates = [o for o in offers(workspace) if o.pk in involved]
    facts = [OfferFacts(id=o.pk, name=o.name, role=o.role, entry_price=o.entry_price, price=o.price,
                        premium_refusal=publishing_refusal(o), published=o.status == "published")
             for o in candidates]
    problems = ladder_problems(facts, [StepFacts(front_id=s.front_id, back_id=s.back_id) for s in ladder_steps])
    return LadderOverview(ladder=ladder, steps=ladder_steps, problems=problems)


def unladdered_fronts(workspace: Workspace) -> list[Offer]:
    """Front-end offers that no ladder leads anywhere: customers won and never sold to again."""
    led = set(LadderStep.objects.for_workspace(workspace).values_list("front_id", flat=True))
    return [o for o in offers(workspace).filter(role="front") if o.pk not in led]
