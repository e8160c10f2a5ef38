"""Use cases of the catalog: products, offers and their premiums, ladders. Each owns its transaction, checks
its input as a whole and names every wrong field, and writes the audit log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from musubi.catalog.choices import Billing, Interval, OfferRole, OfferStatus, PremiumKind, ProductKind, TaxCategory
from musubi.catalog.models import Ladder, LadderStep, Offer, Premium, Product
from musubi.catalog.rules import PremiumFacts, premium_refusal
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.workspaces.choices import LEGAL_FIELD_LABELS
from musubi.workspaces.models import Workspace
from musubi.workspaces.queries import missing_legal_fields
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

PRODUCT_FIELDS = ("name", "description", "kind", "tax_category", "goods_cost", "shipping_cost", "fulfilment_cost",
                  "payment_fee")
OFFER_FIELDS = ("product_id", "name", "role", "price", "billing", "interval", "cycles", "first_price",
                "min_deliveries", "upsell_offer_id")
PREMIUM_FIELDS = ("description", "kind", "legal_value", "cost", "purchase_required", "visit_required",
                  "cheapest_normal_purchase")


def _get[T](model: type[T], workspace: Workspace, pk: int, what: str) -> T:
    found = model.objects.for_workspace(workspace).filter(pk=pk).first()  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(_("This workspace has no such %(what)s.") % {"what": what})
    return found  # type: ignore[no-any-return]


def _merged(obj: Any, allowed: tuple[str, ...], changes: dict[str, Any]) -> dict[str, Any]:
    """Every field of ``obj`` named in ``allowed``, with ``changes`` laid over; an unknown change is an error."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise InvalidInput(_("Some fields need attention."), fields={name: _("Unknown field.") for name in unknown})
    return {name: changes.get(name, getattr(obj, name)) for name in allowed}


