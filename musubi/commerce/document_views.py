"""The buyer's downloads of their receipt, invoice and refund notes, from the order's signed link (the one in
every mail about the order), without a sign-in."""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from musubi.commerce import documents, notices
from musubi.commerce.models import Order
from musubi.kernel import tokens
from musubi.kernel.errors import Conflict, NotFound


def _order(token: str) -> Order:
    """The order an order link names; 404 for a forged link, exactly as the order's page answers."""
    try:
        value = tokens.unsign(token, purpose=notices.ORDER_LINK)
    except signing.BadSignature as exc:
        raise Http404(_("This link is not valid.")) from exc
    order = Order.objects.select_related("workspace").filter(pk=value.get("o"), workspace_id=value.get("w")).first()
    if order is None:
        raise Http404(_("This link is not valid."))
    return order


@require_GET
def order_document(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    order = _order(token)
    raw = request.GET.get("number", "")
    number = int(raw) if raw.isdigit() and len(raw) < 10 else (0 if raw else None)
    try:
        given = documents.for_buyer(order=order, kind=kind, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Conflict as exc:
        return render(request, "commerce/document_refused.html", {
            "order": order, "token": token, "shop": order.workspace, "problem": exc.message,
            "legal_url": reverse("legal_notice", args=[order.workspace.slug])}, status=409)
    response = HttpResponse(given.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{given.filename}"'
    response["X-Document-Copy"] = "true" if given.copy else "false"
    return response
