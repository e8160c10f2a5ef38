"""The plan pages: saved plans of a ladder, each with its numbers, a tornado chart of what moves profit most,
the distribution of a simulation, and plans side by side."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from musubi.catalog import queries as catalog
from musubi.kernel.errors import MusubiError
from musubi.planner import queries, services
from musubi.web import charts
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.forms import ServiceErrorsMixin
from musubi.web.plan_forms import PlanForm, label_for
from musubi.workspaces.rules import Action, role_allows


class NewPlanForm(ServiceErrorsMixin):
    name = forms.CharField(label=gettext_lazy("Plan name"), max_length=200)
    start = forms.ChoiceField(label=gettext_lazy("Start from"),
                              help_text=gettext_lazy("A ladder and one of its front-ends; prices, costs and take "
                                                     "rates are copied from it."))

    def __init__(self, *args: Any, starts: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].choices = starts  # type: ignore[attr-defined]


def _starts(request: WorkspaceRequest) -> list[tuple[str, str]]:
    starts = []
    for ladder in catalog.ladders(request.workspace):
        fronts = {s.front_id: s.front for s in catalog.steps(request.workspace, ladder)}
        starts += [(f"{ladder.pk}:{front.pk}", f"{ladder.name} — {front.name}") for front in fronts.values()]
    return starts


@workspace_page()
def plan_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    plans = [(plan, services.evaluate(plan.inputs)) for plan in queries.plans(request.workspace)]
    form = NewPlanForm(starts=_starts(request))
    return render(request, "web/plans/list.html", {
        "plans": plans, "form": form, "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@require_POST
@workspace_page(Action.MANAGE)
def plan_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = NewPlanForm(request.POST, starts=_starts(request))
    if form.is_valid():
        ladder_id, front_id = (int(part) for part in form.cleaned_data["start"].split(":"))
        try:
            plan = services.create_plan(workspace=request.workspace, actor=request.actor,
                                        name=form.cleaned_data["name"], ladder_id=ladder_id, front_offer_id=front_id)
        except MusubiError as exc:
            messages.error(request, " ".join([exc.message, *exc.fields.values()]))
        else:
            return redirect("web:plan", slug=slug, plan_id=plan.pk)
    else:
        messages.error(request, _("Give the plan a name and choose where it starts."))
    return redirect("web:plans", slug=slug)


def _charts(result: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    tornado = charts.tornado(result["sensitivity"], base=result["profit_per_customer"],
                             label=lambda path: label_for(path, inputs))
    uncertainty = result.get("uncertainty")
    histogram = None
    if uncertainty:
        histogram = charts.histogram(uncertainty["histogram"], p10=uncertainty["p10"], p50=uncertainty["p50"],
                                     p90=uncertainty["p90"])
    return {"tornado": tornado, "histogram": histogram}


@workspace_page()
def plan_detail(request: WorkspaceRequest, slug: str, plan_id: int) -> HttpResponse:
    plan = queries.plan(request.workspace, plan_id)
    form = PlanForm(request.POST or None, plan_name=plan.name, inputs=plan.inputs)
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        if form.is_valid():
            try:
                services.update_plan(workspace=request.workspace, actor=request.actor, plan_id=plan.pk,
                                     name=form.cleaned_data["name"], inputs=form.new_inputs())
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("The plan was saved and recalculated."))
                return redirect("web:plan", slug=slug, plan_id=plan.pk)
    result = services.evaluate(plan.inputs)
    acquisition = plan.inputs.get("acquisition", {})
    # What commission in yen still leaves the target profit: the allowable CPA less the other acquisition costs.
    other_costs = acquisition.get("ad_cost", 0) + acquisition.get("affiliate_fixed", 0)
    max_commission = max(result["allowable_cpa"] - other_costs, 0)
    return render(request, "web/plans/detail.html", {
        "plan": plan, "form": form, "result": result, "max_commission": max_commission, **_charts(result, plan.inputs),
        "notes": [(label_for(field, plan.inputs) if "." in field else field, why)
                  for field, why in result["notes"].items()],
        "can_manage": role_allows(request.membership.role, Action.MANAGE),
    })


ASSUMPTIONS = [
    ("acquisition.ad_cost", gettext_lazy("Ad cost per customer"), "yen"),
    ("acquisition.affiliate_rate", gettext_lazy("Affiliate commission rate"), "percent"),
    ("front.price", gettext_lazy("Front-end price"), "yen"),
    ("lead_conversion", gettext_lazy("Lead-to-customer conversion"), "percent"),
    ("monthly_profit_target", gettext_lazy("Monthly profit target"), "yen"),
]

COMPARED = [
    ("front_margin", gettext_lazy("Front-end margin")), ("acquisition_cost", gettext_lazy("Acquisition cost")),
    ("back_value", gettext_lazy("Back-end value")), ("customer_value", gettext_lazy("Customer value")),
    ("profit_per_customer", gettext_lazy("Profit per customer")),
    ("allowable_cpa", gettext_lazy("Allowable CPA (限界CPA)")),
    ("breakeven_front_price", gettext_lazy("Front-end break-even price (the front alone)")),
    ("customers_needed", gettext_lazy("New customers needed a month")),
    ("leads_needed", gettext_lazy("Leads needed a month")),
]


@workspace_page()
def plan_compare(request: WorkspaceRequest, slug: str) -> HttpResponse:
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdigit()]
    plans = [p for p in queries.plans(request.workspace) if p.pk in ids]
    if len(plans) < 2:
        messages.error(request, _("Choose two or more plans to compare."))
        return redirect("web:plans", slug=slug)
    results = [services.evaluate(p.inputs) for p in plans]
    rows: list[tuple[str, str, list[Any]]] = [(str(label), key, [r[key] for r in results]) for key, label in COMPARED]
    rows.append((_("Chance a customer loses money"), "p_loss",
                 [(r.get("uncertainty") or {}).get("p_loss") for r in results]))
    assumptions: list[tuple[str, str, list[Any]]] = [
        (str(label), kind, [_value(p.inputs, path) for p in plans]) for path, label, kind in ASSUMPTIONS]
    most_backs = max(len(p.inputs.get("backs", [])) for p in plans)
    for index in range(most_backs):
        names = {_value(p.inputs, f"backs.{index}.name") for p in plans} - {None}
        # The same back-end in every plan is named; different ones are numbered.
        which = names.pop() if len(names) == 1 else _("Back-end %(n)s") % {"n": index + 1}
        for name, label in (("take_rate", _("take rate")), ("retention", _("retention"))):
            values = [_value(p.inputs, f"backs.{index}.{name}") for p in plans]
            if any(v is not None for v in values):
                assumptions.append((_("“%(name)s” %(what)s") % {"name": which, "what": label}, "percent", values))
    best = max(range(len(plans)), key=lambda i: results[i]["profit_per_customer"])
    return render(request, "web/plans/compare.html", {"plans": plans, "rows": rows, "best": plans[best],
                                                       "assumptions": assumptions, "results": results})


def _value(inputs: dict[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        if isinstance(node, list):
            node = node[int(part)] if int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        if node is None:
            return None
    return node


@require_POST
@workspace_page(Action.MANAGE)
def plan_refresh(request: WorkspaceRequest, slug: str, plan_id: int) -> HttpResponse:
    return act(request, lambda: services.refresh_from_ladder(workspace=request.workspace, actor=request.actor,
                                                             plan_id=plan_id),
               done=_("Prices, costs and take rates were copied from the ladder again."),
               then=redirect("web:plan", slug=slug, plan_id=plan_id))


@require_POST
@workspace_page(Action.MANAGE)
def plan_delete(request: WorkspaceRequest, slug: str, plan_id: int) -> HttpResponse:
    return act(request, lambda: services.delete_plan(workspace=request.workspace, actor=request.actor,
                                                     plan_id=plan_id),
               done=_("The plan was deleted."), then=redirect("web:plans", slug=slug))
