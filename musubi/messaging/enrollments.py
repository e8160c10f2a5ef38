"""Sequences in motion: contacts enter, and one scheduler pass turns due steps into deliveries.

The scheduler takes due enrollments in chunks with ``SELECT … FOR UPDATE SKIP LOCKED`` (on PostgreSQL), so
several workers share a pass without taking the same enrollment; in one transaction per chunk it writes the
deliveries (unique per enrollment and step, so nothing is queued twice) and moves each enrollment on. A
killed worker's chunk rolls back and is taken again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Q

from musubi.capture.models import LineChannel
from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel
from musubi.contacts.models import Contact, ContactTag, Identity
from musubi.contacts.segments import CHANNEL_IDENTITY
from musubi.kernel import bulk, clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.facts import record_fact
from musubi.kernel.models import Fact
from musubi.messaging import rules
from musubi.messaging.choices import EnrollmentStatus, MessageChannel, Outcome, Reentry
from musubi.messaging.models import Delivery, Enrollment, LineRequest, Sequence, Step

CHUNK = 1000


def _timing(step: Step) -> rules.StepTiming:
    return rules.StepTiming(timing=step.timing, delay_minutes=step.delay_minutes, day=step.day,
                            at_time=step.at_time)


def _due(sequence: Sequence, step: Step, *, entered_at: dt.datetime, previous_at: dt.datetime,
         tz: str) -> dt.datetime:
    due = rules.step_due(_timing(step), entered_at=entered_at, previous_at=previous_at, tz=tz)
    return rules.outside_quiet_hours(due, start=sequence.quiet_start, end=sequence.quiet_end, tz=tz)


def live_steps(sequence: Sequence) -> list[Step]:
    return list(sequence.steps.filter(archived_at=None).select_related("template").order_by("position", "pk"))


def enroll(*, sequence: Sequence, contact: Contact) -> Enrollment | None:
    """Start ``sequence`` for ``contact`` unless they are in it now or may not enter it again; returns the
    new enrollment or None."""
    if not sequence.active:
        return None
    workspace = sequence.workspace
    contact = contact.merged_into or contact
    latest = Enrollment.objects.filter(sequence=sequence, contact=contact).order_by("-round").first()
    if latest is not None and (latest.status == EnrollmentStatus.ACTIVE or sequence.reentry == Reentry.NEVER):
        return None
    now = clock.now()
    steps = live_steps(sequence)
    zone = contacts.time_zone_of(contact, workspace)
    next_due = _due(sequence, steps[0], entered_at=now, previous_at=now, tz=zone) if steps else None
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                workspace=workspace, sequence=sequence, contact=contact, round=(latest.round + 1) if latest else 1,
                entered_at=now, next_due_at=next_due,
                status=EnrollmentStatus.ACTIVE if steps else EnrollmentStatus.COMPLETED,
                finished_at=None if steps else now)
    except IntegrityError:  # entered by a concurrent event a moment ago
        return None
    record_fact(workspace_id=workspace.pk, kind="sequence.entered", contact_id=contact.pk,
                subject=("messaging.sequence", sequence.pk), data={"round": enrollment.round})
    return enrollment


def stop(*, enrollment: Enrollment, status: str = EnrollmentStatus.STOPPED) -> None:
    Enrollment.objects.filter(pk=enrollment.pk, status=EnrollmentStatus.ACTIVE).update(
        status=status, next_due_at=None, finished_at=clock.now())


def run_scheduler(*, limit_chunks: int | None = None) -> int:
    """One pass: every enrollment due now gets its step queued. Returns how many enrollments it moved."""
    moved = 0
    chunks = 0
    while limit_chunks is None or chunks < limit_chunks:
        with transaction.atomic():
            now = clock.now()
            ids = list(Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, next_due_at__lte=now)
                       .order_by("next_due_at").select_for_update(skip_locked=True)
                       .values_list("pk", flat=True)[:CHUNK])
            if not ids:
                break
            _advance(ids, now)
        moved += len(ids)
        chunks += 1
    return moved


def _advance(ids: list[int], now: dt.datetime) -> None:
    enrollments = list(Enrollment.objects.filter(pk__in=ids).select_related("sequence", "workspace"))
    # "Day 3 at 09:00" is nine o'clock where the person is: their own zone when known, else the workspace's.
    own_zones = dict(Contact.objects.filter(pk__in={e.contact_id for e in enrollments}).exclude(time_zone="")
                     .values_list("pk", "time_zone"))
    by_sequence: dict[int, list[Enrollment]] = defaultdict(list)
    for enrollment in enrollments:
        by_sequence[enrollment.sequence_id].append(enrollment)
    deliveries: list[Delivery] = []
    line_members: list[tuple[Delivery, int]] = []
    for group in by_sequence.values():
        sequence = group[0].sequence
        steps = live_steps(sequence)
        reached = _reached_goal(sequence, group)
        refused = _refused_everything(steps, [e for e in group if e.pk not in reached])
        queued: list[Delivery] = []
        for enrollment in group:
            if enrollment.pk in reached:
                enrollment.status, enrollment.next_due_at, enrollment.finished_at = EnrollmentStatus.GOAL, None, now
                continue
            if enrollment.pk in refused:
                enrollment.status, enrollment.next_due_at, enrollment.finished_at = (
                    EnrollmentStatus.UNSUBSCRIBED, None, now)
                continue
            step = next((s for s in steps if s.position > enrollment.last_position), None)
            if step is None:
                enrollment.status, enrollment.next_due_at, enrollment.finished_at = (
                    EnrollmentStatus.COMPLETED, None, now)
                continue
            queued.append(Delivery(
                workspace_id=enrollment.workspace_id, contact_id=enrollment.contact_id, channel=step.channel,
                template_id=step.template_id, enrollment=enrollment, step=step, due_at=now, next_attempt_at=now))
            if step.channel == MessageChannel.LINE:
                line_members.append((queued[-1], step.line_channel_id or 0))
            enrollment.last_position = step.position
            later = next((s for s in steps if s.position > step.position), None)
            previous = enrollment.next_due_at or now
            enrollment.next_due_at = _due(sequence, later, entered_at=enrollment.entered_at, previous_at=previous,
                                          tz=own_zones.get(enrollment.contact_id) or enrollment.workspace.timezone,
                                          ) if later else now
        _apply_conditions(steps, queued, now)
        deliveries.extend(queued)
    Delivery.objects.bulk_create(deliveries)
    _line_requests(line_members)
    bulk.update_rows(Enrollment, ["status", "next_due_at", "finished_at", "last_position"],
                     [(e.status, e.next_due_at, e.finished_at, e.last_position, e.pk) for e in enrollments])


def _reached_goal(sequence: Sequence, group: list[Enrollment]) -> set[int]:
    if not sequence.goal_tag and not sequence.goal_event:
        return set()
    contact_ids = {e.contact_id for e in group}
    done: set[int] = set()
    if sequence.goal_tag:
        done |= set(ContactTag.objects.filter(workspace_id=sequence.workspace_id, contact_id__in=contact_ids,
                                              tag__name=sequence.goal_tag).values_list("contact_id", flat=True))
    since = min(e.entered_at for e in group)
    goal_facts: dict[int, dt.datetime] = {}
    if sequence.goal_event:
        facts = Fact.objects.filter(workspace_id=sequence.workspace_id, kind=sequence.goal_event,
                                    contact_id__in=contact_ids, occurred_at__gte=since)
        for contact_id, at in facts.values_list("contact_id", "occurred_at"):
            if contact_id is not None:
                goal_facts[contact_id] = max(at, goal_facts.get(contact_id, at))
    return {e.pk for e in group
            if e.contact_id in done or (e.contact_id in goal_facts and goal_facts[e.contact_id] >= e.entered_at)}


def _refused_everything(steps: list[Step], group: list[Enrollment]) -> set[int]:
    """The enrollments whose person said no on every channel the remaining steps use: each of their addresses
    there (the first of its kind, the one sending would use) is suppressed or its consent withdrawn, so no
    later step could reach them. Someone merely without an address or a consent record is not refused: they
    may still give one. A few queries for the whole group, not one per person."""
    remaining = {e.pk: {s.channel for s in steps if s.position > e.last_position} for e in group}
    channels = set().union(*remaining.values())
    if not channels:
        return set()
    contact_ids = {e.contact_id for e in group}
    kinds = {channel: CHANNEL_IDENTITY[Channel(channel)] for channel in channels}
    first: dict[tuple[int, str], str] = {}
    for contact_id, kind, value in (Identity.objects.filter(workspace_id=group[0].workspace_id,
                                                            contact_id__in=contact_ids, kind__in=kinds.values())
                                    .order_by("created_at", "pk").values_list("contact_id", "kind", "value")):
        first.setdefault((contact_id, kind), value)
    refused = {channel: contacts.refused_addresses(
        workspace=group[0].workspace, channel=channel,
        addresses=[v for (_c, kind), v in first.items() if kind == kinds[channel]]) for channel in channels}

    def said_no_everywhere(enrollment: Enrollment) -> bool:
        addresses = [(channel, first.get((enrollment.contact_id, kinds[channel])))
                     for channel in remaining[enrollment.pk]]
        return (any(address is not None for _channel, address in addresses)
                and all(address is None or address in refused[channel] for channel, address in addresses))

    return {e.pk for e in group if remaining[e.pk] and said_no_everywhere(e)}


def _apply_conditions(steps: list[Step], deliveries: list[Delivery], now: dt.datetime) -> None:
    """Deliveries whose step's condition does not hold are written as skipped (counted in the funnel as
    dropped at that step) rather than not written, so the step is never reconsidered."""
    by_step: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_step[delivery.step_id].append(delivery)  # type: ignore[index]
    for step in steps:
        rows = by_step.get(step.pk, [])
        if not rows:
            continue
        ids = {d.contact_id for d in rows}
        keep = set(ids)
        if step.only_if_tag:
            keep &= _tagged(step.workspace_id, ids, step.only_if_tag)
        if step.skip_if_tag:
            keep -= _tagged(step.workspace_id, ids, step.skip_if_tag)
        if step.only_if_segment_id:
            segment = step.only_if_segment
            keep &= set(contacts.members(workspace=step.workspace, segment=segment)
                        .filter(pk__in=keep).values_list("pk", flat=True))
        if step.only_if_clicked_id:
            keep &= set(Delivery.objects.filter(step_id=step.only_if_clicked_id, contact_id__in=keep)
                        .exclude(clicked_at=None).values_list("contact_id", flat=True))
        for delivery in rows:
            if delivery.contact_id not in keep:
                delivery.status, delivery.outcome, delivery.finished_at = WorkStatus.DONE, Outcome.SKIPPED, now
                delivery.last_error = "a condition of the step did not hold"


def _tagged(workspace_id: int, contact_ids: set[int], tag: str) -> set[int]:
    return set(ContactTag.objects.filter(workspace_id=workspace_id, contact_id__in=contact_ids, tag__name=tag)
               .values_list("contact_id", flat=True))


def _line_requests(members: list[tuple[Delivery, int]]) -> None:
    """Each LINE step goes by push, one request per person, with its own retry key."""
    pending = [(d, channel_id) for d, channel_id in members if d.status == WorkStatus.PENDING]
    if not pending:
        return
    fallback = {c.workspace_id: c.pk for c in LineChannel.objects.filter(
        workspace_id__in={d.workspace_id for d, _c in pending}, active=True).order_by("-pk")}
    requests = []
    for delivery, channel_id in pending:
        channel = channel_id or fallback.get(delivery.workspace_id)
        if channel is None:
            delivery.status, delivery.outcome = WorkStatus.FAILED, Outcome.FAILED
            delivery.last_error = "no LINE account is connected"
            Delivery.objects.filter(pk=delivery.pk).update(status=delivery.status, outcome=delivery.outcome,
                                                           last_error=delivery.last_error, finished_at=clock.now())
            continue
        requests.append(LineRequest(workspace_id=delivery.workspace_id, line_channel_id=channel,
                                    due_at=delivery.due_at, next_attempt_at=delivery.due_at))
    LineRequest.objects.bulk_create(requests)
    linked = [d for d, _c in pending if d.status == WorkStatus.PENDING]
    for delivery, request in zip(linked, requests, strict=True):
        delivery.line_request = request
    bulk.update_rows(Delivery, ["line_request_id"], [(d.line_request_id, d.pk) for d in linked])


def sequences_for(*, workspace_id: int, trigger: str, ref: int | None = None, tag: str = "") -> list[Sequence]:
    found = Sequence.objects.filter(workspace_id=workspace_id, trigger=trigger, active=True)
    if ref is not None:
        found = found.filter(Q(trigger_ref=None) | Q(trigger_ref=ref))
    if tag:
        found = found.filter(trigger_tag=tag)
    return list(found.select_related("workspace"))

