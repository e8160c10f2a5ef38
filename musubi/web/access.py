"""How a page finds the workspace it acts on: from the slug in its URL and the visitor's membership.

Anyone who is not a member gets the same 404 as for a workspace that does not exist, so an outsider cannot
learn which workspaces exist. A member whose role does not allow the page gets 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from musubi.kernel.errors import Forbidden, NotFound
from musubi.workspaces import queries
from musubi.workspaces.local_time import in_time_of
from musubi.workspaces.models import Membership, User, Workspace
from musubi.workspaces.rules import Action, role_allows
from musubi.workspaces.services import Actor


class SignedInRequest(HttpRequest):
    """The request a ``login_required`` page receives."""

    user: User  # type: ignore[assignment]


class WorkspaceRequest(SignedInRequest):
    """The request a workspace page receives: who is acting, in which workspace, with which role."""

    workspace: Workspace
    membership: Membership
    actor: Actor


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def workspace_page(action: Action = Action.VIEW) -> Callable[..., Callable[..., HttpResponse]]:
    """Decorate a view taking ``(request, slug, ...)``: sets ``request.workspace``, ``request.membership``
    and ``request.actor``, or answers 404 (not a member) / 403 (role too low)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @functools.wraps(view)
        def wrapped(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                membership = queries.membership_in(request.user, slug)  # type: ignore[arg-type]
            except NotFound as exc:
                raise Http404(exc.message) from exc
            actor = Actor(role=membership.role, user=membership.user, ip_address=client_ip(request))
            # Set before the role check, so even the 403 page keeps the workspace's navigation.
            request.workspace = membership.workspace  # type: ignore[attr-defined]  # see WorkspaceRequest
            request.membership = membership  # type: ignore[attr-defined]
            request.actor = actor  # type: ignore[attr-defined]
            if not role_allows(membership.role, action):
                return forbidden(request)
            # Times on the workspace's pages are shown in the workspace's own time zone.
            with in_time_of(membership.workspace):
                return view(request, slug, *args, **kwargs)

        return wrapped

    return decorate


class DomainErrorMiddleware:
    """Answer a service's NotFound with 404 and Forbidden with 403, wherever a page lets one escape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return render(request, "404.html", status=404)
        if isinstance(exception, Forbidden):
            return forbidden(request)
        return None


def forbidden(request: HttpRequest) -> HttpResponse:
    """The 403 page, answered rather than raised: an expected refusal needs no traceback in the log."""
    return render(request, "403.html", status=403)
