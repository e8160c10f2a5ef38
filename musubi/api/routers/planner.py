"""The planner: evaluate a plan statelessly, and keep saved plans."""

import datetime as dt
from typing import Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.planner import queries, services
from musubi.planner.schemas import PlanIn

router = Router(tags=["planner"])


class BackOut(Schema):
    name: str
    expected_cycles: float
    value: int


class SensitivityOut(Schema):
    input: str = Field(description="The input's path, e.g. backs.0.take_rate.")
    value: float
    low: int = Field(description="Profit per customer with the input at −20%.")
    high: int = Field(description="Profit per customer with the input at +20%.")
    sensitive: bool


class BinOut(Schema):
    from_: int = Field(alias="from")
    to: int
    count: int


class UncertaintyOut(Schema):
    draws: int
    seed: int
    p_loss: float
    p10: int
    p50: int
    p90: int
    histogram: list[BinOut]


class EvaluationOut(Schema):
    currency: str
    front_margin: int
    acquisition_cost: int
    back_value: int
    customer_value: int
    profit_per_customer: int
    allowable_cpa: int
    breakeven_front_price: int | None
    max_affiliate_rate: float | None
    customers_needed: int | None
    leads_needed: int | None
    backs: list[BackOut]
    notes: dict[str, str] = Field(description="Why a field is null, keyed by the field.")
    sensitivity: list[SensitivityOut]
    uncertainty: UncertaintyOut | None = None


class PlanOut(Schema):
    id: int
    name: str
    ladder_id: int | None
    front_offer_id: int | None
    inputs: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class PlanDetailOut(PlanOut):
    result: EvaluationOut


class PlanCreate(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    ladder_id: ObjectId | None = Field(default=None, description="Copy the front-end and back-ends from this ladder…")
    front_offer_id: ObjectId | None = Field(default=None, description="…starting from this front-end offer.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs laid over the ladder's, or all of them.")


class PlanPatch(Input):
    name: str = Field(default=None, min_length=1, max_length=200, pattern=NOT_BLANK)  # type: ignore[assignment]
    inputs: PlanIn = Field(default=None)  # type: ignore[assignment]


@router.post("/planner/evaluate", response=with_errors({200: EvaluationOut}),
             summary="Evaluate one plan without saving it")
def evaluate(request: ApiRequest, payload: PlanIn) -> Any:
    return services.evaluate(payload.model_dump())


def _detail(plan: Any) -> dict[str, Any]:
    return {**{f: getattr(plan, f) for f in ("id", "name", "ladder_id", "front_offer_id", "inputs", "created_at",
                                              "updated_at")}, "result": services.evaluate(plan.inputs)}


@router.get("/plans", response=with_errors({200: list[PlanOut]}), summary="Saved plans")
@paginate(Cursor, ordering=("id",))
def list_plans(request: ApiRequest) -> Any:
    return queries.plans(request.workspace)


@router.post("/plans", response=with_errors({201: PlanDetailOut}),
             summary="Save a plan, from a ladder's defaults or from inputs")
def create_plan(request: ApiRequest, payload: PlanCreate) -> Any:
    plan = services.create_plan(workspace=request.workspace, actor=request.actor, **payload.model_dump())
    return Status(201, _detail(plan))


@router.get("/plans/{plan_id}", response=with_errors({200: PlanDetailOut}), summary="A plan with its results")
def get_plan(request: ApiRequest, plan_id: ObjectId) -> Any:
    return _detail(queries.plan(request.workspace, plan_id))


@router.patch("/plans/{plan_id}", response=with_errors({200: PlanDetailOut}),
              summary="Rename a plan or change its inputs")
def patch_plan(request: ApiRequest, plan_id: ObjectId, payload: PlanPatch) -> Any:
    changes = payload.model_dump(exclude_unset=True)
    plan = services.update_plan(workspace=request.workspace, actor=request.actor, plan_id=plan_id, **changes)
    return _detail(plan)


@router.delete("/plans/{plan_id}", response=with_errors({204: None}), summary="Delete a plan")
def delete_plan(request: ApiRequest, plan_id: ObjectId) -> Any:
    services.delete_plan(workspace=request.workspace, actor=request.actor, plan_id=plan_id)
    return Status(204, None)


@router.post("/plans/{plan_id}/refresh", response=with_errors({200: PlanDetailOut}),
             summary="Copy the front-end and back-ends from the ladder again")
def refresh_plan(request: ApiRequest, plan_id: ObjectId) -> Any:
    return _detail(services.refresh_from_ladder(workspace=request.workspace, actor=request.actor, plan_id=plan_id))
