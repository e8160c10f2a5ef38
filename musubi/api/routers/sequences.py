"""Sequences (step delivery): their steps, and the contacts enrolled in them."""

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId, TimeOfDay
from musubi.contacts import queries as contact_queries
from musubi.kernel.errors import NotFound
from musubi.messaging import authoring, enrollments
from musubi.messaging.choices import Reentry, Timing, Trigger
from musubi.messaging.models import Enrollment, Sequence, Step
from musubi.workspaces.rules import Action

router = Router(tags=["sequences"])


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
