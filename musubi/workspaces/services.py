"""Use cases of the workspaces app. Each owns its transaction and writes an audit entry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from musubi.kernel import clock, events, tokens
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from musubi.kernel.money import CURRENCY_EXPONENTS
from musubi.kernel.timezones import is_selectable
from musubi.workspaces.choices import Language, Role
from musubi.workspaces.events import WorkspaceCreated
from musubi.workspaces.models import SLUG_PATTERN, ApiKey, AuditEntry, LegalProfile, Membership, User, Workspace
from musubi.workspaces.rules import (
    LEGAL_FIELDS,
    Action,
    invoice_number_is_valid,
    may_create_workspaces,
    role_allows,
)

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
            raise Forbidden(_("Your role in this workspace does not allow this."))


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
        fields["slug"] = _("Use 1–50 lower-case letters, digits and hyphens, starting and ending with a letter or "
                           "digit; a few words such as “api” are reserved.")
    if name is not None and not name.strip():
        fields["name"] = _("Enter a name.")
    if name is not None and len(name) > 200:
        fields["name"] = _("Use at most 200 characters.")
    if timezone is not None and not is_selectable(timezone):
        fields["timezone"] = _("Choose a time zone such as Asia/Tokyo.")
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        fields["currency"] = _("Musubi does not support this currency.")
    if fields:
        raise InvalidInput(_("The workspace settings are not valid."), fields=fields)


@transaction.atomic
def create_workspace(
    *, slug: str, name: str, owner: User | None = None, timezone: str = "Asia/Tokyo", currency: str = "JPY"
) -> Workspace:
    if owner is not None and not may_create_workspaces(
        is_superuser=owner.is_superuser, roles=Membership.objects.filter(user=owner).values_list("role", flat=True)
    ):
        raise Forbidden(_("Only owners can create workspaces. Ask an owner to create one for you."))
    _validate_workspace_fields(slug=slug, name=name, timezone=timezone, currency=currency)
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(_("Another workspace already uses this short name."),
                       fields={"slug": _("Another workspace already uses this short name.")})
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
        raise InvalidInput(_("Enter a valid email address."), fields={"email": _("Enter a valid email address.")})
    if User.objects.filter(email=email).exists():
        raise Conflict(_("Someone already uses this email address."),
                       fields={"email": _("Someone already uses this email address.")})
    if password is not None:
        try:
            validate_password(password, User(email=email))
        except ValidationError as exc:
            raise InvalidInput(_("Choose a stronger password."), fields={"password": " ".join(exc.messages)}) from exc
    return User.objects.create_user(email, password, language=language, first_name=full_name)


@transaction.atomic
def add_member(*, workspace: Workspace, actor: Actor, email: str, role: str) -> Membership:
    """Give the person with ``email`` a role in the workspace, creating their user (without a password:
    they set one through the password-reset link) when they have none yet."""
    actor.require(Action.ADMINISTER)
    if role not in Role.values:
        raise _unknown_role()
    user = User.objects.filter(email=email.strip().lower()).first() or create_user(email=email, password=None)
    membership, created = Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
    if not created:
        raise Conflict(_("%(email)s is already a member.") % {"email": user.email},
                       fields={"email": _("This person is already a member.")})
    record_audit(workspace=workspace, actor=actor, action="member.added", obj=membership,
                 changes={"email": user.email, "role": role})
    return membership


@transaction.atomic
def change_role(*, workspace: Workspace, actor: Actor, membership_id: int, role: str) -> Membership:
    actor.require(Action.ADMINISTER)
    if role not in Role.values:
        raise _unknown_role()
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


def _unknown_role() -> InvalidInput:
    return InvalidInput(_("Choose a role: owner, staff or viewer."),
                        fields={"role": _("Choose a role: owner, staff or viewer.")})


def _membership(workspace: Workspace, membership_id: int) -> Membership:
    membership = Membership.objects.for_workspace(workspace).select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise NotFound(_("This workspace has no such member."))
    return membership


def _keep_an_owner(workspace: Workspace, *, leaving: Membership) -> None:
    # Lock the workspace row first: two owners demoting each other at once then take turns instead of
    # deadlocking, and the second sees that only one owner is left.
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    others = Membership.objects.for_workspace(workspace).filter(role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise Conflict(_("A workspace must keep at least one owner."), code="last_owner")


@transaction.atomic
def create_api_key(*, workspace: Workspace, actor: Actor, name: str, role: str = Role.OWNER) -> tuple[ApiKey, str]:
    """Make a key and return it with its secret, which is never stored and cannot be shown again."""
    actor.require(Action.ADMINISTER)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput(_("Give the key a name of 1–100 characters."),
                           fields={"name": _("Give the key a name of 1–100 characters.")})
    if role not in Role.values:
        raise _unknown_role()
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
        raise NotFound(_("This workspace has no such API key."))
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


def update_profile(*, user: User, full_name: str, language: str) -> None:
    if language not in Language.values:
        raise InvalidInput(_("Choose Japanese or English."), fields={"language": _("Choose Japanese or English.")})
    user.first_name = full_name.strip()[:150]
    user.language = language
    user.save(update_fields=["first_name", "language"])


_LEGAL_MAX_LENGTHS = {"seller_name": 200, "responsible_person": 200, "address": 500, "phone": 40, "email": 254,
                      "invoice_registration_number": 14}


@transaction.atomic
def save_legal_profile(*, workspace: Workspace, actor: Actor, **values: str) -> LegalProfile:
    """Save the seller's particulars for the 特商法 page. Empty required fields are allowed here (the owner
    may fill them in over several visits); publishing an offer is what refuses them."""
    actor.require(Action.MANAGE)
    fields: dict[str, str] = {}
    unknown = set(values) - set(LEGAL_FIELDS)
    for name in unknown:
        fields[name] = _("Unknown field.")
    cleaned = {name: str(value or "").strip() for name, value in values.items() if name in LEGAL_FIELDS}
    for name, value in cleaned.items():
        limit = _LEGAL_MAX_LENGTHS.get(name, 5000)
        if len(value) > limit:
            fields[name] = _("Use at most %(n)s characters.") % {"n": limit}
    number = cleaned.get("invoice_registration_number", "")
    if number and not invoice_number_is_valid(number):
        fields["invoice_registration_number"] = _("Enter T followed by 13 digits, e.g. T1234567890123.")
    email = cleaned.get("email", "")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        fields["email"] = _("Enter a valid email address.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    profile = LegalProfile.objects.select_for_update().filter(workspace=workspace).first() or LegalProfile(
        workspace=workspace)
    changes = {name: [getattr(profile, name), value] for name, value in cleaned.items()
               if getattr(profile, name) != value}
    for name, (_before, after) in changes.items():
        setattr(profile, name, after)
    if changes or profile.pk is None:
        profile.updated_at = clock.now()
        profile.save()
        record_audit(workspace=workspace, actor=actor, action="legal_profile.saved", obj=profile,
                     changes=changes)
    return profile
