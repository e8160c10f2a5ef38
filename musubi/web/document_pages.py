"""Staff's downloads of an order's receipt, invoice and refund notes, and the 配達完了 button."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from musubi.commerce import delivery, documents
from musubi.kernel.errors import Conflict
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.workspaces.rules import Action


def pdf_response(given: documents.GivenOut) -> HttpResponse:
    """The PDF shown in the browser's own viewer (inline), named for saving."""
    response = HttpResponse(given.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{given.filename}"'
    response["X-Document-Copy"] = "true" if given.copy else "false"
    return response


def requested_number(raw: str) -> int | None:
    """``?number=12`` picks an earlier refund note; anything that is not a number picks none (404 later)."""
    return int(raw) if raw.isdigit() and len(raw) < 10 else (0 if raw else None)


@require_GET
@workspace_page(Action.OPERATE)
def order_document(request: WorkspaceRequest, slug: str, order_id: int, kind: str) -> HttpResponse:
    try:
        given = documents.for_staff(workspace=request.workspace, actor=request.actor, order_id=order_id, kind=kind,
                                    number=requested_number(request.GET.get("number", "")))
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("web:order", slug=slug, order_id=order_id)
    return pdf_response(given)


@require_POST
@workspace_page(Action.OPERATE)
def order_delivered(request: WorkspaceRequest, slug: str, order_id: int) -> HttpResponse:
    return act(request, lambda: delivery.mark_delivered(workspace=request.workspace, actor=request.actor,
                                                        order_id=order_id),
               done=_("The delivery was recorded."), then=redirect("web:order", slug=slug, order_id=order_id))
