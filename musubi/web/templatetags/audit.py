"""Audit entries in words: the stored action codes stay stable, people read a sentence in their language."""

from django import template
from django.utils.translation import gettext_lazy as _

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
