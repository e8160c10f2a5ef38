"""Public endpoints reached from messages: the open pixel, tracked links, unsubscribe and preferences.

None of them needs a login or a cookie: the token in the address names one delivery and is signed
(``messaging.tracking``). The one-click unsubscribe (RFC 8058) answers a bare POST with 200 and no redirect,
as mailbox providers require, and takes effect at once.
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from musubi.capture.rules import is_web_url
from musubi.contacts.choices import Channel
from musubi.messaging import responses, tracking
from musubi.messaging.models import Delivery

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


@require_GET
@never_cache
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    delivery_id = tracking.delivery_id(token, "open")
    if delivery_id is not None:
        responses.record_open(delivery_id=delivery_id, user_agent=_agent(request))
    return HttpResponse(PIXEL, content_type="image/gif")


@require_GET
@never_cache
def click(request: HttpRequest, token: str) -> HttpResponse:
    url = request.GET.get("u", "")
    delivery_id = tracking.delivery_id(token, "click", url)
    if delivery_id is None or not is_web_url(url):
        raise Http404
    responses.record_click(delivery_id=delivery_id, url=url, user_agent=_agent(request))
    return HttpResponseRedirect(url)


def _delivery(token: str) -> Delivery:
    delivery_id = tracking.delivery_id(token, "unsubscribe")
    delivery = (Delivery.objects.select_related("workspace", "contact__merged_into").filter(pk=delivery_id).first()
                if delivery_id is not None else None)
    if delivery is None:
        raise Http404
    return delivery


def _ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


@csrf_exempt  # the signed token is the authority; RFC 8058 requires a POST without cookies to work
@require_http_methods(["GET", "POST"])
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = _delivery(token)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        responses.unsubscribe(delivery=delivery, channels={delivery.channel}, ip_address=_ip(request),
                              user_agent=_agent(request), via="one-click" if one_click else "link")
        if one_click:
            return HttpResponse("unsubscribed\n", content_type="text/plain; charset=utf-8")
        return render(request, "messaging/public/unsubscribed.html", {
            "delivery": delivery, "token": token, "channel": Channel(delivery.channel).label})
    return render(request, "messaging/public/unsubscribe.html", {
        "delivery": delivery, "token": token, "channel": Channel(delivery.channel).label,
        "already": delivery.channel in responses.stopped_channels(delivery)})


@csrf_exempt  # as above: the token, not a session, says who this is
@require_http_methods(["GET", "POST"])
@never_cache
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    delivery = _delivery(token)
    saved = False
    if request.method == "POST":
        chosen = set(request.POST.getlist("stop")) & {Channel.EMAIL.value, Channel.LINE.value}
        if request.POST.get("all"):
            chosen = {Channel.EMAIL.value, Channel.LINE.value}
        responses.unsubscribe(delivery=delivery, channels=chosen, ip_address=_ip(request),
                              user_agent=_agent(request), via="preferences")
        saved = True
    addresses = responses.addresses_of(delivery)
    stopped = responses.stopped_channels(delivery)
    channels = [{"value": c, "label": Channel(c).label, "stopped": c in stopped} for c in addresses]
    return render(request, "messaging/public/preferences.html", {
        "delivery": delivery, "token": token, "channels": channels, "saved": saved})
