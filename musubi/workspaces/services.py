"""Use cases of the workspaces app. Each owns its transaction and writes an audit entry."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from musubi.kernel import clock, events, tokens
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from musubi.kernel.money import CURRENCY_EXPONENTS
from musubi.workspaces.choices import Role
from musubi.workspaces.events import WorkspaceCreated
from musubi.workspaces.models import SLUG_PATTERN, ApiKey, AuditEntry, Membership, User, Workspace
from musubi.workspaces.rules import Action, role_allows

API_KEY_KIND = "msk"  # Musubi secret key
RESERVED_SLUGS = frozenset({"api", "admin", "static", "login", "logout", "account", "w", "r", "p", "new"})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in person or an API key, with the role they hold in the workspace."""

    role: str
    user: User | None = None
    api_key: ApiKey | None = None
    ip_address: str | None = None

    def require(self, action: Action) -> None:
        if not role_allows(self.role, action):
            raise Forbidden(f"the role {self.role!r} may not {action.value} in this workspace", code="forbidden")


SYSTEM = Actor(role=Role.OWNER)


def record_audit(
    *, workspace: Workspace, actor: Actor, action: str, obj: Any = None, changes: dict[str, Any] | None = None
) -> AuditEntry:
    return AuditEntry.objects.create(
        workspace=workspace,
        at=clock.now(),
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        changes=changes or {},
        ip_address=actor.ip_address,
    )


def _validate_workspace_fields(*, slug: str | None = None, name: str | None = None, timezone: str | None = None,
                               currency: str | None = None) -> None:
    fields: dict[str, str] = {}
    if slug is not None and (not re.fullmatch(SLUG_PATTERN, slug) or slug in RESERVED_SLUGS):
        fields["slug"] = "lower-case letters, digits and hyphens, 1–50 characters, not a reserved word"
    if name is not None and not name.strip():
        fields["name"] = "must not be empty"
    if name is not None and len(name) > 200:
        fields["name"] = "at most 200 characters"
    if timezone is not None and timezone not in zoneinfo.available_timezones():
        fields["timezone"] = f"unknown time zone {timezone!r}"
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        fields["currency"] = f"unsupported currency {currency!r}"
    if fields:
        raise InvalidInput("the workspace settings are not valid", fields=fields)


@transaction.atomic
def create_workspace(
    *, slug: str, name: str, owner: User | None = None, timezone: str = "Asia/Tokyo", currency: str = "JPY"
) -> Workspace:
    _validate_workspace_fields(slug=slug, name=name, timezone=timezone, currency=currency)
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(f"a workspace with the slug {slug!r} already exists", fields={"slug": "already taken"})
    workspace = Workspace.objects.create(slug=slug, name=name.strip(), timezone=timezone, currency=currency)
    actor = SYSTEM
    if owner is not None:
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
        actor = Actor(role=Role.OWNER, user=owner)
    record_audit(workspace=workspace, actor=actor, action="workspace.created", obj=workspace,
                 changes={"slug": slug, "name": workspace.name})
    events.publish(WorkspaceCreated(workspace_id=workspace.pk, slug=slug))
    return workspace


@transaction.atomic
def update_workspace(
    *, workspace: Workspace, actor: Actor, name: str | None = None, timezone: str | None = None
) -> Workspace:
    actor.require(Action.ADMINISTER)
    _validate_workspace_fields(name=name, timezone=timezone)
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != workspace.name:
        changes["name"] = [workspace.name, name.strip()]
        workspace.name = name.strip()
    if timezone is not None and timezone != workspace.timezone:
        changes["timezone"] = [workspace.timezone, timezone]
        workspace.timezone = timezone
    if changes:
        workspace.save(update_fields=[*changes.keys()])
        record_audit(workspace=workspace, actor=actor, action="workspace.updated", obj=workspace, changes=changes)
    return workspace


def create_user(*, email: str, password: str | None, language: str = "ja", full_name: str = "") -> User:
    email = User.objects.normalize_email(email.strip()).lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidInput("that is not an email address", fields={"email": "not a valid email address"})
    if User.objects.filter(email=email).exists():
        raise Conflict("a user with this email address already exists", fields={"email": "already registered"})
    if password is not None:
        try:
            validate_password(password, User(email=email))
        except ValidationError as exc:
            raise InvalidInput("the password is too weak", fields={"password": " ".join(exc.messages)}) from exc
    return User.objects.create_user(email, password, language=language, first_name=full_name)


