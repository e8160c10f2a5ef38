from typing import Any

from django.http import HttpRequest


def current_workspace(request: HttpRequest) -> dict[str, Any]:
    """The workspace and membership a workspace page resolved, for the navigation in ``base.html``."""
    return {"workspace": getattr(request, "workspace", None), "membership": getattr(request, "membership", None)}
