"""Capture points: the owner makes an opt-in form, gets its page, QR code and embeddable snippet, and sees
who registered through which version."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from musubi.capture import points, queries, rules
from musubi.capture.models import CouponDefinition
from musubi.catalog.models import Offer
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.optin_forms import CapturePointForm, QuestionFormSet, question_initial, questions_from
from musubi.workspaces.rules import Action, role_allows


def _choices(request: WorkspaceRequest) -> dict[str, list[tuple[int, str]]]:
    workspace = request.workspace
    return {
        "offers": [(o.pk, o.name) for o in Offer.objects.for_workspace(workspace).order_by("name")],
        "sources": [(s.pk, s.name) for s in queries.sources(workspace)],
        "coupons": [(c.pk, c.name) for c in CouponDefinition.objects.for_workspace(workspace).order_by("name")],
    }


@workspace_page()
def capture_points(request: WorkspaceRequest, slug: str) -> HttpResponse:
    return render(request, "web/capture/points.html", {
        "points": queries.capture_points(request.workspace), "base_url": settings.MUSUBI_BASE_URL,
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


def _edit(request: WorkspaceRequest, slug: str, point_id: int | None) -> HttpResponse:
    workspace = request.workspace
    point = points.capture_point_of(workspace, point_id) if point_id else None
    version = points.current_version(point) if point else None
    initial: dict[str, Any] = {}
    if point and version:
        initial = CapturePointForm.initial_for(point, version)
    else:
        previous = queries.latest_version(workspace)  # the legal lines are the same on every form of a shop
        if previous is not None:
            initial = {k: getattr(previous, k) for k in ("sender_name", "privacy_url", "tokushoho_url",
                                                          "purpose_text", "consent_text")}
    posted = request.method == "POST"
    form = CapturePointForm(request.POST if posted else None, request.FILES if posted else None,
                            initial=initial, **_choices(request))
    questions = QuestionFormSet(request.POST if posted else None, prefix="q",
                                initial=question_initial(version) if version else None)
    if posted and form.is_valid() and questions.is_valid():
        try:
            wording = form.wording(questions_from(questions))
            image = form.cleaned_data["image"]
            if point is None:
                point = points.create_capture_point(workspace=workspace, actor=request.actor, setup=form.setup(),
                                                    wording=wording, image=image)
                messages.success(request, _("The form is ready. Share its page or QR code."))
            else:
                point, new_version = points.update_capture_point(
                    workspace=workspace, actor=request.actor, capture_point_id=point.pk, setup=form.setup(),
                    wording=wording, image=image, remove_image=form.cleaned_data["remove_image"])
                messages.success(request, _("Saved as version %(n)d: consent given from now on points at it.")
                                 % {"n": points.current_version(point).number} if new_version else _("Saved."))
        except MusubiError as exc:
            form.add_service_error(exc)
            for path, why in exc.fields.items():  # questions.2.options → the third row's options
                parts = path.split(".")
                if parts[0] == "questions" and len(parts) == 3 and parts[1].isdigit():
                    form.add_error(None, _("Question %(n)s: %(why)s") % {"n": int(parts[1]) + 1, "why": why})
        else:
            return redirect("web:capture_point", slug=slug, point_id=point.pk)
    return render(request, "web/capture/point_edit.html", {"form": form, "questions": questions, "point": point,
                                                           "version": version})


@workspace_page(Action.MANAGE)
def capture_point_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    return _edit(request, slug, None)


@workspace_page(Action.MANAGE)
def capture_point_edit(request: WorkspaceRequest, slug: str, point_id: int) -> HttpResponse:
    return _edit(request, slug, point_id)


@workspace_page()
def capture_point(request: WorkspaceRequest, slug: str, point_id: int) -> HttpResponse:
    workspace = request.workspace
    point = queries.capture_point(workspace, point_id)
    version = points.current_version(point)
    page_url = settings.MUSUBI_BASE_URL + reverse("capture_page", args=[point.code])
    snippet = render_to_string("capture/embed_snippet.html",
                               {"point": point, "version": version, "base": settings.MUSUBI_BASE_URL})
    return render(request, "web/capture/point.html", {
        "point": point, "version": version, "page_url": page_url, "snippet": snippet.strip(),
        "versions": queries.versions(point), "submissions": queries.submissions(workspace, point)[:50],
        "counts": queries.submission_counts(workspace, point),
        "qr_svg": rules.qr_svg_inline(page_url),
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})