def _assign(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the values that differ and return them as ``{field: [before, after]}`` for the audit log."""
    diff = {name: [getattr(obj, name), value] for name, value in values.items() if getattr(obj, name) != value}
    for name, (_before, after) in diff.items():
        setattr(obj, name, after)
    return diff


def _save_changed(obj: Any, diff: dict[str, list[Any]], *, workspace: Workspace, actor: Actor, action: str) -> None:
    if diff:
        obj.save(update_fields=list(diff))
        record_audit(workspace=workspace, actor=actor, action=action, obj=obj, changes=diff)


def _require_text(fields: dict[str, str], name: str, value: Any, *, max_length: int) -> None:
    if not isinstance(value, str) or not value.strip():
        fields[name] = _("Enter a value.")
    elif len(value) > max_length:
        fields[name] = _("Use at most %(n)s characters.") % {"n": max_length}


def _require_amount(fields: dict[str, str], name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        fields[name] = _("Enter a whole amount of 0 or more, in yen.")


def _raise(fields: dict[str, str]) -> None:
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)


# --- Products ----------------------------------------------------------------------------------------------

def _check_product(values: dict[str, Any]) -> None:
    fields: dict[str, str] = {}
    _require_text(fields, "name", values["name"], max_length=200)
    if values["kind"] not in ProductKind.values:
        fields["kind"] = _("Choose a kind of product.")
    if values["tax_category"] not in TaxCategory.values:
        fields["tax_category"] = _("Choose a tax rate.")
    for name in ("goods_cost", "shipping_cost", "fulfilment_cost", "payment_fee"):
        _require_amount(fields, name, values[name])
    _raise(fields)


@transaction.atomic
def create_product(*, workspace: Workspace, actor: Actor, name: str, description: str = "",
                   kind: str = ProductKind.PHYSICAL, tax_category: str = TaxCategory.STANDARD, goods_cost: int = 0,
                   shipping_cost: int = 0, fulfilment_cost: int = 0, payment_fee: int = 0) -> Product:
    actor.require(Action.MANAGE)
    values = {"name": name, "description": description, "kind": kind, "tax_category": tax_category,
              "goods_cost": goods_cost, "shipping_cost": shipping_cost, "fulfilment_cost": fulfilment_cost,
              "payment_fee": payment_fee}
    _check_product(values)
    product = Product.objects.create(workspace=workspace, **{**values, "name": name.strip()})
    record_audit(workspace=workspace, actor=actor, action="product.created", obj=product,
                 changes={"name": product.name})
    return product


@transaction.atomic
def update_product(*, workspace: Workspace, actor: Actor, product_id: int, **changes: Any) -> Product:
    actor.require(Action.MANAGE)
    product = _get(Product, workspace, product_id, _("product"))
    values = _merged(product, PRODUCT_FIELDS, changes)
    _check_product(values)
    _save_changed(product, _assign(product, values), workspace=workspace, actor=actor, action="product.updated")
    return product


@transaction.atomic
def delete_product(*, workspace: Workspace, actor: Actor, product_id: int) -> None:
    actor.require(Action.MANAGE)
    product = _get(Product, workspace, product_id, _("product"))
    try:
        product.delete()
    except ProtectedError as exc:
        raise Conflict(_("Offers still sell this product; delete them first."), code="in_use") from exc
    record_audit(workspace=workspace, actor=actor, action="product.deleted", changes={"name": product.name})


# --- Offers ------------------------------------------------------------------------------------------------

def _check_offer(workspace: Workspace, values: dict[str, Any]) -> None:
    fields: dict[str, str] = {}
    if not isinstance(values["product_id"], int) or not Product.objects.for_workspace(workspace).filter(
            pk=values["product_id"]).exists():
        fields["product_id"] = _("Choose a product of this workspace.")
    _require_text(fields, "name", values["name"], max_length=200)
    if values["role"] not in OfferRole.values:
        fields["role"] = _("Choose front-end, middle or back-end.")
    _require_amount(fields, "price", values["price"])
    _require_amount(fields, "first_price", values["first_price"], optional=True)
    upsell = values.get("upsell_offer_id")
    if upsell is not None and (isinstance(upsell, bool) or not isinstance(upsell, int) or not (
            Offer.objects.for_workspace(workspace).filter(pk=upsell).exists())):
        fields["upsell_offer_id"] = _("Choose an offer of this workspace.")
    if values["billing"] not in Billing.values:
        fields["billing"] = _("Choose one-time or recurring.")
    elif values["billing"] == Billing.RECURRING:
        if values["interval"] not in Interval.values:
            fields["interval"] = _("Choose how often a subscription delivers.")
        cycles = values["cycles"]
        if cycles is not None and (isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1):
            fields["cycles"] = _("Enter the number of deliveries (1 or more), or leave it empty for until cancelled.")
        if (values["first_price"] is not None and "price" not in fields and "first_price" not in fields
                and values["first_price"] >= values["price"]):
            fields["first_price"] = _("A discounted first delivery costs less than the regular price.")
        minimum = values.get("min_deliveries")
        if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 2):
            fields["min_deliveries"] = _("Enter a minimum of 2 deliveries or more, or leave it empty for none.")
        elif minimum is not None and "cycles" not in fields and cycles is not None and minimum > cycles:
            fields["min_deliveries"] = _("The minimum cannot be more than the number of deliveries.")
    else:
        for name in ("interval", "cycles", "first_price", "min_deliveries"):
            if values.get(name) not in (None, ""):
                fields[name] = _("Only a recurring offer has this.")
    _raise(fields)


def _premium_facts(offer: Offer, premium: Premium | None = None) -> PremiumFacts | None:
    premium = premium if premium is not None else getattr(offer, "premium", None)
    if premium is None:
        return None
    return PremiumFacts(kind=premium.kind, legal_value=premium.legal_value,
                        purchase_required=premium.purchase_required, visit_required=premium.visit_required,
                        cheapest_normal_purchase=premium.cheapest_normal_purchase, offer_price=offer.entry_price)


def publishing_refusal(offer: Offer) -> str | None:
    """Why ``offer`` may not be (or stay) published, or None."""
    facts = _premium_facts(offer)
    return premium_refusal(facts) if facts else None


def legal_refusal(workspace: Workspace) -> str | None:
    """Why no offer of ``workspace`` may be published yet: the 特商法 particulars that are still empty, or None.
    Advertising an offer without them breaks the Act on Specified Commercial Transactions (Art. 11)."""
    missing = missing_legal_fields(workspace)
    if not missing:
        return None
    names = "、".join(str(LEGAL_FIELD_LABELS[name]) for name in missing)
    return _("Fill in the seller's legal details (特定商取引法に基づく表記) first; still empty: %(fields)s.") % {
        "fields": names}


@transaction.atomic
def create_offer(*, workspace: Workspace, actor: Actor, product_id: int, name: str, role: str, price: int,
                 billing: str = Billing.ONE_TIME, interval: str = "", cycles: int | None = None,
                 first_price: int | None = None, min_deliveries: int | None = None,
                 upsell_offer_id: int | None = None) -> Offer:
    actor.require(Action.MANAGE)
    values = {"product_id": product_id, "name": name, "role": role, "price": price, "billing": billing,
              "interval": interval or "", "cycles": cycles, "first_price": first_price,
              "min_deliveries": min_deliveries, "upsell_offer_id": upsell_offer_id}
    _check_offer(workspace, values)
    offer = Offer.objects.create(workspace=workspace, **{**values, "name": name.strip()})
    record_audit(workspace=workspace, actor=actor, action="offer.created", obj=offer,
                 changes={"name": offer.name, "price": price, "role": role})
    return offer


@transaction.atomic
def update_offer(*, workspace: Workspace, actor: Actor, offer_id: int, **changes: Any) -> Offer:
    """Change an offer. A published offer must stay publishable: a price cut that would put its premium over
    the legal limit is refused."""
    actor.require(Action.MANAGE)
    offer = _get(Offer, workspace, offer_id, _("offer"))
    values = _merged(offer, OFFER_FIELDS, changes)
    values["interval"] = values["interval"] or ""
    if values["upsell_offer_id"] is not None and values["upsell_offer_id"] == offer.pk:
        raise InvalidInput(_("Some fields need attention."),
                           fields={"upsell_offer_id": _("An offer cannot be its own upsell.")})
    _check_offer(workspace, values)
    diff = _assign(offer, values)
    if offer.status == OfferStatus.PUBLISHED and (why := publishing_refusal(offer)):
        raise InvalidInput(why, code="premium_over_limit", fields={"price": why})
    _save_changed(offer, diff, workspace=workspace, actor=actor, action="offer.updated")
    return offer


@transaction.atomic
def delete_offer(*, workspace: Workspace, actor: Actor, offer_id: int) -> None:
    actor.require(Action.MANAGE)
    offer = _get(Offer, workspace, offer_id, _("offer"))
    record_audit(workspace=workspace, actor=actor, action="offer.deleted", changes={"name": offer.name})
    offer.delete()


@transaction.atomic
def publish_offer(*, workspace: Workspace, actor: Actor, offer_id: int) -> Offer:
    """Publish an offer, refusing while the workspace's legal particulars are incomplete (the message names
    the empty ones) or when its premium is over the legal limit (the message names the limit and how it was
    computed)."""
    actor.require(Action.MANAGE)
    offer = _get(Offer, workspace, offer_id, _("offer"))
    if why := legal_refusal(workspace):
        raise Conflict(why, code="legal_profile_incomplete",
                       fields={name: _("Enter a value.") for name in missing_legal_fields(workspace)})
    if why := publishing_refusal(offer):
        # The request is fine; the offer as it stands is not publishable: a conflict with its state.
        raise Conflict(why, code="premium_over_limit", fields={"premium": why})
    if offer.status != OfferStatus.PUBLISHED:
        offer.status = OfferStatus.PUBLISHED
        offer.save(update_fields=["status"])
        record_audit(workspace=workspace, actor=actor, action="offer.published", obj=offer)
    return offer


@transaction.atomic
def unpublish_offer(*, workspace: Workspace, actor: Actor, offer_id: int) -> Offer:
    actor.require(Action.MANAGE)
    offer = _get(Offer, workspace, offer_id, _("offer"))
    if offer.status != OfferStatus.DRAFT:
        offer.status = OfferStatus.DRAFT
        offer.save(update_fields=["status"])
        record_audit(workspace=workspace, actor=actor, action="offer.unpublished", obj=offer)
    return offer


def _check_premium(values: dict[str, Any]) -> None:
    fields: dict[str, str] = {}
    _require_text(fields, "description", values["description"], max_length=200)
    if values["kind"] not in PremiumKind.values:
        fields["kind"] = _("Choose what kind of premium this is.")
    _require_amount(fields, "legal_value", values["legal_value"])
    _require_amount(fields, "cost", values["cost"])
    _require_amount(fields, "cheapest_normal_purchase", values["cheapest_normal_purchase"], optional=True)
    for name in ("purchase_required", "visit_required"):
        if not isinstance(values[name], bool):
            fields[name] = _("Answer yes or no.")
    _raise(fields)


@transaction.atomic
def set_premium(*, workspace: Workspace, actor: Actor, offer_id: int, description: str, legal_value: int,
                cost: int = 0, kind: str = PremiumKind.GIVEAWAY, purchase_required: bool = True,
                visit_required: bool = False, cheapest_normal_purchase: int | None = None) -> Premium:
    """Attach or replace the offer's premium. On a published offer, one over the limit is refused."""
    actor.require(Action.MANAGE)
    offer = _get(Offer, workspace, offer_id, _("offer"))
    values = {"description": description, "kind": kind, "legal_value": legal_value, "cost": cost,
              "purchase_required": purchase_required, "visit_required": visit_required,
              "cheapest_normal_purchase": cheapest_normal_purchase}
    _check_premium(values)
    premium = Premium.objects.filter(offer=offer).first() or Premium(workspace=workspace, offer=offer)
    for name, value in values.items():
        setattr(premium, name, value)
    facts = _premium_facts(offer, premium)
    if offer.status == OfferStatus.PUBLISHED and facts and (why := premium_refusal(facts)):
        raise InvalidInput(why, code="premium_over_limit", fields={"legal_value": why})
    premium.save()
    record_audit(workspace=workspace, actor=actor, action="offer.premium_set", obj=offer,
                 changes={"premium": description, "legal_value": legal_value})
    return premium


