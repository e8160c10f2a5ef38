"""Broadcast runs: started by a person, a schedule or an API call (with an idempotency key, so a retried
call does not start a second run); planned by a worker in committed chunks; paused, resumed or cancelled
without resending to anyone already sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel
from musubi.contacts.models import Contact, Identity
from musubi.contacts.segments import CHANNEL_IDENTITY
from musubi.kernel import bulk, claims, clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.errors import Conflict, InvalidInput
from musubi.kernel.facts import record_fact
from musubi.kernel.worker import BatchOutcome
from musubi.messaging import composing, line_messages, rules
from musubi.messaging.choices import MessageChannel, Outcome, RunState
from musubi.messaging.models import Broadcast, BroadcastRun, Delivery, LineRequest, SenderProfile
from musubi.workspaces.services import SYSTEM, Actor, record_audit

PLAN_CHUNK = 1000


def check_ready(broadcast: Broadcast) -> None:
    """Refuse a run that could not be sent: mail without the legally required sender details, LINE without a
    connected account."""
    if broadcast.channel == MessageChannel.EMAIL:
        composing.require_complete_sender(SenderProfile.objects.filter(workspace_id=broadcast.workspace_id).first())
    elif broadcast.line_channel is None or not broadcast.line_channel.active:
        raise InvalidInput(_("Choose a connected LINE account for this broadcast."),
                           fields={"line_channel": _("No active LINE account is chosen.")})


def start_run(*, broadcast: Broadcast, actor: Actor = SYSTEM, idempotency_key: str = "") -> tuple[BroadcastRun, bool]:
    """Start sending ``broadcast`` now; with a key already used for it, return that run and False. A started
    run is in the audit log with the broadcast's name and the run's number."""
    key = idempotency_key.strip()[:200]
    if key:
        existing = BroadcastRun.objects.filter(broadcast=broadcast, idempotency_key=key).first()
        if existing is not None:
            return existing, False
    check_ready(broadcast)
    now = clock.now()
    try:
        with transaction.atomic():
            number = (BroadcastRun.objects.filter(broadcast=broadcast).aggregate(n=Max("number"))["n"] or 0) + 1
            run = BroadcastRun.objects.create(workspace_id=broadcast.workspace_id, broadcast=broadcast,
                                              number=number, idempotency_key=key, started_at=now, due_at=now,
                                              next_attempt_at=now)
    except IntegrityError:  # the same key (or run number) a moment ago, from a concurrent call
        existing = BroadcastRun.objects.filter(broadcast=broadcast, idempotency_key=key).first() if key else None
        if existing is None:
            raise Conflict(_("Another run of this broadcast was started at the same moment. Try again."),
                           code="concurrent_run") from None
        return existing, False
    record_fact(workspace_id=broadcast.workspace_id, kind="broadcast.started",
                subject=("messaging.broadcastrun", run.pk), data={"broadcast": broadcast.pk, "run": number})
    # No recipient count here: counting who may receive it reads every member's consent, minutes for a list of
    # 100,000, and a start must return at once; the run's own page counts what it planned and sent.
    record_audit(workspace=broadcast.workspace, actor=actor, action="messaging.broadcast_sent", obj=broadcast,
                 changes={"name": broadcast.name, "run": number})
    return run, True


def recipients(broadcast: Broadcast) -> QuerySet[Contact]:
    """Who the broadcast is for: those of its segment (or of everyone on the list) who have an address on its
    channel — a LINE broadcast walks the LINE friends, a mail the people with an email address. Consent is
    asked per address when sending; this is the list the run walks."""
    if broadcast.segment is not None:
        members = contacts.members(workspace=broadcast.workspace, segment=broadcast.segment)
    else:
        members = Contact.objects.for_workspace(broadcast.workspace).filter(merged_into=None, erased_at=None)
    reachable = Identity.objects.filter(workspace_id=broadcast.workspace_id, contact=OuterRef("pk"),
                                        kind=CHANNEL_IDENTITY[Channel(broadcast.channel)])
    return members.filter(Exists(reachable))


def open_recipient_count(broadcast: Broadcast) -> int:
    """How many would receive it now (the count shown before sending; for LINE, the messages it will use)."""
    ids = recipients(broadcast).values_list("pk", flat=True)
    return contacts.count_open(workspace=broadcast.workspace, channel=broadcast.channel, contact_ids=ids)


# A run that planned this many deliveries has the table's statistics refreshed, so the senders' claims are
# planned for the rows that are there (see ``bulk.refresh_statistics``).
REFRESH_STATISTICS_FROM = 1000


def plan(runs: list[BroadcastRun], outcome: BatchOutcome) -> None:
    """The ``messaging.runs`` queue: write the deliveries of each claimed run, a committed chunk at a time."""
    for claimed in runs:
        run = BroadcastRun.objects.select_related("broadcast__template", "broadcast__segment", "workspace",
                                                  "broadcast__line_channel").get(pk=claimed.pk)
        broadcast = run.broadcast
        personal = broadcast.channel == MessageChannel.LINE and line_messages.is_personal(
            broadcast.template.line_messages)
        while run.state != RunState.CANCELLED:
            contact_ids = list(recipients(broadcast).filter(pk__gt=run.cursor).order_by("pk")
                               .values_list("pk", flat=True)[:PLAN_CHUNK])
            if not contact_ids:
                break
            _plan_chunk(run, contact_ids, personal=personal)
            claims.extend_lease(BroadcastRun, [run.pk], worker=outcome.worker,
                                lease=dt.timedelta(seconds=settings.MUSUBI_SEND_LEASE_SECONDS))
            run.refresh_from_db(fields=["state"])
        BroadcastRun.objects.filter(pk=run.pk, state=RunState.PLANNING).update(state=RunState.SENDING)
        if run.planned >= REFRESH_STATISTICS_FROM:
            bulk.refresh_statistics(Delivery)
        outcome.done.append(run.pk)


@transaction.atomic
def _plan_chunk(run: BroadcastRun, contact_ids: list[int], *, personal: bool) -> None:
    broadcast = run.broadcast
    now = clock.now()
    deliveries = Delivery.objects.bulk_create([
        Delivery(workspace_id=run.workspace_id, contact_id=contact_id, channel=broadcast.channel,
                 template_id=broadcast.template_id, run=run, due_at=now, next_attempt_at=now)
        for contact_id in contact_ids])
    if broadcast.channel == MessageChannel.LINE and broadcast.line_channel is not None:
        groups = [[d] for d in deliveries] if personal else rules.line_groups(deliveries)
        requests = LineRequest.objects.bulk_create([
            LineRequest(workspace_id=run.workspace_id, line_channel=broadcast.line_channel, run=run, due_at=now,
                        next_attempt_at=now) for _group in groups])
        for group, request in zip(groups, requests, strict=True):
            for delivery in group:
                delivery.line_request = request
        bulk.update_rows(Delivery, ["line_request_id"], [(d.line_request_id, d.pk) for d in deliveries])
    BroadcastRun.objects.filter(pk=run.pk).update(cursor=contact_ids[-1], planned=run.planned + len(deliveries))
    run.cursor, run.planned = contact_ids[-1], run.planned + len(deliveries)


_AUDITED = {"pause": "messaging.broadcast_paused", "resume": "messaging.broadcast_resumed",
            "cancel": "messaging.broadcast_cancelled"}


def set_state(*, run: BroadcastRun, action: str, actor: Actor = SYSTEM) -> BroadcastRun:
    """Pause, resume or cancel a run (written to the audit log). Cancelling stops every message not yet sent;
    what was sent stays sent."""
    allowed = {"pause": {RunState.PLANNING, RunState.SENDING}, "resume": {RunState.PAUSED},
               "cancel": {RunState.PLANNING, RunState.SENDING, RunState.PAUSED}}
    if action not in allowed:
        raise InvalidInput(_("Unknown action."), fields={"action": _("Use pause, resume or cancel.")})
    with transaction.atomic():
        run = BroadcastRun.objects.select_for_update(of=("self",)).select_related(
            "broadcast__workspace").get(pk=run.pk)
        if run.state not in allowed[action]:
            raise Conflict(_("This run is %(state)s and cannot be changed that way.") % {
                "state": RunState(run.state).label}, code="run_state")
        now = clock.now()
        if action == "pause":
            run.state = RunState.PAUSED
        elif action == "resume":
            run.state = RunState.PLANNING if run.status != WorkStatus.DONE else RunState.SENDING
        else:
            run.state, run.ended_at = RunState.CANCELLED, now
            Delivery.objects.filter(run=run, status=WorkStatus.PENDING).update(
                status=WorkStatus.DONE, outcome=Outcome.CANCELLED, finished_at=now)
            LineRequest.objects.filter(run=run, status=WorkStatus.PENDING, fixed=False).update(
                status=WorkStatus.DONE, finished_at=now)
        run.save(update_fields=["state", "ended_at"])
        broadcast = run.broadcast
        record_audit(workspace=broadcast.workspace, actor=actor, action=_AUDITED[action], obj=broadcast,
                     changes={"name": broadcast.name, "run": run.number})
    return run


def finish_runs() -> int:
    """Mark runs whose every delivery has ended as finished (a pass of the worker)."""
    sending = BroadcastRun.objects.filter(state=RunState.SENDING, status=WorkStatus.DONE)
    open_runs = Delivery.objects.filter(run__in=sending, status__in=[WorkStatus.PENDING, WorkStatus.CLAIMED])
    busy = set(open_runs.values_list("run_id", flat=True).distinct())
    done = [pk for pk in sending.values_list("pk", flat=True) if pk not in busy]
    return BroadcastRun.objects.filter(pk__in=done).update(state=RunState.FINISHED, ended_at=clock.now())


def start_scheduled() -> int:
    """Start each scheduled broadcast whose time has come, once."""
    started = 0
    for broadcast in Broadcast.objects.filter(schedule_started=False, scheduled_at__lte=clock.now()).select_related(
            "template", "line_channel"):
        if not Broadcast.objects.filter(pk=broadcast.pk, schedule_started=False).update(schedule_started=True):
            continue  # another worker took it
        try:
            start_run(broadcast=broadcast, idempotency_key=f"schedule:{broadcast.scheduled_at:%Y-%m-%dT%H:%M}")
            started += 1
        except InvalidInput as exc:
            record_fact(workspace_id=broadcast.workspace_id, kind="broadcast.refused",
                        subject=("messaging.broadcast", broadcast.pk), data={"reason": exc.message})
    return started


def progress(run: BroadcastRun) -> dict[str, int]:
    """Counts of the run's deliveries by how they stand (queued, sending and each outcome), and how many of
    them were opened and clicked, in one query."""
    return latest_progress([run.broadcast_id], runs=[run.pk]).get(run.broadcast_id) or _counts([], run.planned)


def latest_progress(broadcast_ids: list[int], *, runs: list[int] | None = None) -> dict[int, dict[str, int]]:
    """``progress`` of the latest run of each broadcast (or of the given ``runs``) by broadcast, in one query
    for them all; a broadcast never sent, or whose run has no deliveries yet, is not in the result."""
    latest = BroadcastRun.objects.filter(broadcast_id=OuterRef("run__broadcast_id")).order_by("-number")
    chosen = Q(run_id__in=runs) if runs is not None else Q(run_id=Subquery(latest.values("pk")[:1]))
    rows = (Delivery.objects.filter(chosen, run__broadcast_id__in=broadcast_ids)
            .values_list("run__broadcast_id", "run__planned", "status", "outcome")
            .annotate(n=Count("pk"), opened=Count("pk", filter=Q(opened_at__isnull=False)),
                      clicked=Count("pk", filter=Q(clicked_at__isnull=False))).order_by())
    by_broadcast: dict[int, list[tuple[Any, ...]]] = {}
    planned: dict[int, int] = {}
    for broadcast_id, run_planned, *row in rows:
        by_broadcast.setdefault(broadcast_id, []).append(tuple(row))
        planned[broadcast_id] = run_planned
    return {pk: _counts(found, planned[pk]) for pk, found in by_broadcast.items()}


def _counts(rows: list[tuple[Any, ...]], planned: int) -> dict[str, int]:
    counts = dict.fromkeys(["queued", "sending", "opened", "clicked", *Outcome.values], 0)
    for status, result, n, opened, clicked in rows:
        counts["opened"] += opened
        counts["clicked"] += clicked
        if status == WorkStatus.PENDING:
            counts["queued"] += n
        elif status == WorkStatus.CLAIMED:
            counts["sending"] += n
        else:
            counts[result or Outcome.FAILED] += n
    counts["total"] = planned
    counts["ended"] = sum(counts[o] for o in Outcome.values)
    return counts
