"""Education: the sender (and its sending domain), templates, sequences (with steps and enrollments), broadcasts
and their runs, and the deliveries they made. A broadcast is sent by ``POST /broadcasts/{id}/send``; an
``Idempotency-Key`` header (or body field) makes a retried call return the run the first call started instead
of starting another."""

import datetime as dt
from typing import Any, Literal

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from ninja import Field, Header, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.line_message_schemas import LineMessageIO
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, DateTimeParam, Input, ObjectId, TimeOfDay
from musubi.contacts import queries as contact_queries
from musubi.kernel.errors import NotFound
from musubi.messaging import authoring, broadcasts, domains, enrollments, line_messages
from musubi.messaging.choices import MessageChannel, Reentry, RunState, Timing, Trigger
from musubi.messaging.models import BroadcastRun, Delivery, Enrollment, Sequence, Step, Template
from musubi.workspaces.rules import Action

router = Router(tags=["messaging"])


class SenderIO(Schema):
    from_name: str = Field("", max_length=100)
    from_address: str = Field("", max_length=254)
    reply_to: str = Field("", max_length=254)
    legal_name: str = Field("", max_length=200)
    postal_address: str = Field("", max_length=300)
    contact_info: str = Field("", max_length=300)


class SenderIn(SenderIO, Input):
    pass


@router.get("/sender", response=with_errors({200: SenderIO}), summary="Who mail comes from, and the legal footer")
def get_sender(request: ApiRequest) -> Any:
    return authoring.sender_profile(request.workspace)


@router.put("/sender", response=with_errors({200: SenderIO}), summary="Set the sender and the legal footer")
def put_sender(request: ApiRequest, payload: SenderIn) -> Any:
    return authoring.save_sender_profile(workspace=request.workspace, actor=request.actor,
                                         values=payload.model_dump())


class TemplateOut(Schema):
    id: int
    name: str
    channel: MessageChannel
    subject: str
    html: str
    text: str
    line_messages: list[LineMessageIO]
    line_texts: list[str] = Field(description="The texts of the text messages (the older, text-only form).")
    updated_at: dt.datetime

    @staticmethod
    def resolve_line_texts(obj: Template) -> list[str]:
        return line_messages.texts_of(obj.line_messages)


class TemplateIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    channel: MessageChannel
    subject: str = Field("", max_length=300)
    html: str = Field("", max_length=500_000)
    text: str = Field("", max_length=200_000)
    line_messages: list[LineMessageIO] | None = Field(
        None, max_length=10, description="A LINE template's messages: up to five texts, images or buttons cards.")
    line_texts: list[str] = Field(default_factory=list, max_length=5,
                                  description="A text-only LINE template's texts, when `line_messages` is not given.")


def _template_input(payload: TemplateIn) -> authoring.TemplateInput:
    return authoring.TemplateInput(**payload.model_dump(exclude_none=True))


def _templates(request: ApiRequest) -> QuerySet[Template]:
    return Template.objects.for_workspace(request.workspace)


@router.get("/templates", response=with_errors({200: list[TemplateOut]}), summary="Message templates")
@paginate(Cursor, ordering=("id",))
def list_templates(request: ApiRequest) -> Any:
    return _templates(request)


@router.post("/templates", response=with_errors({201: TemplateOut}), summary="Write a template")
def create_template(request: ApiRequest, payload: TemplateIn) -> Any:
    return Status(201, authoring.create_template(workspace=request.workspace, actor=request.actor,
                                                 data=_template_input(payload)))


@router.get("/templates/{template_id}", response=with_errors({200: TemplateOut}), summary="A template")
def get_template(request: ApiRequest, template_id: ObjectId) -> Any:
    return authoring.get_template(request.workspace, template_id)


@router.put("/templates/{template_id}", response=with_errors({200: TemplateOut}), summary="Rewrite a template")
def update_template(request: ApiRequest, template_id: ObjectId, payload: TemplateIn) -> Any:
    return authoring.update_template(workspace=request.workspace, actor=request.actor, template_id=template_id,
                                     data=_template_input(payload))