@transaction.atomic
def remove_premium(*, workspace: Workspace, actor: Actor, offer_id: int) -> None:
    actor.require(Action.MANAGE)
    offer = _get(Offer, workspace, offer_id, _("offer"))
    deleted, _detail = Premium.objects.filter(offer=offer).delete()
    if deleted:
        record_audit(workspace=workspace, actor=actor, action="offer.premium_removed", obj=offer)


# --- Ladders -----------------------------------------------------------------------------------------------

@transaction.atomic
def create_ladder(*, workspace: Workspace, actor: Actor, name: str, description: str = "") -> Ladder:
    actor.require(Action.MANAGE)
    fields: dict[str, str] = {}
    _require_text(fields, "name", name, max_length=200)
    _raise(fields)
    ladder = Ladder.objects.create(workspace=workspace, name=name.strip(), description=description)
    record_audit(workspace=workspace, actor=actor, action="ladder.created", obj=ladder, changes={"name": ladder.name})
    return ladder


@transaction.atomic
def rename_ladder(*, workspace: Workspace, actor: Actor, ladder_id: int, name: str, description: str | None = None
                  ) -> Ladder:
    actor.require(Action.MANAGE)
    ladder = _get(Ladder, workspace, ladder_id, _("ladder"))
    fields: dict[str, str] = {}
    _require_text(fields, "name", name, max_length=200)
    _raise(fields)
    ladder.name = name.strip()
    if description is not None:
        ladder.description = description
    ladder.save(update_fields=["name", "description"])
    record_audit(workspace=workspace, actor=actor, action="ladder.updated", obj=ladder, changes={"name": ladder.name})
    return ladder


