"""Sources, their costs and tracking links of the key's workspace."""

import datetime as dt
from typing import Any

from django.conf import settings
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.capture import queries, services
from musubi.capture.choices import SourceKind
from musubi.kernel.schema_types import Amount

router = Router(tags=["capture"])


class SourceOut(Schema):
    id: int
    kind: SourceKind
    name: str
    spent: int = Field(description="Sum of the source's recorded costs, in minor units.")
    created_at: dt.datetime

    @staticmethod
    def resolve_spent(source: Any) -> int:
        return source.spent or 0


class SourceIn(Input):
    kind: SourceKind
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)


class CostIn(Input):
    amount: Amount
    spent_on: dt.date
    note: str = Field(default="", max_length=200)


class LinkOut(Schema):
    id: int
    code: str
    url: str
    source_id: int
    target_url: str
    active: bool
    clicks: int = Field(description="Clicks by people; link previews and crawlers are not counted.")
    visitors: int
    created_at: dt.datetime

    @staticmethod
    def resolve_clicks(link: Any) -> int:
        return link.people_clicks

    @staticmethod
    def resolve_url(link: Any) -> str:
        return f"{settings.MUSUBI_BASE_URL}/r/{link.code}"


class LinkIn(Input):
    source_id: ObjectId
    target_url: str = Field(max_length=2000)


@router.get("/sources", response=with_errors({200: list[SourceOut]}), summary="Where people come from")
@paginate(Cursor, ordering=("id",))
def list_sources(request: ApiRequest) -> Any:
    return queries.sources(request.workspace)


@router.post("/sources", response=with_errors({201: SourceOut}), summary="Create a source")
def create_source(request: ApiRequest, payload: SourceIn) -> Any:
    source = services.create_source(workspace=request.workspace, actor=request.actor, **payload.model_dump())
    return Status(201, queries.source(request.workspace, source.pk))


@router.get("/sources/{source_id}", response=with_errors({200: SourceOut}), summary="A source")
def get_source(request: ApiRequest, source_id: ObjectId) -> Any:
    return queries.source(request.workspace, source_id)


@router.post("/sources/{source_id}/costs", response=with_errors({201: SourceOut}),
             summary="Record money spent on a source")
def add_cost(request: ApiRequest, source_id: ObjectId, payload: CostIn) -> Any:
    services.add_cost(workspace=request.workspace, actor=request.actor, source_id=source_id, **payload.model_dump())
    return Status(201, queries.source(request.workspace, source_id))


@router.get("/links", response=with_errors({200: list[LinkOut]}), summary="Tracking links with their clicks")
@paginate(Cursor, ordering=("-id",))
def list_links(request: ApiRequest) -> Any:
    return queries.links(request.workspace)


@router.post("/links", response=with_errors({201: LinkOut}), summary="Create a tracking link /r/<code>")
def create_link(request: ApiRequest, payload: LinkIn) -> Any:
    link = services.create_link(workspace=request.workspace, actor=request.actor, **payload.model_dump())
    return Status(201, queries.link(request.workspace, link.pk))


@router.get("/links/{link_id}", response=with_errors({200: LinkOut}), summary="A tracking link")
def get_link(request: ApiRequest, link_id: ObjectId) -> Any:
    return queries.link(request.workspace, link_id)
