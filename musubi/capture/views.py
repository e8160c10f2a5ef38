"""Public pages of capture: tracking links, opt-in pages and their embedded form, double opt-in, and the
coupon a customer shows at the counter. None of them needs a sign-in."""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from musubi.capture import coupons, line, points, rules, services
from musubi.capture.choices import SubmittedVia
from musubi.capture.forms import OptInForm
from musubi.capture.models import CapturePoint, Coupon
from musubi.kernel import ratelimit
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.workspaces.local_time import in_time_of
from musubi.workspaces.models import Membership, Workspace
from musubi.workspaces.rules import Action, role_allows

VISITOR_COOKIE = "mvid"
ONE_YEAR = 365 * 24 * 3600
MAX_FORM_BYTES = 64 * 1024  # an opt-in is a few hundred bytes; anything near this is not a person typing


@require_GET
def follow(request: HttpRequest, code: str) -> HttpResponse:
    try:
        redirect_ = services.follow_link(
            code=code, ip=request.META.get("REMOTE_ADDR", ""), user_agent=request.META.get("HTTP_USER_AGENT", ""),
            referrer=request.META.get("HTTP_REFERER", ""), visitor_id=request.COOKIES.get(VISITOR_COOKIE))
    except NotFound as exc:
        return HttpResponseNotFound(exc.message, content_type="text/plain; charset=utf-8")
    response = HttpResponseRedirect(redirect_.location)
    # A first-party id, so later opt-ins can be tied to the clicks that led to them.
    response.set_cookie(VISITOR_COOKIE, redirect_.visitor_id, max_age=ONE_YEAR, httponly=True, samesite="Lax",
                        secure=request.is_secure())
    response["Cache-Control"] = "no-store"  # every click must reach us to be counted
    return response


def _point(code: str) -> CapturePoint:
    try:
        return points.public_capture_point(code)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _render(request: HttpRequest, workspace: Workspace, template: str, context: dict[str, Any], *,
            status: int = 200) -> HttpResponse:
    """A public page of ``workspace``: its times (a coupon's expiry) in the business's own time zone."""
    with in_time_of(workspace):
        return render(request, template, context, status=status)


def _page(request: HttpRequest, point: CapturePoint, form: OptInForm, *, status: int = 200,
          problem: str = "") -> HttpResponse:
    return _render(request, point.workspace, "capture/optin.html", {
        "point": point, "version": form.version, "form": form, "problem": problem,
        "required": form.required_keys(), "action": reverse("capture_page", args=[point.code]),
    }, status=status)


@require_http_methods(["GET", "POST"])
def optin_page(request: HttpRequest, code: str) -> HttpResponse:
    """The hosted opt-in page (CSRF-protected like every form of the site)."""
    point = _point(code)
    version = points.current_version(point)
    if request.method == "GET":
        return _page(request, point, OptInForm(point=point, version=version))
    return _take(request, point, SubmittedVia.PAGE)


@csrf_exempt  # posted from the owner's other site, where our CSRF cookie cannot be
@require_POST
def optin_embed(request: HttpRequest, code: str) -> HttpResponse:
    """The target of the form embedded on another site. Errors are shown on the hosted page so the person can
    correct them there; rate limit, honeypot and the consent box guard it as they guard the hosted page."""
    return _take(request, _point(code), SubmittedVia.EMBED)


def _take(request: HttpRequest, point: CapturePoint, via: str) -> HttpResponse:
    version = points.current_version(point)
    form = OptInForm(request.POST, point=point, version=version)
    form.is_valid()  # gathers the data for showing it again; the rules are the service's
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_FORM_BYTES:
        return _page(request, point, OptInForm(point=point, version=version), status=413,
                     problem=_("That was more than a form can hold. Please shorten your answers and send again."))
    ip = request.META.get("REMOTE_ADDR", "")
    if not ratelimit.hit("optin:" + rules.hash_ip(ip, key=settings.SECRET_KEY), limit=settings.MUSUBI_OPTIN_LIMIT,
                         window_seconds=settings.MUSUBI_OPTIN_WINDOW_SECONDS):
        response = _page(request, point, form, status=429, problem=_(
            "Too many forms were sent from your connection. Please wait a few minutes and try again."))
        response["Retry-After"] = str(settings.MUSUBI_OPTIN_WINDOW_SECONDS)
        return response
    if form.is_bot():
        # Answer as if it worked, so the bot learns nothing; nothing is written.
        return _render(request, point.workspace, "capture/thanks.html",
                       {"point": point, "version": version, "submission": None})
    entry = points.Entry(
        email=request.POST.get("email", ""), name=request.POST.get("name", ""), phone=request.POST.get("phone", ""),
        answers=form.answers(), consented=request.POST.get("consent") in ("on", "true", "1"), via=via,
        ip_address=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""),
        visitor_id=_visitor(request), version_number=_int(request.POST.get("version")),
        time_zone=request.POST.get("time_zone", "")[:64])
    try:
        submission = points.submit(point=point, entry=entry)
    except InvalidInput as exc:
        for name, message in exc.fields.items():
            form.add_error(name if name in form.fields else None, message)
        return _page(request, point, form, status=400, problem=exc.message)
    except Conflict as exc:  # the wording changed under the person: show the new one, keep what they typed
        current = points.current_version(point)
        data = request.POST.copy()
        data["version"] = str(current.number)
        data.pop("consent", None)  # they must tick it again, for the wording they now see
        fresh = OptInForm(data, point=point, version=current)
        fresh.is_valid()
        return _page(request, point, fresh, status=409, problem=exc.message)
    return redirect("capture_thanks", point.code, points.thanks_token(submission))


