"""Bearer API keys: each key belongs to one workspace, which every handler then acts on."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from musubi.workspaces.models import ApiKey, Workspace
from musubi.workspaces.services import Actor, authenticate_api_key


class ApiRequest(HttpRequest):
    """The request an API handler receives once its key is verified."""

    workspace: Workspace
    actor: Actor


class ApiKeyAuth(HttpBearer):
    openapi_description = (
        "A workspace API key (`msk_…`), made on the workspace's API keys page or with `musubi createapikey`."
    )

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = authenticate_api_key(token)
        if key is None:
            return None
        # Handlers read these as an ApiRequest.
        request.workspace = key.workspace  # type: ignore[attr-defined]
        actor = Actor(role=key.role, api_key=key, ip_address=request.META.get("REMOTE_ADDR"))
        request.actor = actor  # type: ignore[attr-defined]
        return key
