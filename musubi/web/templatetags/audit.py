"""Audit entries in words: the stored action codes stay stable, people read a sentence in their language."""

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from musubi.workspaces.choices import Role

register = template.Library()

ACTION_LABELS = {
    "workspace.created": _("Workspace created"),
    "workspace.updated": _("Workspace settings changed"),
    "member.added": _("Member added"),
    "member.role_changed": _("Member's role changed"),
    "member.removed": _("Member removed"),
    "api_key.created": _("API key created"),
    "api_key.revoked": _("API key revoked"),
}


@register.filter
def audit_action(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


@register.filter
def audit_actor(entry: object) -> str:
    label = getattr(entry, "actor_label", "")
    return str(_("System")) if label == "system" else label


FIELD_LABELS = {
    "name": _("Name"), "slug": _("Short name for URLs"), "timezone": _("Time zone"), "role": _("Role"),
    "email": _("Email address"), "prefix": _("Key starts with"),
}


def _readable(field: str, value: Any) -> str:
    if field == "role" and value in Role.values:
        return str(Role(value).label)
    return str(value)


@register.filter
def audit_changes(entry: Any) -> list[tuple[str, str]]:
    """``{"role": ["staff", "viewer"]}`` → ``[("役割", "スタッフ → 閲覧のみ")]``."""
    rows = []
    for field, value in (getattr(entry, "changes", None) or {}).items():
        if isinstance(value, list) and len(value) == 2:
            text = f"{_readable(field, value[0])} → {_readable(field, value[1])}"
        else:
            text = _readable(field, value)
        rows.append((str(FIELD_LABELS.get(field, field)), text))
    return rows
