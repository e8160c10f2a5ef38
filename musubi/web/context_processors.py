from typing import Any

from django.http import HttpRequest

from musubi.workspaces.queries import memberships_of
from musubi.workspaces.rules import Action, role_allows


def current_workspace(request: HttpRequest) -> dict[str, Any]:
    """The workspace and membership a workspace page resolved, and the visitor's other workspaces for the
    switcher in ``base.html`` (read only when a template asks for them)."""
    user = getattr(request, "user", None)
    membership = getattr(request, "membership", None)
    return {
        "workspace": getattr(request, "workspace", None),
        "membership": membership,
        "can_administer": membership is not None and role_allows(membership.role, Action.ADMINISTER),
        "can_manage": membership is not None and role_allows(membership.role, Action.MANAGE),
        "can_operate": membership is not None and role_allows(membership.role, Action.OPERATE),
        "my_memberships": (lambda: list(memberships_of(user))) if user and user.is_authenticated else (),
    }
