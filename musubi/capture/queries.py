"""Reads of capture for pages and the API."""

from __future__ import annotations

import re

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from musubi.capture.choices import FieldKind, SubmissionStatus
from musubi.capture.models import (
    CapturePoint,
    CapturePointVersion,
    CouponDefinition,
    Redemption,
    Source,
    Submission,
    TrackingLink,
)
from musubi.kernel.errors import NotFound
from musubi.workspaces.models import Workspace


def sources(workspace: Workspace) -> QuerySet[Source]:
    return Source.objects.for_workspace(workspace).annotate(spent=Sum("costs__amount")).order_by("name", "id")


def source(workspace: Workspace, source_id: int) -> Source:
    found = sources(workspace).filter(pk=source_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such source."))
    return found


def links(workspace: Workspace) -> QuerySet[TrackingLink]:
    """Links with their clicks by people (bots apart) and by distinct visitors."""
    return (TrackingLink.objects.for_workspace(workspace).select_related("source")
            .annotate(people_clicks=Count("clicks", filter=Q(clicks__is_bot=False)),
                      visitors=Count("clicks__visitor_id", filter=Q(clicks__is_bot=False), distinct=True))
            .order_by("-id"))


def link(workspace: Workspace, link_id: int) -> TrackingLink:
    found = links(workspace).filter(pk=link_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such link."))
    return found


def capture_points(workspace: Workspace) -> QuerySet[CapturePoint]:
    return (CapturePoint.objects.for_workspace(workspace).select_related("offer", "coupon")
            .annotate(registrations=Count("submissions", filter=Q(submissions__status=SubmissionStatus.CONFIRMED)),
                      waiting=Count("submissions", filter=Q(submissions__status=SubmissionStatus.PENDING)))
            .order_by("-id"))


def capture_point(workspace: Workspace, capture_point_id: int) -> CapturePoint:
    found = capture_points(workspace).filter(pk=capture_point_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such capture point."))
    return found


def latest_version(workspace: Workspace) -> CapturePointVersion | None:
    return CapturePointVersion.objects.for_workspace(workspace).order_by("-created_at", "-pk").first()


def versions(point: CapturePoint) -> QuerySet[CapturePointVersion]:
    return point.versions.order_by("-number").annotate(
        registrations=Count("submissions", filter=Q(submissions__status=SubmissionStatus.CONFIRMED)))


def submissions(workspace: Workspace, point: CapturePoint) -> QuerySet[Submission]:
    return (Submission.objects.for_workspace(workspace).filter(capture_point=point)
            .select_related("contact", "version").order_by("-at", "-pk"))


def submission_counts(workspace: Workspace, point: CapturePoint) -> dict[str, int]:
    """Registrations by source name (直接 for none), most first — what each spot brought."""
    names = dict(Source.objects.for_workspace(workspace).values_list("pk", "name"))
    rows = (Submission.objects.for_workspace(workspace).filter(capture_point=point,
                                                               status=SubmissionStatus.CONFIRMED)
            .values("source_id").annotate(n=Count("pk")).order_by("-n"))
    return {names.get(r["source_id"], _("Direct")) if r["source_id"] else _("Direct"): r["n"] for r in rows}


def coupon_definitions(workspace: Workspace) -> QuerySet[CouponDefinition]:
    return (CouponDefinition.objects.for_workspace(workspace).select_related("offer")
            .annotate(issued=Count("coupons", distinct=True), redeemed=Count("coupons__redemptions", distinct=True))
            .order_by("-id"))


def recent_redemptions(workspace: Workspace) -> QuerySet[Redemption]:
    return (Redemption.objects.for_workspace(workspace).select_related("coupon__definition", "redeemed_by")
            .order_by("-at", "-pk"))


def capture_point_behind(workspace: Workspace, url: str) -> CapturePointVersion | None:
    """The current version of the workspace's opt-in form that ``url`` leads to (``…/p/<code>``), if any."""
    match = re.search(r"/p/([A-Za-z0-9]{4,16})/?(?:[?#].*)?$", url)
    if match is None:
        return None
    return (CapturePointVersion.objects.for_workspace(workspace)
            .filter(capture_point__code=match.group(1).upper()).order_by("-number").first())


def question_labels(workspace: Workspace) -> dict[str, str]:
    """The question each answer key stands for, from the newest wording that asked it."""
    labels: dict[str, str] = {}
    for questions in (CapturePointVersion.objects.for_workspace(workspace).order_by("created_at", "pk")
                      .values_list("questions", flat=True)):
        labels.update({q["key"]: q["label"] for q in questions})
    return labels


def several_choice_keys(workspace: Workspace) -> set[str]:
    """The answer keys whose question (in its newest wording) takes several choices, kept as lists."""
    kinds: dict[str, str] = {}
    for questions in (CapturePointVersion.objects.for_workspace(workspace).order_by("created_at", "pk")
                      .values_list("questions", flat=True)):
        kinds.update({q["key"]: q.get("kind", "") for q in questions})
    return {key for key, kind in kinds.items() if kind == FieldKind.MULTIPLE}


def capture_point_names(workspace: Workspace) -> dict[int, str]:
    return dict(CapturePoint.objects.for_workspace(workspace).values_list("pk", "name"))
