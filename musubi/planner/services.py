"""Use cases of the planner: evaluate a plan's input, and keep saved plans in step with their ladder."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from pydantic import ValidationError

from musubi.catalog.models import Ladder, LadderStep, Offer
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput, NotFound
from musubi.kernel.tax import tax_rate_in_force
from musubi.planner import presentation, rules
from musubi.planner.models import Plan
from musubi.planner.schemas import PlanIn, to_plan
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


def explain(error: Any) -> str:
    """A schema error in the reader's language, for the common kinds; pydantic's own text otherwise."""
    ctx = error.get("ctx", {})
    kinds = {
        "missing": lambda: _("This is required."),
        "extra_forbidden": lambda: _("Unknown field."),
        "greater_than": lambda: _("Must be more than %(n)s.") % {"n": ctx.get("gt")},
        "greater_than_equal": lambda: _("Must be %(n)s or more.") % {"n": ctx.get("ge")},
        "less_than": lambda: _("Must be less than %(n)s.") % {"n": ctx.get("lt")},
        "less_than_equal": lambda: _("Must be %(n)s or less.") % {"n": ctx.get("le")},
        "int_type": lambda: _("Enter a whole number."),
        "int_parsing": lambda: _("Enter a whole number."),
        "int_from_float": lambda: _("Enter a whole number."),
        "decimal_parsing": lambda: _("Enter a number."),
        "decimal_type": lambda: _("Enter a number."),
        "string_too_short": lambda: _("Enter a value."),
        "string_pattern_mismatch": lambda: _("This value is not allowed here."),
    }
    make = kinds.get(error.get("type", ""))
    return str(make()) if make else str(error.get("msg", ""))


def parse(inputs: Any) -> PlanIn:
    """Validate a plan's input; every problem becomes a field of one ``InvalidInput``."""
    try:
        data = PlanIn.model_validate(inputs)
        to_plan(data)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in err["loc"]) or "body": explain(err) for err in exc.errors()}
        raise InvalidInput(_("The plan's input is not valid."), fields=fields) from exc
    except rules.PlanInputError as exc:
        raise InvalidInput(_("The plan's input is not valid."), fields={exc.field: exc.message}) from exc
    return data


def evaluate(inputs: Any) -> dict[str, Any]:
    data = parse(inputs)
    uncertainty = None
    if data.uncertainty is not None:
        uncertainty = {"draws": data.uncertainty.draws, "seed": data.uncertainty.seed,
                       "ranges": dict(data.uncertainty.ranges.items())}
    return presentation.present(to_plan(data), uncertainty=uncertainty)


def _offer_tax_rate(offer: Offer) -> str:
    return str(tax_rate_in_force(category=offer.product.tax_category, on=clock.now().date()))


def defaults_from_ladder(workspace: Workspace, *, ladder: Ladder, front: Offer) -> dict[str, Any]:
    """The front-end and back-ends of a plan as the ladder has them today.

    A subscription with a discounted first delivery that leads to itself splits in two: the first delivery is
    the front-end, the deliveries after it a back-end with one cycle fewer.
    """
    premium = getattr(front, "premium", None)
    backs = []
    for step in (LadderStep.objects.for_workspace(workspace).filter(ladder=ladder, front=front)
                 .select_related("back__product").order_by("id")):
        back = step.back
        cycles = back.cycles
        name = back.name
        if back.pk == front.pk:
            name = _("%(name)s, 2nd delivery on") % {"name": back.name}
            cycles = None if cycles is None else max(cycles - 1, 1)
        backs.append({
            "name": name[:100], "price": back.price, "tax_rate": _offer_tax_rate(back),
            "unit_cost": back.product.unit_cost, "take_rate": str(step.take_rate), "recurring": back.is_recurring,
            "retention": str(step.retention) if step.retention is not None else None, "cycles": cycles,
        })
    return {
        "currency": workspace.currency,
        "front": {"price": front.entry_price, "tax_rate": _offer_tax_rate(front), "unit_cost": front.product.unit_cost,
                  "premium_cost": premium.cost if premium else 0},
        "backs": backs,
    }


def _plan(workspace: Workspace, plan_id: int) -> Plan:
    plan = Plan.objects.for_workspace(workspace).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("This workspace has no such plan."))
    return plan