class StepOut(Schema):
    id: int
    position: int
    template_id: int
    timing: Timing
    delay_minutes: int
    day: int
    at_time: str | None = Field(description="HH:MM in the workspace's time zone.")
    line_channel_id: int | None
    only_if_tag: str
    skip_if_tag: str
    only_if_segment_id: int | None
    only_if_clicked_id: int | None

    @staticmethod
    def resolve_at_time(obj: Step) -> str | None:
        return f"{obj.at_time:%H:%M}" if obj.at_time else None


class StepIn(Input):
    template_id: ObjectId
    timing: Timing = Timing.AFTER
    delay_minutes: int = Field(0, ge=0, le=527_040, description="After the previous step (timing `after`).")
    day: int = Field(0, ge=0, le=366, description="Days after entering (timing `day_at`).")
    at_time: TimeOfDay | None = Field(None, description="Time of day in the workspace's time zone (`day_at`).")
    line_channel_id: ObjectId | None = None
    only_if_tag: str = Field("", max_length=100)
    skip_if_tag: str = Field("", max_length=100)
    only_if_segment_id: ObjectId | None = None
    only_if_clicked_id: ObjectId | None = None


class SequenceOut(Schema):
    id: int
    name: str
    trigger: Trigger
    trigger_ref: int | None
    trigger_tag: str
    goal_tag: str
    goal_event: str
    reentry: Reentry
    quiet_start: str = Field(description="HH:MM in the workspace's time zone.")
    quiet_end: str = Field(description="HH:MM; equal to quiet_start: no quiet hours.")
    active: bool
    steps: list[StepOut]

    @staticmethod
    def resolve_quiet_start(obj: Sequence) -> str:
        return f"{obj.quiet_start:%H:%M}"

    @staticmethod
    def resolve_quiet_end(obj: Sequence) -> str:
        return f"{obj.quiet_end:%H:%M}"

    @staticmethod
    def resolve_steps(obj: Sequence) -> list[Step]:
        return list(obj.steps.filter(archived_at=None).order_by("position"))


class SequenceIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    trigger: Trigger
    trigger_ref: ObjectId | None = Field(None, description="Only this capture point (optin) or LINE account.")
    trigger_tag: str = Field("", max_length=100)
    goal_tag: str = Field("", max_length=100)
    goal_event: str = Field("", max_length=64, description="A fact kind, e.g. `order.paid`.")
    reentry: Reentry = Reentry.NEVER
    quiet_start: TimeOfDay = dt.time(21, 0)
    quiet_end: TimeOfDay = dt.time(8, 0)
    active: bool = False


@router.get("/sequences", response=with_errors({200: list[SequenceOut]}), summary="Sequences")
@paginate(Cursor, ordering=("id",))
def list_sequences(request: ApiRequest) -> Any:
    return Sequence.objects.for_workspace(request.workspace)


@router.post("/sequences", response=with_errors({201: SequenceOut}), summary="Make a sequence")
def create_sequence(request: ApiRequest, payload: SequenceIn) -> Any:
    return Status(201, authoring.create_sequence(workspace=request.workspace, actor=request.actor,
                                                 data=authoring.SequenceInput(**payload.model_dump())))


@router.get("/sequences/{sequence_id}", response=with_errors({200: SequenceOut}), summary="A sequence")
def get_sequence(request: ApiRequest, sequence_id: ObjectId) -> Any:
    return authoring.get_sequence(request.workspace, sequence_id)


@router.put("/sequences/{sequence_id}", response=with_errors({200: SequenceOut}),
            summary="Change a sequence (no step is sent twice to anyone)")
def update_sequence(request: ApiRequest, sequence_id: ObjectId, payload: SequenceIn) -> Any:
    return authoring.update_sequence(workspace=request.workspace, actor=request.actor, sequence_id=sequence_id,
                                     data=authoring.SequenceInput(**payload.model_dump()))


@router.post("/sequences/{sequence_id}/steps", response=with_errors({201: StepOut}), summary="Add a step")
def add_step(request: ApiRequest, sequence_id: ObjectId, payload: StepIn) -> Any:
    return Status(201, authoring.add_step(workspace=request.workspace, actor=request.actor, sequence_id=sequence_id,
                                          data=authoring.StepInput(**payload.model_dump())))


