"""The key's own workspace: its settings, members, keys and audit log."""


import datetime as dt
from typing import Any

from ninja import Field, Router, Schema
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId, TimeZoneName
from musubi.workspaces import queries, services
from musubi.workspaces.choices import Role
from musubi.workspaces.rules import Action

router = Router(tags=["workspace"])


class WorkspaceOut(Schema):
    slug: str
    name: str
    timezone: str
    currency: str
    country: str


class WorkspacePatch(Input):
    """Leave a field out to keep it. The fields are not nullable: ``null`` is an error, not "keep"."""

    # A None default that the schema does not admit as a value: pydantic does not validate defaults.
    name: str = Field(default=None, min_length=1, max_length=200, pattern=NOT_BLANK)  # type: ignore[assignment]
    timezone: TimeZoneName = Field(default=None)  # type: ignore[assignment]


class MemberOut(Schema):
    id: int
    email: str = Field(alias="user.email")
    role: Role
    created_at: dt.datetime


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    role: Role
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class AuditEntryOut(Schema):
    id: int
    at: dt.datetime
    actor: str = Field(alias="actor_label")
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]


@router.get("/workspace", response=with_errors({200: WorkspaceOut}), summary="The workspace this key belongs to")
def get_workspace(request: ApiRequest) -> Any:
    return request.workspace


@router.patch("/workspace", response=with_errors({200: WorkspaceOut}),
              summary="Change the workspace's name or time zone")
def patch_workspace(request: ApiRequest, payload: WorkspacePatch) -> Any:
    return services.update_workspace(workspace=request.workspace, actor=request.actor,
                                     name=payload.name, timezone=payload.timezone)


@router.get("/members", response=with_errors({200: list[MemberOut]}), summary="People with a role in the workspace")
@paginate(Cursor, ordering=("id",))
def list_members(request: ApiRequest) -> Any:
    return queries.members(request.workspace)


@router.get("/api-keys", response=with_errors({200: list[ApiKeyOut]}),
            summary="API keys of the workspace (never their secrets)")
@paginate(Cursor, ordering=("-id",))
def list_api_keys(request: ApiRequest) -> Any:
    request.actor.require(Action.ADMINISTER)
    return queries.api_keys(request.workspace)


@router.delete("/api-keys/{key_id}", response=with_errors({200: ApiKeyOut}), summary="Revoke an API key")
def revoke_api_key(request: ApiRequest, key_id: ObjectId) -> Any:
    return services.revoke_api_key(workspace=request.workspace, actor=request.actor, key_id=key_id)


@router.get("/audit-log", response=with_errors({200: list[AuditEntryOut]}), summary="Who changed what, newest first")
@paginate(Cursor, ordering=("-id",))
def list_audit_log(request: ApiRequest) -> Any:
    request.actor.require(Action.ADMINISTER)
    return queries.audit_log(request.workspace)