def _ladder_and_front(workspace: Workspace, ladder_id: int, front_offer_id: int) -> tuple[Ladder, Offer]:
    ladder = Ladder.objects.for_workspace(workspace).filter(pk=ladder_id).first()
    front = Offer.objects.for_workspace(workspace).select_related("product").filter(pk=front_offer_id).first()
    fields = {}
    if ladder is None:
        fields["ladder_id"] = _("Choose a ladder of this workspace.")
    if front is None:
        fields["front_offer_id"] = _("Choose an offer of this workspace.")
    elif ladder is not None and not LadderStep.objects.filter(ladder=ladder, front=front).exists():
        fields["front_offer_id"] = _("Choose a front-end that leads somewhere on this ladder.")
    if fields or ladder is None or front is None:
        raise InvalidInput(_("The plan's input is not valid."), fields=fields)
    return ladder, front


@transaction.atomic
def create_plan(*, workspace: Workspace, actor: Actor, name: str, ladder_id: int | None = None,
                front_offer_id: int | None = None, inputs: dict[str, Any] | None = None) -> Plan:
    """A plan from a ladder (its defaults copied from the ladder, then ``inputs`` laid over them), or from
    ``inputs`` alone."""
    actor.require(Action.MANAGE)
    if not name.strip() or len(name) > 200:
        raise InvalidInput(_("The plan's input is not valid."), fields={"name": _("Enter a name of 1–200 characters.")})
    ladder = front = None
    merged: dict[str, Any] = {"acquisition": {}, "target_profit_per_customer": 0, "monthly_profit_target": 0,
                              "lead_conversion": "1"}
    if ladder_id is not None or front_offer_id is not None:
        ladder, front = _ladder_and_front(workspace, ladder_id or 0, front_offer_id or 0)
        merged.update(defaults_from_ladder(workspace, ladder=ladder, front=front))
    elif inputs is None:
        raise InvalidInput(_("The plan's input is not valid."),
                           fields={"ladder_id": _("Choose a ladder, or give the plan's inputs.")})
    merged.update(inputs or {})
    data = parse(merged)
    plan = Plan.objects.create(workspace=workspace, name=name.strip(), ladder=ladder, front_offer=front,
                               inputs=data.model_dump(mode="json", exclude_none=False))
    record_audit(workspace=workspace, actor=actor, action="plan.created", obj=plan, changes={"name": plan.name})
    return plan


@transaction.atomic
def update_plan(*, workspace: Workspace, actor: Actor, plan_id: int, name: str | None = None,
                inputs: dict[str, Any] | None = None) -> Plan:
    actor.require(Action.MANAGE)
    plan = _plan(workspace, plan_id)
    if name is not None:
        if not name.strip() or len(name) > 200:
            raise InvalidInput(_("The plan's input is not valid."),
                               fields={"name": _("Enter a name of 1–200 characters.")})
        plan.name = name.strip()
    if inputs is not None:
        plan.inputs = parse(inputs).model_dump(mode="json")
    plan.save()
    record_audit(workspace=workspace, actor=actor, action="plan.updated", obj=plan, changes={"name": plan.name})
    return plan


@transaction.atomic
def refresh_from_ladder(*, workspace: Workspace, actor: Actor, plan_id: int) -> Plan:
    """Copy the front-end and back-ends from the ladder again; keep acquisition, targets and simulation."""
    actor.require(Action.MANAGE)
    plan = _plan(workspace, plan_id)
    if plan.ladder_id is None or plan.front_offer_id is None:
        raise InvalidInput(_("This plan is not tied to a ladder any more."), code="no_ladder")
    ladder, front = _ladder_and_front(workspace, plan.ladder_id, plan.front_offer_id)
    inputs = {**plan.inputs, **defaults_from_ladder(workspace, ladder=ladder, front=front)}
    if inputs.get("uncertainty"):
        # Ranges on back-ends that no longer exist would make the plan invalid: keep only those that still fit.
        ranges = {path: r for path, r in inputs["uncertainty"]["ranges"].items()
                  if not path.startswith("backs.") or int(path.split(".")[1]) < len(inputs["backs"])}
        inputs["uncertainty"] = {**inputs["uncertainty"], "ranges": ranges}
    plan.inputs = parse(inputs).model_dump(mode="json")
    plan.save()
    record_audit(workspace=workspace, actor=actor, action="plan.refreshed", obj=plan)
    return plan


@transaction.atomic
def delete_plan(*, workspace: Workspace, actor: Actor, plan_id: int) -> None:
    actor.require(Action.MANAGE)
    plan = _plan(workspace, plan_id)
    record_audit(workspace=workspace, actor=actor, action="plan.deleted", changes={"name": plan.name})
    plan.delete()
