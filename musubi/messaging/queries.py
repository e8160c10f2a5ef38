"""Reads for the owner's pages: lists, a sequence's per-step funnel, a broadcast's runs, the outbox and the
delivery log. Every query starts from the workspace, so nothing of another workspace can be named."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from musubi.contacts.models import Contact, Identity
from musubi.kernel.claims import WorkStatus
from musubi.kernel.errors import NotFound
from musubi.messaging import tracking
from musubi.messaging.choices import EnrollmentStatus, Outcome, RunState
from musubi.messaging.models import (
    Broadcast,
    BroadcastRun,
    Delivery,
    Enrollment,
    OutboxMessage,
    Sequence,
    Step,
    Template,
)
from musubi.workspaces.models import Workspace

# Outcomes that mean the message did not reach the person although the step was theirs: they dropped out here.
NOT_SENT = (Outcome.SUPPRESSED, Outcome.BOUNCED, Outcome.FAILED, Outcome.CANCELLED)


def templates(workspace: Workspace, *, channel: str = "") -> QuerySet[Template]:
    found = Template.objects.for_workspace(workspace).order_by("channel", "name", "pk")
    return found.filter(channel=channel) if channel else found


def sequences(workspace: Workspace) -> QuerySet[Sequence]:
    """Each sequence with how many live steps it has, how many people are in it now and have ever entered."""
    return (Sequence.objects.for_workspace(workspace).order_by("-active", "name", "pk")
            .annotate(step_count=Count("steps", filter=Q(steps__archived_at=None), distinct=True),
                      active_count=Count("enrollments", filter=Q(enrollments__status=EnrollmentStatus.ACTIVE),
                                         distinct=True),
                      entered_count=Count("enrollments", distinct=True)))


def steps(sequence: Sequence) -> list[Step]:
    """The live steps in order; the first is marked (``first``): its delay counts from entering."""
    found = list(Step.objects.filter(workspace_id=sequence.workspace_id, sequence=sequence, archived_at=None)
                 .select_related("template", "line_channel", "only_if_segment", "only_if_clicked__template")
                 .order_by("position", "pk"))
    for i, step in enumerate(found):
        setattr(step, "first", i == 0)  # noqa: B010 — a display mark, not a field
    return found


@dataclass(frozen=True)
class FunnelRow:
    """One step of a sequence as the funnel counts it. ``entered`` is everyone the step was queued for;
    ``skipped`` did not meet its condition; ``dropped`` were not sent it (unsubscribed, bounced, failed);
    ``goal`` reached the sequence's goal after this step and before the next."""

    step: Step
    entered: int
    sent: int
    opened: int
    clicked: int
    skipped: int
    dropped: int
    goal: int
    waiting: int


@dataclass(frozen=True)
class Funnel:
    entered: int
    active: int
    completed: int
    goal: int
    goal_before_first: int
    rows: list[FunnelRow]


def funnel(sequence: Sequence) -> Funnel:
    """The per-step funnel of ``sequence``: two grouped counts, one over deliveries and one over enrollments."""
    live = steps(sequence)
    by_step: dict[int, dict[str, int]] = {}
    for row in (Delivery.objects.filter(workspace_id=sequence.workspace_id, step__sequence=sequence)
                .values("step_id").order_by()
                .annotate(entered=Count("pk"), sent=Count("pk", filter=Q(outcome=Outcome.SENT)),
                          opened=Count("pk", filter=Q(opened_at__isnull=False)),
                          clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
                          skipped=Count("pk", filter=Q(outcome=Outcome.SKIPPED)),
                          dropped=Count("pk", filter=Q(outcome__in=NOT_SENT)),
                          waiting=Count("pk", filter=Q(status__in=[WorkStatus.PENDING, WorkStatus.CLAIMED])))):
        counts: dict[str, int] = {key: int(value) for key, value in row.items()}  # type: ignore[call-overload]
        by_step[counts.pop("step_id")] = counts
    enrolled = Enrollment.objects.filter(workspace_id=sequence.workspace_id, sequence=sequence)
    statuses = dict(enrolled.values_list("status").annotate(n=Count("pk")).order_by())
    goal_at = dict(enrolled.filter(status=EnrollmentStatus.GOAL).values_list("last_position")
                   .annotate(n=Count("pk")).order_by())
    empty = dict.fromkeys(("entered", "sent", "opened", "clicked", "skipped", "dropped", "waiting"), 0)
    rows = [FunnelRow(step=step, goal=goal_at.get(step.position, 0), **by_step.get(step.pk, empty))
            for step in live]
    return Funnel(entered=sum(statuses.values()), active=statuses.get(EnrollmentStatus.ACTIVE, 0),
                  completed=statuses.get(EnrollmentStatus.COMPLETED, 0),
                  goal=statuses.get(EnrollmentStatus.GOAL, 0), goal_before_first=goal_at.get(0, 0), rows=rows)


def enrollments_of(workspace: Workspace, contact: Contact) -> QuerySet[Enrollment]:
    return (Enrollment.objects.for_workspace(workspace).filter(contact=contact).select_related("sequence")
            .order_by("-entered_at"))


