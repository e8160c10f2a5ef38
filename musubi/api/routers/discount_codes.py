"""Discount codes of the key's workspace: list, create, read, enable or disable, and delete an unused one."""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Strict

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import DateTimeParam, Input, ObjectId
from musubi.commerce import discounts

router = Router(tags=["discount codes"])

PositiveInt = Annotated[int, Strict(), Field(ge=1, le=2**53)]


class DiscountCodeOut(Schema):
    id: int
    code: str = Field(description="Upper-case; a buyer may type it in any case.")
    kind: Literal["percent", "amount"]
    value: int = Field(description="Percent off, or yen off the goods.")
    offer_ids: list[int] = Field(description="Empty: every offer.")
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None = Field(description="The code stops working at this moment.")
    max_uses: int | None
    once_per_buyer: bool
    every_delivery: bool = Field(description="Subscriptions: every delivery, not only the first.")
    active: bool
    uses: int = Field(description="Uses by orders not cancelled or expired unpaid.")
    created_at: dt.datetime

    @staticmethod
    def resolve_offer_ids(obj: Any) -> list[int]:
        return sorted(offer.pk for offer in obj.offers.all())


class DiscountCodeIn(Input):
    code: str = Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    kind: Literal["percent", "amount"]
    value: PositiveInt
    offer_ids: list[ObjectId] = Field(default_factory=list, max_length=200)
    valid_from: DateTimeParam | None = None
    valid_until: DateTimeParam | None = None
    max_uses: PositiveInt | None = None
    once_per_buyer: bool = True
    every_delivery: bool = False


class DiscountCodePatch(Input):
    active: bool


@router.get("/discount-codes", response=with_errors({200: list[DiscountCodeOut]}), summary="Discount codes")
@paginate(Cursor, ordering=("-id",))
def list_codes(request: ApiRequest) -> Any:
    return discounts.codes(request.workspace)


@router.post("/discount-codes", response=with_errors({201: DiscountCodeOut}), summary="Create a discount code")
def create_code(request: ApiRequest, payload: DiscountCodeIn) -> Any:
    data = payload.model_dump()
    found = discounts.create_code(workspace=request.workspace, actor=request.actor, data=discounts.CodeInput(
        **{**data, "offer_ids": tuple(data["offer_ids"])}))
    return Status(201, discounts.code_of(request.workspace, found.pk))


@router.get("/discount-codes/{discount_code_id}", response=with_errors({200: DiscountCodeOut}),
            summary="A discount code with its use count")
def get_code(request: ApiRequest, discount_code_id: ObjectId) -> Any:
    return discounts.code_of(request.workspace, discount_code_id)


@router.patch("/discount-codes/{discount_code_id}", response=with_errors({200: DiscountCodeOut}),
              summary="Disable a code (no new order may use it) or enable it again")
def update_code(request: ApiRequest, discount_code_id: ObjectId, payload: DiscountCodePatch) -> Any:
    return discounts.set_active(workspace=request.workspace, actor=request.actor, code_id=discount_code_id,
                                active=payload.active)


@router.delete("/discount-codes/{discount_code_id}", response=with_errors({204: None}),
               summary="Delete a code no order used (409 once used: disable it instead)")
def delete_code(request: ApiRequest, discount_code_id: ObjectId) -> Any:
    discounts.delete_code(workspace=request.workspace, actor=request.actor, code_id=discount_code_id)
    return Status(204, None)
