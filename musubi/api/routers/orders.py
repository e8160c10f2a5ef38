"""Orders and subscriptions of the key's workspace: read them, mark a bank transfer paid, ship, refund; skip,
pause, resume or cancel a subscription."""

import datetime as dt
from typing import Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.commerce import queries, services, subscriptions

router = Router(tags=["orders"])


class LineOut(Schema):
    description: str
    quantity: int
    unit_price: int
    amount: int
    tax_rate: str = Field(description="0.1000 for 10%, 0.0800 for the reduced 8%.")

    @staticmethod
    def resolve_tax_rate(obj: Any) -> str:
        return str(obj.tax_rate)


class OrderOut(Schema):
    id: int
    number: str
    offer_id: int
    contact_id: int
    subscription_id: int | None
    cycle: int | None
    status: str
    payment_method: str
    currency: str
    total: int = Field(description="Tax-inclusive, in the currency's minor unit.")
    refunded: int
    created_at: dt.datetime
    paid_at: dt.datetime | None
    pay_by: dt.datetime | None
    shipped_at: dt.datetime | None
    carrier: str
    tracking_number: str
    lines: list[LineOut]
    confirmation: dict[str, Any] = Field(description="Exactly what the buyer saw on the confirmation screen.")

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class RefundIn(Input):
    amount: int = Field(gt=0, description="What to give back, in the currency's minor unit.")
    reason: str = Field(default="", max_length=500)


class RefundOut(Schema):
    id: int
    amount: int
    reason: str
    at: dt.datetime


class ShipIn(Input):
    carrier: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)
    tracking_number: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)


class SubscriptionOut(Schema):
    id: int
    offer_id: int
    contact_id: int
    status: str
    quantity: int
    payment_method: str
    deliveries: int
    started_at: dt.datetime
    paused_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    next_delivery_at: dt.datetime | None

    @staticmethod
    def resolve_next_delivery_at(obj: Any) -> dt.datetime | None:
        renewal = subscriptions.next_renewal(obj)
        return renewal.next_attempt_at if renewal and obj.status == "active" else None


@router.get("/orders", response=with_errors({200: list[OrderOut]}), summary="Orders, newest first")
@paginate(Cursor, ordering=("-id",))
def list_orders(request: ApiRequest, status: str = "") -> Any:
    return queries.orders(request.workspace, status=status).prefetch_related("lines")


@router.get("/orders/{order_id}", response=with_errors({200: OrderOut}), summary="An order")
def get_order(request: ApiRequest, order_id: ObjectId) -> Any:
    return queries.order(request.workspace, order_id)


@router.post("/orders/{order_id}/mark-paid", response=with_errors({200: OrderOut}),
             summary="Record a bank transfer (or cash) as received; 409 unless the order awaits payment")
def mark_paid(request: ApiRequest, order_id: ObjectId) -> Any:
    services.record_payment(workspace=request.workspace, actor=request.actor, order_id=order_id)
    return queries.order(request.workspace, order_id)


@router.post("/orders/{order_id}/shipment", response=with_errors({200: OrderOut}),
             summary="Record the parcel's hand-over to the carrier with its tracking number")
def ship(request: ApiRequest, order_id: ObjectId, payload: ShipIn) -> Any:
    services.ship(workspace=request.workspace, actor=request.actor, order_id=order_id, carrier=payload.carrier,
                  tracking_number=payload.tracking_number)
    return queries.order(request.workspace, order_id)


@router.post("/orders/{order_id}/refunds", response=with_errors({201: RefundOut}),
             summary="Refund all or part of a paid order (a card through Stripe)")
def refund(request: ApiRequest, order_id: ObjectId, payload: RefundIn) -> Any:
    return Status(201, services.refund(workspace=request.workspace, actor=request.actor, order_id=order_id,
                                       amount=payload.amount, reason=payload.reason))


@router.get("/subscriptions", response=with_errors({200: list[SubscriptionOut]}), summary="Subscriptions")
@paginate(Cursor, ordering=("-id",))
def list_subscriptions(request: ApiRequest, status: str = "") -> Any:
    return queries.subscriptions(request.workspace, status=status)


@router.get("/subscriptions/{subscription_id}", response=with_errors({200: SubscriptionOut}),
            summary="A subscription")
def get_subscription(request: ApiRequest, subscription_id: ObjectId) -> Any:
    return queries.subscription(request.workspace, subscription_id)


def _act(request: ApiRequest, subscription_id: int, action: Any) -> Any:
    action(workspace=request.workspace, subscription_id=subscription_id, actor=request.actor)
    return queries.subscription(request.workspace, subscription_id)


@router.post("/subscriptions/{subscription_id}/skip", response=with_errors({200: SubscriptionOut}),
             summary="Skip the next delivery (it moves one interval later)")
def skip(request: ApiRequest, subscription_id: ObjectId) -> Any:
    return _act(request, subscription_id, subscriptions.skip_next)


@router.post("/subscriptions/{subscription_id}/pause", response=with_errors({200: SubscriptionOut}),
             summary="Pause deliveries")
def pause(request: ApiRequest, subscription_id: ObjectId) -> Any:
    return _act(request, subscription_id, subscriptions.pause)


@router.post("/subscriptions/{subscription_id}/resume", response=with_errors({200: SubscriptionOut}),
             summary="Resume a paused subscription")
def resume(request: ApiRequest, subscription_id: ObjectId) -> Any:
    return _act(request, subscription_id, subscriptions.resume)


@router.post("/subscriptions/{subscription_id}/cancel", response=with_errors({200: SubscriptionOut}),
             summary="Cancel a subscription: no more deliveries")
def cancel(request: ApiRequest, subscription_id: ObjectId) -> Any:
    return _act(request, subscription_id, subscriptions.cancel)