def _visitor(request: HttpRequest) -> str:
    try:
        return str(uuid.UUID(request.COOKIES.get(VISITOR_COOKIE, "")))
    except ValueError:
        return ""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_GET
def optin_thanks(request: HttpRequest, code: str, token: str) -> HttpResponse:
    point = _point(code)
    try:
        submission = points.submission_for(token, purpose=points.THANKS_PURPOSE, point=point)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    coupon = submission.coupon
    verdict = coupons.state(coupon) if coupon is not None else None
    return _render(request, point.workspace, "capture/thanks.html", {
        "point": point, "version": submission.version, "submission": submission, "coupon": coupon,
        "coupon_code": rules.format_coupon_code(coupon.code) if coupon else "",
        "refusal": coupons.refusal(coupon, verdict.reason) if coupon and verdict and not verdict.usable else ""})


@require_http_methods(["GET", "POST"])
def optin_confirm(request: HttpRequest, code: str, token: str) -> HttpResponse:
    """Confirming a double opt-in takes a press of a button, not just opening the link: mail scanners open
    every link in a message, and must not confirm for the person."""
    point = _point(code)
    try:
        submission = points.submission_for(token, purpose=points.CONFIRM_PURPOSE, point=point)
        if request.method == "POST":
            submission = points.confirm(point=point, token=token, ip_address=request.META.get("REMOTE_ADDR", ""),
                                        user_agent=request.META.get("HTTP_USER_AGENT", ""))
            return redirect("capture_thanks", point.code, points.thanks_token(submission))
    except NotFound as exc:
        return _render(request, point.workspace, "capture/confirm.html", {"point": point, "problem": exc.message},
                       status=404)
    return _render(request, point.workspace, "capture/confirm.html", {
        "point": point, "submission": submission, "version": submission.version,
        "thanks_token": points.thanks_token(submission)})


@require_GET
def optin_image(request: HttpRequest, code: str, number: int) -> HttpResponseBase:
    point = _point(code)
    version = point.versions.filter(number=number).first()
    name = version.image.name if version is not None and version.image else ""
    if not name:
        raise Http404
    response = FileResponse(default_storage.open(name, "rb"),
                            content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # a version never changes
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _coupon(code: str) -> Coupon:
    found = (Coupon.objects.select_related("definition", "workspace")
             .filter(code=rules.parse_coupon_code(code)).first())
    if found is None:
        raise Http404
    return found


@require_GET
def coupon_page(request: HttpRequest, code: str) -> HttpResponse:
    """The coupon as the customer shows it. Counter staff who scan its QR code with their phone land here
    signed in, and are taken to the counter page to redeem it with one tap."""
    coupon = _coupon(code)
    if request.GET.get("staff") == "1" and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if _member_may(request, coupon.workspace, Action.OPERATE):
        return redirect(reverse("web:counter", args=[coupon.workspace.slug]) + f"?code={coupon.code}")
    verdict = coupons.state(coupon)
    return _render(request, coupon.workspace, "capture/coupon.html", {
        "coupon": coupon, "code": rules.format_coupon_code(coupon.code), "usable": verdict.usable,
        "refusal": "" if verdict.usable else coupons.refusal(coupon, verdict.reason)})


def _member_may(request: HttpRequest, workspace: Workspace, action: Action) -> bool:
    """Whether the signed-in user is a member of ``workspace`` whose role allows ``action``."""
    if not request.user.is_authenticated:
        return False
    role = Membership.objects.for_workspace(workspace).filter(user=request.user).values_list("role", flat=True).first()
    return role is not None and role_allows(role, action)


@require_GET
def coupon_qr(request: HttpRequest, code: str) -> HttpResponse:
    coupon = _coupon(code)
    url = settings.MUSUBI_BASE_URL + reverse("coupon_page", args=[coupon.code])
    return HttpResponse(rules.qr_code(url, kind="svg", scale=6), content_type="image/svg+xml")


@csrf_exempt  # LINE's servers sign the body instead
@require_POST
def line_webhook(request: HttpRequest, channel_id: str) -> HttpResponse:
    """The webhook of one connected LINE channel: the signature is checked on the raw body, with the secret of
    the channel named in the URL, before anything is parsed; events are applied once each."""
    try:
        line.receive(channel_id=channel_id, body=request.body, signature=request.headers.get("X-Line-Signature", ""))
    except line.InvalidSignature as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    except NotFound as exc:
        return HttpResponseNotFound(exc.message, content_type="text/plain; charset=utf-8")
    return HttpResponse("OK", content_type="text/plain")


@require_GET
def line_join(request: HttpRequest, channel_id: str) -> HttpResponse:
    """Where a table's QR code (through a tracking link) sends a guest who is to add the account on LINE."""
    try:
        return HttpResponseRedirect(line.join_url(channel_id=channel_id, visitor_id=_visitor(request)))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except line.NoJoinLink as exc:  # connected but not set up yet: say so, and tell the shop's own staff how
        settings_url = ""
        if _member_may(request, exc.channel.workspace, Action.MANAGE):
            settings_url = reverse("web:line_channel_edit", args=[exc.channel.workspace.slug, exc.channel.pk])
        return render(request, "capture/line_no_join_link.html",
                      {"channel": exc.channel, "settings_url": settings_url}, status=409)


@require_GET
def line_callback(request: HttpRequest) -> HttpResponse:
    try:
        channel = line.complete_join(state=request.GET.get("state", "")[:2000],
                                     code=request.GET.get("code", "")[:500])
    except InvalidInput as exc:
        return render(request, "capture/line_joined.html", {"problem": exc.message}, status=400)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "capture/line_joined.html", {"channel": channel})