@router.put("/sequence-steps/{sequence_step_id}", response=with_errors({200: StepOut}), summary="Change a step")
def update_step(request: ApiRequest, sequence_step_id: ObjectId, payload: StepIn) -> Any:
    return authoring.update_step(workspace=request.workspace, actor=request.actor, step_id=sequence_step_id,
                                 data=authoring.StepInput(**payload.model_dump()))


@router.delete("/sequence-steps/{sequence_step_id}", response=with_errors({204: None}),
               summary="Remove a step (what it sent stays in the history)")
def remove_step(request: ApiRequest, sequence_step_id: ObjectId) -> Any:
    authoring.archive_step(workspace=request.workspace, actor=request.actor, step_id=sequence_step_id)
    return Status(204, None)


class EnrollmentOut(Schema):
    id: int
    contact_id: int
    round: int
    status: str
    entered_at: dt.datetime
    next_due_at: dt.datetime | None
    finished_at: dt.datetime | None


class EnrollIn(Input):
    contact_id: ObjectId


@router.get("/sequences/{sequence_id}/enrollments", response=with_errors({200: list[EnrollmentOut]}),
            summary="Who is or was in a sequence")
@paginate(Cursor, ordering=("-id",))
def list_enrollments(request: ApiRequest, sequence_id: ObjectId) -> Any:
    return Enrollment.objects.for_workspace(request.workspace).filter(
        sequence=authoring.get_sequence(request.workspace, sequence_id))


@router.post("/sequences/{sequence_id}/enrollments", response=with_errors({201: EnrollmentOut, 200: EnrollmentOut}),
             summary="Start the sequence for a contact (200 with their current enrollment if they are in it)")
def enroll(request: ApiRequest, sequence_id: ObjectId, payload: EnrollIn) -> Any:
    request.actor.require(Action.OPERATE)
    sequence = authoring.get_sequence(request.workspace, sequence_id)
    contact = contact_queries.contact(request.workspace, payload.contact_id)
    made = enrollments.enroll(sequence=sequence, contact=contact)
    if made is not None:
        return Status(201, made)
    current = Enrollment.objects.filter(sequence=sequence, contact=contact.merged_into or contact).order_by(
        "-round").first()
    if current is None:
        raise NotFound(_("This sequence is not active; nobody can enter it now."))
    return current


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
    run, started = broadcasts.start_run(broadcast=broadcast, idempotency_key=key)
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
    return broadcasts.set_state(run=_current_run(request, broadcast_id), action=action)


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


class DnsRecordOut(Schema):
    name: str = Field(description="Where to publish the TXT record.")
    value: str


class CheckOut(Schema):
    kind: str
    status: str = Field(description="ok, missing, wrong or unknown.")
    code: str = Field(description="Why, as a short code (e.g. `spf_missing_sender`).")
    record: str
    policy: str


class DomainCheckOut(Schema):
    domain: str
    spf: CheckOut
    dkim: CheckOut
    dmarc: CheckOut


@router.post("/sender/dkim", response=with_errors({201: DnsRecordOut}),
             summary="Make a new DKIM key for the sender's domain; returns the TXT record to publish")
def create_dkim_key(request: ApiRequest) -> Any:
    profile = domains.create_dkim_key(workspace=request.workspace, actor=request.actor)
    return Status(201, domains.dkim_record(profile))


@router.get("/sender/dkim", response=with_errors({200: DnsRecordOut}), summary="The DKIM record to publish")
def get_dkim_record(request: ApiRequest) -> Any:
    record = domains.dkim_record(authoring.sender_profile(request.workspace))
    if record is None:
        raise NotFound(_("No DKIM key yet: make one first."))
    return record


@router.get("/sender/domain-check", response=with_errors({200: DomainCheckOut}),
            summary="Ask DNS now whether the sender's domain has SPF, DKIM and DMARC in order")
def check_domain(request: ApiRequest) -> Any:
    profile = authoring.sender_profile(request.workspace)
    if not profile.from_address:
        raise NotFound(_("Set the sender's address first."))
    result = domains.check(profile)
    return {"domain": domains.domain_of(profile), "spf": result.spf, "dkim": result.dkim, "dmarc": result.dmarc}
