"""Broadcasts and their runs, and the deliveries every sequence and broadcast made. A broadcast is sent by
``POST /broadcasts/{id}/send``; an ``Idempotency-Key`` header (or body field) makes a retried call return the run
the first call started instead of starting another."""

import datetime as dt
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Header, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, DateTimeParam, Input, ObjectId
from musubi.kernel.errors import NotFound
from musubi.messaging import authoring, broadcasts
from musubi.messaging.choices import RunState
from musubi.messaging.models import BroadcastRun, Delivery
from musubi.workspaces.rules import Action

router = Router(tags=["broadcasts"])


class BroadcastOut(Schema):
    id: int
    name: str
    channel: str
    template_id: int
    segment_id: int | None
    line_channel_id: int | None
    scheduled_at: dt.datetime | None


class BroadcastIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    template_id: ObjectId
    segment_id: ObjectId | None = Field(None, description="Empty: everyone who may receive it.")
    line_channel_id: ObjectId | None = None
    scheduled_at: DateTimeParam | None = None


class RecipientCountOut(Schema):
    recipients: int = Field(description="People who would receive it now (for LINE, the messages it uses).")


class RunOut(Schema):
    id: int
    number: int
    state: RunState
    idempotency_key: str
    planned: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    progress: dict[str, int]

    @staticmethod
    def resolve_progress(obj: BroadcastRun) -> dict[str, int]:
        return broadcasts.progress(obj)


class SendIn(Input):
    idempotency_key: str = Field("", max_length=200)


@router.get("/broadcasts", response=with_errors({200: list[BroadcastOut]}), summary="Broadcasts")
@paginate(Cursor, ordering=("id",))
def list_broadcasts(request: ApiRequest) -> Any:
    return _broadcast_rows(request)


def _broadcast_rows(request: ApiRequest) -> Any:
    from musubi.messaging.models import Broadcast

    return Broadcast.objects.for_workspace(request.workspace).select_related("template")


@router.post("/broadcasts", response=with_errors({201: BroadcastOut}), summary="Prepare a broadcast")
def create_broadcast(request: ApiRequest, payload: BroadcastIn) -> Any:
    return Status(201, authoring.create_broadcast(workspace=request.workspace, actor=request.actor,
                                                  data=authoring.BroadcastInput(**payload.model_dump())))


@router.get("/broadcasts/{broadcast_id}", response=with_errors({200: BroadcastOut}), summary="A broadcast")
def get_broadcast(request: ApiRequest, broadcast_id: ObjectId) -> Any:
    return authoring.get_broadcast(request.workspace, broadcast_id)


@router.put("/broadcasts/{broadcast_id}", response=with_errors({200: BroadcastOut}), summary="Change a broadcast")
def update_broadcast(request: ApiRequest, broadcast_id: ObjectId, payload: BroadcastIn) -> Any:
    return authoring.update_broadcast(workspace=request.workspace, actor=request.actor, broadcast_id=broadcast_id,
                                      data=authoring.BroadcastInput(**payload.model_dump()))


@router.get("/broadcasts/{broadcast_id}/count", response=with_errors({200: RecipientCountOut}),
            summary="How many it would reach now")
def count_broadcast(request: ApiRequest, broadcast_id: ObjectId) -> Any:
    return {"recipients": broadcasts.open_recipient_count(authoring.get_broadcast(request.workspace, broadcast_id))}


@router.post("/broadcasts/{broadcast_id}/send", response=with_errors({202: RunOut, 200: RunOut}),
             summary="Send now: starts a run (200 with the earlier run when the idempotency key was used)")
def send_broadcast(request: ApiRequest, broadcast_id: ObjectId, payload: SendIn | None = None,
                   idempotency_key: str = Header("", alias="Idempotency-Key", max_length=200)) -> Any:
    request.actor.require(Action.MANAGE)
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    key = idempotency_key or (payload.idempotency_key if payload else "")
    run, started = broadcasts.start_run(broadcast=broadcast, actor=request.actor, idempotency_key=key)
    return Status(202 if started else 200, run)


@router.get("/broadcasts/{broadcast_id}/runs", response=with_errors({200: list[RunOut]}),
            summary="Each time the broadcast was sent, newest first")
@paginate(Cursor, ordering=("-id",))
def list_runs(request: ApiRequest, broadcast_id: ObjectId) -> Any:
    return BroadcastRun.objects.for_workspace(request.workspace).filter(
        broadcast=authoring.get_broadcast(request.workspace, broadcast_id))


def _current_run(request: ApiRequest, broadcast_id: int) -> BroadcastRun:
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    run = (BroadcastRun.objects.filter(broadcast=broadcast).exclude(state__in=[RunState.FINISHED, RunState.CANCELLED])
           .order_by("-number").first())
    if run is None:
        raise NotFound(_("This broadcast has no run in progress."))
    return run


def _change(request: ApiRequest, broadcast_id: int, action: Literal["pause", "resume", "cancel"]) -> Any:
    request.actor.require(Action.MANAGE)
    return broadcasts.set_state(run=_current_run(request, broadcast_id), action=action, actor=request.actor)


@router.post("/broadcasts/{broadcast_id}/pause", response=with_errors({200: RunOut}),
             summary="Pause the run in progress")
def pause_broadcast(request: ApiRequest, broadcast_id: ObjectId) -> Any:
    return _change(request, broadcast_id, "pause")


@router.post("/broadcasts/{broadcast_id}/resume", response=with_errors({200: RunOut}), summary="Resume a paused run")
def resume_broadcast(request: ApiRequest, broadcast_id: ObjectId) -> Any:
    return _change(request, broadcast_id, "resume")


@router.post("/broadcasts/{broadcast_id}/cancel", response=with_errors({200: RunOut}),
             summary="Cancel the run in progress: nobody not yet sent gets it; nobody gets it twice")
def cancel_broadcast(request: ApiRequest, broadcast_id: ObjectId) -> Any:
    return _change(request, broadcast_id, "cancel")


class DeliveryOut(Schema):
    id: int
    contact_id: int
    channel: str
    template_id: int
    step_id: int | None
    run_id: int | None
    status: str = Field(description="queued, sending, or how it ended: sent, suppressed, skipped, cancelled, "
                                    "bounced, failed.")
    attempts: int
    address: str
    sent_at: dt.datetime | None
    opened_at: dt.datetime | None
    clicked_at: dt.datetime | None
    last_error: str

    @staticmethod
    def resolve_status(obj: Delivery) -> str:
        if obj.status == "pending":
            return "queued"
        if obj.status == "claimed":
            return "sending"
        return obj.outcome or obj.status


@router.get("/deliveries", response=with_errors({200: list[DeliveryOut]}),
            summary="Messages sent or queued, newest first; filter by contact, step or run")
@paginate(Cursor, ordering=("-id",))
def list_deliveries(request: ApiRequest, contact_id: ObjectId | None = None, step_id: ObjectId | None = None,
                    run_id: ObjectId | None = None) -> Any:
    rows = Delivery.objects.for_workspace(request.workspace)
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    if step_id is not None:
        rows = rows.filter(step_id=step_id)
    if run_id is not None:
        rows = rows.filter(run_id=run_id)
    return rows


@router.get("/deliveries/{delivery_id}", response=with_errors({200: DeliveryOut}), summary="One delivery")
def get_delivery(request: ApiRequest, delivery_id: ObjectId) -> Any:
    found = Delivery.objects.for_workspace(request.workspace).filter(pk=delivery_id).first()
    if found is None:
        raise NotFound(_("No such delivery."))
    return found