@transaction.atomic
def delete_ladder(*, workspace: Workspace, actor: Actor, ladder_id: int) -> None:
    actor.require(Action.MANAGE)
    ladder = _get(Ladder, workspace, ladder_id, _("ladder"))
    record_audit(workspace=workspace, actor=actor, action="ladder.deleted", changes={"name": ladder.name})
    ladder.delete()


def _check_rate(fields: dict[str, str], name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        fields[name] = _("Enter a share between 0 and 1 (0.25 is 25%).")


@transaction.atomic
def add_step(*, workspace: Workspace, actor: Actor, ladder_id: int, front_id: int, back_id: int,
             take_rate: Decimal, retention: Decimal | None = None) -> LadderStep:
    """Link a front-end to a back-end it leads to. A recurring offer with a discounted first delivery may lead
    to itself (its later deliveries)."""
    actor.require(Action.MANAGE)
    ladder = _get(Ladder, workspace, ladder_id, _("ladder"))
    fields: dict[str, str] = {}
    offers = {o.pk: o for o in Offer.objects.for_workspace(workspace).filter(pk__in=[front_id, back_id])}
    front, back = offers.get(front_id), offers.get(back_id)
    if front is None:
        fields["front_id"] = _("Choose an offer of this workspace.")
    elif front.role == OfferRole.BACK and not (front.pk == back_id and front.first_price is not None):
        fields["front_id"] = _("Choose a front-end or middle offer.")
    if back is None:
        fields["back_id"] = _("Choose an offer of this workspace.")
    elif back.role == OfferRole.FRONT and not (back.pk == front_id and back.first_price is not None):
        fields["back_id"] = _("Choose a back-end or middle offer.")
    elif back.pk == front_id and back.first_price is None:
        fields["back_id"] = _("Only a subscription with a discounted first delivery can lead to itself.")
    _check_rate(fields, "take_rate", take_rate)
    _check_rate(fields, "retention", retention, optional=True)
    if back is not None and back.is_recurring and "back_id" not in fields:
        if retention is None:
            fields["retention"] = _("For a subscription, enter the share who stay from one delivery to the next.")
        elif back.cycles is None and retention >= 1 and "retention" not in fields:
            # Everyone staying for ever makes an open-ended subscription worth infinitely much.
            fields["retention"] = _("A subscription that runs until cancelled needs a retention below 100%.")
    _raise(fields)
    if LadderStep.objects.filter(ladder=ladder, front_id=front_id, back_id=back_id).exists():
        raise Conflict(_("This step is already on the ladder."), fields={"back_id": _("Already on the ladder.")})
    step = LadderStep.objects.create(workspace=workspace, ladder=ladder, front_id=front_id, back_id=back_id,
                                     take_rate=take_rate, retention=retention if back and back.is_recurring else None)
    record_audit(workspace=workspace, actor=actor, action="ladder.step_added", obj=ladder,
                 changes={"front": front.name if front else "", "back": back.name if back else "",
                          "take_rate": str(take_rate)})
    return step


@transaction.atomic
def remove_step(*, workspace: Workspace, actor: Actor, ladder_id: int, step_id: int) -> None:
    actor.require(Action.MANAGE)
    step = LadderStep.objects.for_workspace(workspace).filter(pk=step_id, ladder_id=ladder_id).first()
    if step is None:
        raise NotFound(_("This ladder has no such step."))
    record_audit(workspace=workspace, actor=actor, action="ladder.step_removed", obj=step.ladder)
    step.delete()