def contact_by_address(workspace: Workspace, address: str) -> Contact | None:
    """The contact with this email address or LINE user id, followed to the contact it was merged into."""
    value = address.strip()
    identity = (Identity.objects.filter(workspace=workspace, value__in={value, value.lower()})
                .select_related("contact__merged_into").first())
    if identity is None:
        return None
    contact = identity.contact.merged_into or identity.contact
    return None if contact.erased_at else contact


def preview_contacts(workspace: Workspace, *, kind: str, limit: int = 100) -> list[tuple[int, str]]:
    """Recent contacts reachable on a channel (``kind`` "email" or "line"), for the preview's chooser."""
    rows = (Identity.objects.filter(workspace=workspace, kind=kind, contact__merged_into=None,
                                    contact__erased_at=None)
            .order_by("-contact__created_at", "-contact_id").values_list("contact_id", "contact__name", "value"))
    seen: dict[int, str] = {}
    for contact_id, name, value in rows[:limit * 2]:
        if contact_id not in seen:
            seen[contact_id] = f"{name} <{value}>" if name else value
        if len(seen) >= limit:
            break
    return list(seen.items())


def address_of(workspace: Workspace, contact: Contact, kind: str) -> str:
    found = (Identity.objects.filter(workspace=workspace, contact=contact, kind=kind)
             .order_by("created_at", "pk").values_list("value", flat=True).first())
    return found or ""


def broadcasts(workspace: Workspace) -> QuerySet[Broadcast]:
    return (Broadcast.objects.for_workspace(workspace).select_related("template", "segment", "line_channel")
            .annotate(run_count=Count("runs"), last_run_at=Max("runs__started_at")).order_by("-created_at", "-pk"))


def runs(broadcast: Broadcast) -> QuerySet[BroadcastRun]:
    return BroadcastRun.objects.filter(workspace_id=broadcast.workspace_id, broadcast=broadcast).order_by("-number")


def run(broadcast: Broadcast, run_id: int) -> BroadcastRun:
    found = runs(broadcast).filter(pk=run_id).first()
    if found is None:
        raise NotFound(_("No such run."))
    return found


def percent_done(run: BroadcastRun, progress: dict[str, int]) -> int:
    """How far a run is, for its progress bar: messages ended of those planned (a finished run with nobody
    to send to is done; one still preparing its list has not started)."""
    total = progress.get("total", 0)
    if total == 0:
        return 100 if run.state == RunState.FINISHED else 0
    return min(100, progress.get("ended", 0) * 100 // total)


def outbox(workspace: Workspace) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.for_workspace(workspace).order_by("-at", "-pk")


def outbox_message(workspace: Workspace, outbox_id: int) -> OutboxMessage:
    found = outbox(workspace).filter(pk=outbox_id).first()
    if found is None:
        raise NotFound(_("No such mail."))
    return found


@dataclass(frozen=True)
class ReadableMail:
    headers: list[tuple[str, str]]
    text: str
    html: str


# The headers shown, each named in words with the header itself beside them (people meet these names in their
# own mail programs too).
SHOWN_HEADERS = {
    "From": gettext_lazy("Sender (From)"), "To": gettext_lazy("Recipient (To)"),
    "Reply-To": gettext_lazy("Replies go to (Reply-To)"), "Subject": gettext_lazy("Subject"),
    "Date": gettext_lazy("Sent (Date)"), "List-Unsubscribe": gettext_lazy("Unsubscribe address (List-Unsubscribe)"),
    "List-Unsubscribe-Post": gettext_lazy("One-click unsubscribe (List-Unsubscribe-Post)"),
}


def _header_text(name: str, value: Any) -> str:
    """A header as a reader takes it in: the date in the workspace's time and words first, the header as sent
    beside it (``Mon, 23 Nov 2026 05:14:46 +0000`` alone reads as the wrong hour in Japan)."""
    if name == "Date" and getattr(value, "datetime", None) is not None:
        local = formats.date_format(timezone.localtime(value.datetime), "DATETIME_FORMAT")
        return f"{local}（{value}）"
    return str(value)


def readable(message: OutboxMessage) -> ReadableMail:
    """A kept mail taken apart for reading: its main headers (decoded), its text part and its HTML part —
    the HTML without its open pixel and tracked links, so that reading it records nothing about the person."""
    parsed: EmailMessage = email.message_from_string(message.raw, policy=email.policy.default)  # type: ignore[assignment]
    headers = [(str(label), _header_text(name, parsed[name])) for name, label in SHOWN_HEADERS.items()
               if parsed[name] is not None]
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return ReadableMail(headers=headers, text=text_part.get_content() if text_part is not None else "",
                        html=tracking.without_tracking(html_part.get_content()) if html_part is not None else "")


# The states people filter the delivery log by, each a condition on status and outcome.
DELIVERY_STATES: dict[str, Q] = {
    "queued": Q(status=WorkStatus.PENDING),
    "sending": Q(status=WorkStatus.CLAIMED),
    **{outcome.value: Q(outcome=outcome.value) for outcome in Outcome},
}


def deliveries(workspace: Workspace, *, state: str = "", channel: str = "") -> QuerySet[Delivery]:
    found = (Delivery.objects.for_workspace(workspace)
             .select_related("contact", "template", "step__sequence", "run__broadcast")
             .order_by("-pk"))
    if state in DELIVERY_STATES:
        found = found.filter(DELIVERY_STATES[state])
    if channel:
        found = found.filter(channel=channel)
    return found
