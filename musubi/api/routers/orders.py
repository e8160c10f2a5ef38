"""Orders and subscriptions of the key's workspace: read them, mark a bank transfer paid, ship, record the
delivery, refund, download the receipt, invoice or refund note as PDF; skip, pause, resume or cancel a
subscription."""

import datetime as dt
from typing import Any

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.commerce import delivery, documents, order_lifecycle, queries, subscriptions
from musubi.commerce.choices import DocumentKind

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
    delivered_at: dt.datetime | None
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
    order_lifecycle.record_payment(workspace=request.workspace, actor=request.actor, order_id=order_id)
    return queries.order(request.workspace, order_id)


@router.post("/orders/{order_id}/shipment", response=with_errors({200: OrderOut}),
             summary="Record the parcel's hand-over to the carrier with its tracking number")
def ship(request: ApiRequest, order_id: ObjectId, payload: ShipIn) -> Any:
    order_lifecycle.ship(workspace=request.workspace, actor=request.actor, order_id=order_id, carrier=payload.carrier,
                         tracking_number=payload.tracking_number)
    return queries.order(request.workspace, order_id)


@router.post("/orders/{order_id}/refunds", response=with_errors({201: RefundOut}),
             summary="Refund all or part of a paid order (a card through Stripe)")
def refund(request: ApiRequest, order_id: ObjectId, payload: RefundIn) -> Any:
    return Status(201, order_lifecycle.refund(workspace=request.workspace, actor=request.actor, order_id=order_id,
                                              amount=payload.amount, reason=payload.reason))


@router.post("/orders/{order_id}/delivered", response=with_errors({200: OrderOut}),
             summary="Record that a shipped order reached the buyer (配達完了); 409 unless shipped and paid")
def delivered(request: ApiRequest, order_id: ObjectId) -> Any:
    delivery.mark_delivered(workspace=request.workspace, actor=request.actor, order_id=order_id)
    return queries.order(request.workspace, order_id)


PDF = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
_COPY_HEADER = {"X-Document-Copy": {"description": "true when the document was issued before (printed 再発行)",
                                    "schema": {"type": "string", "enum": ["true", "false"]}},
                "X-Document-Number": {"description": "The document's number in the workspace",
                                      "schema": {"type": "string"}}}


def _pdf(request: ApiRequest, order_id: int, kind: str, number: int | None = None) -> HttpResponse:
    given = documents.for_staff(workspace=request.workspace, actor=request.actor, order_id=order_id, kind=kind,
                                number=number)
    response = HttpResponse(given.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{given.filename}"'
    response["X-Document-Copy"] = "true" if given.copy else "false"
    response["X-Document-Number"] = given.document.display_number
    return response


@router.get("/orders/{order_id}/receipt", response=with_errors({200: None}), openapi_extra={
    "responses": {200: {"description": "The receipt (領収書) as PDF", "headers": _COPY_HEADER, **PDF}}},
    summary="The receipt of a paid order as PDF: issued on the first request, given out again (再発行) after")
def receipt(request: ApiRequest, order_id: ObjectId) -> Any:
    return _pdf(request, order_id, DocumentKind.RECEIPT)


@router.get("/orders/{order_id}/invoice", response=with_errors({200: None}), openapi_extra={
    "responses": {200: {"description": "The invoice (適格請求書 with a registration number, else 請求書) as PDF",
                        "headers": _COPY_HEADER, **PDF}}},
    summary="The invoice of an order as PDF, also while a transfer is awaited; 409 for a cancelled order")
def invoice(request: ApiRequest, order_id: ObjectId) -> Any:
    return _pdf(request, order_id, DocumentKind.INVOICE)


class NoteQuery(Schema):
    number: int | None = Field(default=None, ge=1, le=2_000_000_000,
                               description="An earlier refund note's number; without it, the newest.")


@router.get("/orders/{order_id}/refund-note", response=with_errors({200: None}), openapi_extra={
    "responses": {200: {"description": "The refund note (返金明細書 / 適格返還請求書) as PDF",
                        "headers": _COPY_HEADER, **PDF}}},
    summary="A refund note as PDF: refunds no earlier note covers get a new one; 409 when nothing was refunded")
def refund_note(request: ApiRequest, order_id: ObjectId, query: Query[NoteQuery]) -> Any:
    return _pdf(request, order_id, DocumentKind.REFUND_NOTE, query.number)


class DocumentOut(Schema):
    number: str
    kind: str
    qualified: bool = Field(description="Issued as a qualified invoice (with the registration number).")
    issued_at: dt.datetime
    copies: int = Field(description="How many times it was given out again (再発行).")
    total: int

    @staticmethod
    def resolve_number(obj: Any) -> str:
        return str(obj.display_number)

    @staticmethod
    def resolve_total(obj: Any) -> int:
        return int(obj.content["total"])


@router.get("/orders/{order_id}/documents", response=with_errors({200: list[DocumentOut]}),
            summary="The receipts, invoices and refund notes issued for an order")
def list_documents(request: ApiRequest, order_id: ObjectId) -> Any:
    return documents.issued_for(queries.order(request.workspace, order_id))


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