@transaction.atomic
def add_member(*, workspace: Workspace, actor: Actor, email: str, role: str) -> Membership:
    """Give the person with ``email`` a role in the workspace, creating their user (without a password:
    they set one through the password-reset link) when they have none yet."""
    actor.require(Action.ADMINISTER)
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}", fields={"role": f"one of {', '.join(Role.values)}"})
    user = User.objects.filter(email=email.strip().lower()).first() or create_user(email=email, password=None)
    membership, created = Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
    if not created:
        raise Conflict(f"{user.email} is already a member", fields={"email": "already a member"})
    record_audit(workspace=workspace, actor=actor, action="member.added", obj=membership,
                 changes={"email": user.email, "role": role})
    return membership


@transaction.atomic
def change_role(*, workspace: Workspace, actor: Actor, membership_id: int, role: str) -> Membership:
    actor.require(Action.ADMINISTER)
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}", fields={"role": f"one of {', '.join(Role.values)}"})
    membership = _membership(workspace, membership_id)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(workspace, leaving=membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    record_audit(workspace=workspace, actor=actor, action="member.role_changed", obj=membership,
                 changes={"email": membership.user.email, "role": [before, role]})
    return membership


@transaction.atomic
def remove_member(*, workspace: Workspace, actor: Actor, membership_id: int) -> None:
    actor.require(Action.ADMINISTER)
    membership = _membership(workspace, membership_id)
    if membership.role == Role.OWNER:
        _keep_an_owner(workspace, leaving=membership)
    record_audit(workspace=workspace, actor=actor, action="member.removed", obj=membership,
                 changes={"email": membership.user.email})
    membership.delete()


def _membership(workspace: Workspace, membership_id: int) -> Membership:
    membership = Membership.objects.for_workspace(workspace).select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise NotFound("no such member in this workspace")
    return membership


def _keep_an_owner(workspace: Workspace, *, leaving: Membership) -> None:
    others = Membership.objects.for_workspace(workspace).filter(role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.select_for_update().exists():
        raise Conflict("a workspace must keep at least one owner", code="last_owner")


@transaction.atomic
def create_api_key(*, workspace: Workspace, actor: Actor, name: str, role: str = Role.OWNER) -> tuple[ApiKey, str]:
    """Make a key and return it with its secret, which is never stored and cannot be shown again."""
    actor.require(Action.ADMINISTER)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("give the key a name of 1–100 characters", fields={"name": "1–100 characters"})
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}", fields={"role": f"one of {', '.join(Role.values)}"})
    secret = tokens.new_secret(API_KEY_KIND)
    prefix = secret[len(API_KEY_KIND) + 1 :][:12]
    key = ApiKey.objects.create(
        workspace=workspace, name=name, prefix=prefix, key_hash=tokens.hash_secret(secret), role=role,
        created_by=actor.user,
    )
    record_audit(workspace=workspace, actor=actor, action="api_key.created", obj=key,
                 changes={"name": name, "prefix": prefix, "role": role})
    return key, secret


@transaction.atomic
def revoke_api_key(*, workspace: Workspace, actor: Actor, key_id: int) -> ApiKey:
    actor.require(Action.ADMINISTER)
    key = ApiKey.objects.for_workspace(workspace).filter(pk=key_id).first()
    if key is None:
        raise NotFound("no such API key in this workspace")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        record_audit(workspace=workspace, actor=actor, action="api_key.revoked", obj=key, changes={"name": key.name})
    return key


def authenticate_api_key(secret: str) -> ApiKey | None:
    """The active key ``secret`` belongs to, or None. Compares hashes in constant time."""
    marker = f"{API_KEY_KIND}_"
    if not secret.startswith(marker):
        return None
    prefix = secret[len(marker) :][:12]
    key = ApiKey.objects.select_related("workspace").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not tokens.secret_matches(secret, key.key_hash):
        return None
    now = clock.now()
    # Writing on every call would make each API request a write; a minute's precision is enough here.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def set_language(*, user: User, language: str) -> None:
    if language not in {"ja", "en"}:
        raise InvalidInput(f"unknown language {language!r}", fields={"language": "ja or en"})
    user.language = language
    user.save(update_fields=["language"])
