"""Reads of the workspaces app for views, the API and the CLI."""

from __future__ import annotations

from django.db.models import QuerySet

from musubi.kernel.errors import NotFound
from musubi.workspaces import rules
from musubi.workspaces.models import ApiKey, AuditEntry, LegalProfile, Membership, User, Workspace


def memberships_of(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")


def membership_in(user: User, slug: str) -> Membership:
    """The user's membership in the workspace ``slug``; NotFound when there is none (or no such workspace),
    so an outsider cannot even learn that a workspace exists."""
    membership = Membership.objects.select_related("workspace").filter(user=user, workspace__slug=slug).first()
    if membership is None:
        raise NotFound("no such workspace")
    return membership


def members(workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user").order_by("user__email")


def api_keys(workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_workspace(workspace).order_by("-created_at", "-id")


def audit_log(workspace: Workspace) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.for_workspace(workspace).select_related("actor_user", "actor_api_key")


def legal_profile(workspace: Workspace) -> LegalProfile:
    """The workspace's legal profile; an unsaved, empty one when the owner has not filled it in yet."""
    return LegalProfile.objects.for_workspace(workspace).first() or LegalProfile(workspace=workspace)


def missing_legal_fields(workspace: Workspace) -> list[str]:
    return rules.missing_legal_fields(legal_profile(workspace).values())


def public_workspace(slug: str) -> Workspace:
    """The workspace of a public page (the 特商法 page); NotFound when there is none."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise NotFound("no such workspace")
    return workspace
