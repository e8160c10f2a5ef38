"""The public end of a tracking link: ``/r/<code>`` records the click, then redirects."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.views.decorators.http import require_GET

from musubi.capture import services
from musubi.kernel.errors import NotFound

VISITOR_COOKIE = "mvid"
ONE_YEAR = 365 * 24 * 3600


@require_GET
def follow(request: HttpRequest, code: str) -> HttpResponse:
    try:
        redirect = services.follow_link(
            code=code, ip=request.META.get("REMOTE_ADDR", ""), user_agent=request.META.get("HTTP_USER_AGENT", ""),
            referrer=request.META.get("HTTP_REFERER", ""), visitor_id=request.COOKIES.get(VISITOR_COOKIE))
    except NotFound as exc:
        return HttpResponseNotFound(exc.message, content_type="text/plain; charset=utf-8")
    response = HttpResponseRedirect(redirect.location)
    # A first-party id, so later opt-ins can be tied to the clicks that led to them.
    response.set_cookie(VISITOR_COOKIE, redirect.visitor_id, max_age=ONE_YEAR, httponly=True, samesite="Lax",
                        secure=request.is_secure())
    response["Cache-Control"] = "no-store"  # every click must reach us to be counted
    return response
