"""The workspace's append-only facts, for exports and analytics outside Musubi."""


import datetime as dt
from typing import Any

from ninja import Query, Router, Schema
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import DateTimeParam, ObjectId
from musubi.kernel import queries
from musubi.kernel.errors import NotFound

router = Router(tags=["facts"])


class FactOut(Schema):
    id: int
    kind: str
    occurred_at: dt.datetime
    contact_id: int | None
    source_id: int | None
    subject_type: str
    subject_id: str
    amount: int | None
    currency: str
    data: dict[str, Any]


class FactFilter(Schema):
    kind: str | None = None
    contact_id: ObjectId | None = None
    since: DateTimeParam | None = None
    until: DateTimeParam | None = None


@router.get("/facts", response=with_errors({200: list[FactOut]}),
            summary="Facts, newest first; filter by kind, contact and time")
@paginate(Cursor, ordering=("-id",))
def list_facts(request: ApiRequest, filters: Query[FactFilter]) -> Any:
    return queries.facts(request.workspace, kind=filters.kind, contact_id=filters.contact_id, since=filters.since,
                         until=filters.until)


@router.get("/facts/{fact_id}", response=with_errors({200: FactOut}), summary="One fact")
def get_fact(request: ApiRequest, fact_id: ObjectId) -> Any:
    fact = queries.facts(request.workspace).filter(pk=fact_id).first()
    if fact is None:
        raise NotFound("no such fact in this workspace")
    return fact
