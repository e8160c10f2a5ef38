"""Saved segments of the key's workspace, their live counts and members, and counts of unsaved definitions."""

import datetime as dt
from typing import Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.routers.contacts import ContactOut
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.contacts import queries, services
from musubi.contacts.schemas import Definition

router = Router(tags=["segments"])

DEFINITION_HELP = (
    "Who belongs: conditions combined with `all` (and) or `any` (or); a condition of type `group` holds "
    "conditions of its own (one level deep). No conditions: every contact. Merged records are counted for the "
    "person they were merged into and are never members themselves; erased people are never members.")


class SegmentOut(Schema):
    id: int
    name: str
    definition: Definition
    created_at: dt.datetime
    updated_at: dt.datetime


class SegmentIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    definition: Definition = Field(description=DEFINITION_HELP)


class SegmentPatch(Input):
    name: str = Field(default=None, min_length=1, max_length=200, pattern=NOT_BLANK)  # type: ignore[assignment]
    definition: Definition = Field(default=None, description=DEFINITION_HELP)  # type: ignore[assignment]


class CountOut(Schema):
    count: int = Field(description="People in the segment now.")


@router.get("/segments", response=with_errors({200: list[SegmentOut]}), summary="Saved segments")
@paginate(Cursor, ordering=("id",))
def list_segments(request: ApiRequest) -> Any:
    return queries.segments(request.workspace)


@router.post("/segments", response=with_errors({201: SegmentOut}), summary="Save a segment")
def create_segment(request: ApiRequest, payload: SegmentIn) -> Any:
    segment = services.create_segment(workspace=request.workspace, actor=request.actor, name=payload.name,
                                      definition=payload.definition)
    return Status(201, segment)


@router.post("/segments/count", response=with_errors({200: CountOut}),
             summary="Count the people an unsaved definition finds (a preview)")
def count_definition(request: ApiRequest, payload: Definition) -> Any:
    return {"count": services.count(workspace=request.workspace, definition=payload)}


@router.get("/segments/{segment_id}", response=with_errors({200: SegmentOut}), summary="A segment")
def get_segment(request: ApiRequest, segment_id: ObjectId) -> Any:
    return queries.segment(request.workspace, segment_id)


@router.patch("/segments/{segment_id}", response=with_errors({200: SegmentOut}),
              summary="Rename a segment or change its conditions")
def update_segment(request: ApiRequest, segment_id: ObjectId, payload: SegmentPatch) -> Any:
    return services.update_segment(workspace=request.workspace, actor=request.actor, segment_id=segment_id,
                                   name=payload.name, definition=payload.definition)


@router.delete("/segments/{segment_id}", response=with_errors({204: None}), summary="Delete a segment")
def delete_segment(request: ApiRequest, segment_id: ObjectId) -> Any:
    services.delete_segment(workspace=request.workspace, actor=request.actor, segment_id=segment_id)
    return Status(204, None)


@router.get("/segments/{segment_id}/count", response=with_errors({200: CountOut}),
            summary="How many people are in the segment now")
def count_segment(request: ApiRequest, segment_id: ObjectId) -> Any:
    return {"count": services.count(workspace=request.workspace, segment=queries.segment(request.workspace,
                                                                                          segment_id))}


@router.get("/segments/{segment_id}/contacts", response=with_errors({200: list[ContactOut]}),
            summary="The people in the segment now, newest first")
@paginate(Cursor, ordering=("-id",))
def segment_contacts(request: ApiRequest, segment_id: ObjectId) -> Any:
    return queries.segment_members(request.workspace, queries.segment(request.workspace, segment_id))
