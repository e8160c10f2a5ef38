"""Products, offers (with their premium, published or not) and ladders of the key's workspace."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Strict

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.catalog import queries, services
from musubi.catalog.choices import Billing, Interval, OfferRole, OfferStatus, PremiumKind, ProductKind, TaxCategory
from musubi.kernel.schema_types import Amount, Rate

router = Router(tags=["catalog"])

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NOT_BLANK)]


class ProductOut(Schema):
    id: int
    name: str
    description: str
    kind: ProductKind
    tax_category: TaxCategory
    goods_cost: int
    shipping_cost: int
    fulfilment_cost: int
    payment_fee: int
    unit_cost: int
    created_at: dt.datetime


class ProductIn(Input):
    name: Name
    description: str = Field(default="", max_length=5000)
    kind: ProductKind = ProductKind.PHYSICAL
    tax_category: TaxCategory = TaxCategory.STANDARD
    goods_cost: Amount = 0
    shipping_cost: Amount = 0
    fulfilment_cost: Amount = 0
    payment_fee: Amount = 0


class ProductPatch(Input):
    name: Name = Field(default=None)  # type: ignore[assignment]
    description: str = Field(default=None, max_length=5000)  # type: ignore[assignment]
    kind: ProductKind = Field(default=None)  # type: ignore[assignment]
    tax_category: TaxCategory = Field(default=None)  # type: ignore[assignment]
    goods_cost: Amount = Field(default=None)  # type: ignore[assignment]
    shipping_cost: Amount = Field(default=None)  # type: ignore[assignment]
    fulfilment_cost: Amount = Field(default=None)  # type: ignore[assignment]
    payment_fee: Amount = Field(default=None)  # type: ignore[assignment]


class PremiumIO(Input):
    description: Name
    kind: PremiumKind = PremiumKind.GIVEAWAY
    legal_value: Amount = Field(description="Its normal tax-inclusive selling price: what the law measures.")
    cost: Amount = Field(default=0, description="What it costs the business: what the economics use.")
    purchase_required: bool = True
    visit_required: bool = False
    cheapest_normal_purchase: Amount | None = None


class PremiumLimitOut(Schema):
    classification: PremiumKind
    transaction_value: int | None
    limit: int | None
    explanation: str
    allowed: bool


class OfferOut(Schema):
    id: int
    product_id: int
    name: str
    role: OfferRole
    price: int
    billing: Billing
    interval: Interval | None
    cycles: int | None
    first_price: int | None
    min_deliveries: int | None
    upsell_offer_id: int | None
    status: OfferStatus
    premium: PremiumIO | None
    premium_limit: PremiumLimitOut | None

    @staticmethod
    def resolve_interval(offer: Any) -> str | None:
        return offer.interval or None

    @staticmethod
    def resolve_premium(offer: Any) -> Any:
        return getattr(offer, "premium", None)

    @staticmethod
    def resolve_premium_limit(offer: Any) -> dict[str, Any] | None:
        limit = queries.premium_limit_of(offer)
        if limit is None:
            return None
        return {"classification": limit.classification, "transaction_value": limit.transaction_value,
                "limit": limit.limit, "explanation": limit.explanation,
                "allowed": limit.allows(offer.premium.legal_value)}


class OfferIn(Input):
    product_id: ObjectId
    name: Name
    role: OfferRole
    price: Amount = Field(description="Tax-inclusive.")
    billing: Billing = Billing.ONE_TIME
    interval: Interval | None = None
    cycles: Annotated[int, Strict(), Field(ge=1)] | None = Field(default=None, description="Null: until cancelled.")
    first_price: Amount | None = Field(default=None, description="A discounted first delivery (定期初回).")
    min_deliveries: Annotated[int, Strict(), Field(ge=2)] | None = Field(
        default=None, description="最低継続回数: the customer may cancel only after this many deliveries.")
    upsell_offer_id: ObjectId | None = Field(
        default=None, description="アップセル: the offer shown with one click right after a purchase of this one.")


class OfferPatch(Input):
    product_id: ObjectId = Field(default=None)  # type: ignore[assignment]
    name: Name = Field(default=None)  # type: ignore[assignment]
    role: OfferRole = Field(default=None)  # type: ignore[assignment]
    price: Amount = Field(default=None)  # type: ignore[assignment]
    billing: Billing = Field(default=None)  # type: ignore[assignment]
    interval: Interval | None = None
    cycles: Annotated[int, Strict(), Field(ge=1)] | None = None
    first_price: Amount | None = None
    min_deliveries: Annotated[int, Strict(), Field(ge=2)] | None = None
    upsell_offer_id: ObjectId | None = None


class StepOut(Schema):
    id: int
    front_id: int
    back_id: int
    take_rate: Decimal
    retention: Decimal | None


class StepIn(Input):
    front_id: ObjectId
    back_id: ObjectId
    take_rate: Rate
    retention: Rate | None = None


class LadderOut(Schema):
    id: int
    name: str
    description: str
    created_at: dt.datetime


class LadderDetailOut(LadderOut):
    steps: list[StepOut]
    problems: list[str] = Field(description="What is wrong with the ladder, in the reader's language.")


class LadderIn(Input):
    name: Name
    description: str = Field(default="", max_length=5000)


# --- Products ----------------------------------------------------------------------------------------------

@router.get("/products", response=with_errors({200: list[ProductOut]}), summary="Products")
@paginate(Cursor, ordering=("id",))
def list_products(request: ApiRequest) -> Any:
    return queries.products(request.workspace)


@router.post("/products", response=with_errors({201: ProductOut}), summary="Create a product")
def create_product(request: ApiRequest, payload: ProductIn) -> Any:
    product = services.create_product(workspace=request.workspace, actor=request.actor, **payload.model_dump())
    return Status(201, product)


@router.get("/products/{product_id}", response=with_errors({200: ProductOut}), summary="A product")
def get_product(request: ApiRequest, product_id: ObjectId) -> Any:
    return queries.product(request.workspace, product_id)


@router.patch("/products/{product_id}", response=with_errors({200: ProductOut}), summary="Change a product")
def patch_product(request: ApiRequest, product_id: ObjectId, payload: ProductPatch) -> Any:
    return services.update_product(workspace=request.workspace, actor=request.actor, product_id=product_id,
                                   **payload.model_dump(exclude_unset=True))


@router.delete("/products/{product_id}", response=with_errors({204: None}), summary="Delete a product")
def delete_product(request: ApiRequest, product_id: ObjectId) -> Any:
    services.delete_product(workspace=request.workspace, actor=request.actor, product_id=product_id)
    return Status(204, None)


# --- Offers ------------------------------------------------------------------------------------------------

@router.get("/offers", response=with_errors({200: list[OfferOut]}), summary="Offers, with their premium's limit")
@paginate(Cursor, ordering=("id",))
def list_offers(request: ApiRequest) -> Any:
    return queries.offers(request.workspace)


@router.post("/offers", response=with_errors({201: OfferOut}), summary="Create an offer (as a draft)")
def create_offer(request: ApiRequest, payload: OfferIn) -> Any:
    offer = services.create_offer(workspace=request.workspace, actor=request.actor,
                                  **{**payload.model_dump(), "interval": payload.interval or ""})
    return Status(201, queries.offer(request.workspace, offer.pk))


@router.get("/offers/{offer_id}", response=with_errors({200: OfferOut}), summary="An offer")
def get_offer(request: ApiRequest, offer_id: ObjectId) -> Any:
    return queries.offer(request.workspace, offer_id)


@router.patch("/offers/{offer_id}", response=with_errors({200: OfferOut}),
              summary="Change an offer (a published one must stay within its premium's limit)")
def patch_offer(request: ApiRequest, offer_id: ObjectId, payload: OfferPatch) -> Any:
    changes = payload.model_dump(exclude_unset=True)
    if "interval" in changes:
        changes["interval"] = changes["interval"] or ""
    services.update_offer(workspace=request.workspace, actor=request.actor, offer_id=offer_id, **changes)
    return queries.offer(request.workspace, offer_id)


@router.delete("/offers/{offer_id}", response=with_errors({204: None}), summary="Delete an offer")
def delete_offer(request: ApiRequest, offer_id: ObjectId) -> Any:
    services.delete_offer(workspace=request.workspace, actor=request.actor, offer_id=offer_id)
    return Status(204, None)


@router.post("/offers/{offer_id}/publish", response=with_errors({200: OfferOut}),
             summary="Publish an offer; refused (409, code premium_over_limit) when its premium is over the limit")
def publish_offer(request: ApiRequest, offer_id: ObjectId) -> Any:
    services.publish_offer(workspace=request.workspace, actor=request.actor, offer_id=offer_id)
    return queries.offer(request.workspace, offer_id)


@router.post("/offers/{offer_id}/unpublish", response=with_errors({200: OfferOut}),
             summary="Take an offer back to draft")
def unpublish_offer(request: ApiRequest, offer_id: ObjectId) -> Any:
    services.unpublish_offer(workspace=request.workspace, actor=request.actor, offer_id=offer_id)
    return queries.offer(request.workspace, offer_id)


@router.put("/offers/{offer_id}/premium", response=with_errors({200: OfferOut}), summary="Set the offer's premium")
def put_premium(request: ApiRequest, offer_id: ObjectId, payload: PremiumIO) -> Any:
    services.set_premium(workspace=request.workspace, actor=request.actor, offer_id=offer_id, **payload.model_dump())
    return queries.offer(request.workspace, offer_id)


@router.delete("/offers/{offer_id}/premium", response=with_errors({200: OfferOut}), summary="Remove the premium")
def delete_premium(request: ApiRequest, offer_id: ObjectId) -> Any:
    services.remove_premium(workspace=request.workspace, actor=request.actor, offer_id=offer_id)
    return queries.offer(request.workspace, offer_id)


# --- Ladders -----------------------------------------------------------------------------------------------

def _ladder_detail(request: ApiRequest, ladder_id: ObjectId) -> dict[str, Any]:
    ladder = queries.ladder(request.workspace, ladder_id)
    overview = queries.ladder_overview(request.workspace, ladder)
    return {"id": ladder.pk, "name": ladder.name, "description": ladder.description, "created_at": ladder.created_at,
            "steps": overview.steps, "problems": overview.problems}


@router.get("/ladders", response=with_errors({200: list[LadderOut]}), summary="Ladders")
@paginate(Cursor, ordering=("id",))
def list_ladders(request: ApiRequest) -> Any:
    return queries.ladders(request.workspace)


@router.post("/ladders", response=with_errors({201: LadderDetailOut}), summary="Create a ladder")
def create_ladder(request: ApiRequest, payload: LadderIn) -> Any:
    ladder = services.create_ladder(workspace=request.workspace, actor=request.actor, **payload.model_dump())
    return Status(201, _ladder_detail(request, ladder.pk))


@router.get("/ladders/{ladder_id}", response=with_errors({200: LadderDetailOut}),
            summary="A ladder with its steps and what is wrong with it")
def get_ladder(request: ApiRequest, ladder_id: ObjectId) -> Any:
    return _ladder_detail(request, ladder_id)


@router.patch("/ladders/{ladder_id}", response=with_errors({200: LadderDetailOut}), summary="Rename a ladder")
def patch_ladder(request: ApiRequest, ladder_id: ObjectId, payload: LadderIn) -> Any:
    services.rename_ladder(workspace=request.workspace, actor=request.actor, ladder_id=ladder_id,
                           **payload.model_dump())
    return _ladder_detail(request, ladder_id)


@router.delete("/ladders/{ladder_id}", response=with_errors({204: None}), summary="Delete a ladder")
def delete_ladder(request: ApiRequest, ladder_id: ObjectId) -> Any:
    services.delete_ladder(workspace=request.workspace, actor=request.actor, ladder_id=ladder_id)
    return Status(204, None)


@router.post("/ladders/{ladder_id}/steps", response=with_errors({201: LadderDetailOut}),
             summary="Add a step: a front-end and the back-end it leads to, with the take rate")
def add_step(request: ApiRequest, ladder_id: ObjectId, payload: StepIn) -> Any:
    services.add_step(workspace=request.workspace, actor=request.actor, ladder_id=ladder_id, **payload.model_dump())
    return Status(201, _ladder_detail(request, ladder_id))


@router.delete("/ladders/{ladder_id}/steps/{step_id}", response=with_errors({200: LadderDetailOut}),
               summary="Remove a step")
def remove_step(request: ApiRequest, ladder_id: ObjectId, step_id: ObjectId) -> Any:
    services.remove_step(workspace=request.workspace, actor=request.actor, ladder_id=ladder_id, step_id=step_id)
    return _ladder_detail(request, ladder_id)
