"""The two send queues: ``messaging.email`` over delivery rows and ``messaging.line`` over LINE requests.

Consent and suppression are asked of the contacts app for the whole batch at the moment of sending, never
trusted from when the delivery was queued. An email's outcome is written the moment the transport knows it
(see ``Recorder``), so a crash can repeat only the mails accepted by the server and not yet recorded.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel, SuppressionReason
from musubi.contacts.models import Identity
from musubi.integrations import line as line_api
from musubi.kernel import bulk, claims, clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.models import Fact
from musubi.kernel.worker import BatchOutcome
from musubi.messaging import composing, domains, transports
from musubi.messaging.choices import Outcome
from musubi.messaging.models import Delivery, LineRequest, SenderProfile, Template
from musubi.messaging.transports import Sent
from musubi.workspaces.models import Workspace


class Recorder:
    """Writes deliveries' outcomes as they become known: in one transaction (one statement per kind of
    outcome) once ``every`` are waiting or the oldest has waited ``within_ms``. A commit costs a disk flush, so
    one per mail would cap sending at the disk's flush rate; grouping bounds what a crash can repeat to the
    mails accepted in the last few milliseconds (the fault test counts them).

    A batch that runs long keeps its claim: every third of the lease the rows not yet recorded are leased
    again, so a large batch on a slow server is never taken over by another worker while it is being sent."""

    def __init__(self, outcome: BatchOutcome, deliveries: dict[int, Delivery], *, every: int,
                 within_ms: int = 50, lease: dt.timedelta | None = None) -> None:
        self.outcome = outcome
        self.deliveries = deliveries
        self.every = max(1, every)
        self.within = within_ms / 1000
        self.pending: list[tuple[int, str, str]] = []
        self.first_at = 0.0
        self.lease = lease
        self.leased_at = time.monotonic()
        self.unrecorded = set(deliveries)

    def add(self, delivery_id: int, result: str, detail: str = "") -> None:
        if result == "retry":
            self.outcome.retry[delivery_id] = detail
            self.unrecorded.discard(delivery_id)
            return
        if not self.pending:
            self.first_at = time.monotonic()
        self.pending.append((delivery_id, result, detail))
        if len(self.pending) >= self.every or time.monotonic() - self.first_at >= self.within:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self._write()
        if self.lease is not None and time.monotonic() - self.leased_at > self.lease.total_seconds() / 3:
            claims.extend_lease(Delivery, self.unrecorded, worker=self.outcome.worker, lease=self.lease)
            self.leased_at = time.monotonic()

    def _write(self) -> None:
        now = clock.now()
        by_result: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for delivery_id, result, detail in self.pending:
            by_result[result].append((delivery_id, detail))
        with transaction.atomic():
            held: dict[str, set[int]] = {}
            for result, group in by_result.items():
                failed = result in (Outcome.BOUNCED, Outcome.FAILED)
                held[result] = claims.settle(
                    Delivery, [(i, self.deliveries[i].address, detail[:2000] if failed else "") for i, detail in group],
                    columns=["address", "last_error"], worker=self.outcome.worker,
                    fixed={"status": WorkStatus.FAILED if failed else WorkStatus.DONE, "outcome": result,
                           "finished_at": now, "sent_at": now if result == Outcome.SENT else None})
            # As plain rows (COPY on PostgreSQL): a model instance per fact cost more than the statement.
            bulk.insert_objects(Fact, [_sent_fact_row(self.deliveries[i], now) for i, _detail in by_result[Outcome.SENT]
                                       if i in held[Outcome.SENT]])
            for delivery_id, detail in by_result.get(Outcome.BOUNCED, []):
                delivery = self.deliveries[delivery_id]
                contacts.suppress(workspace=delivery.workspace, channel=delivery.channel, value=delivery.address,
                                  reason=SuppressionReason.BOUNCED, note=detail[:200])
        recorded = [i for i, _r, _d in self.pending]
        self.outcome.recorded.extend(recorded)
        self.unrecorded.difference_update(recorded)
        self.pending.clear()


def _sent_fact_row(delivery: Delivery, at: dt.datetime) -> dict[str, Any]:
    return {"workspace_id": delivery.workspace_id, "kind": "message.sent", "occurred_at": at, "recorded_at": at,
            "contact_id": delivery.contact_id, "subject_type": "messaging.delivery", "subject_id": str(delivery.pk),
            "data": {"channel": delivery.channel, "step": delivery.step_id, "run": delivery.run_id,
                     "template": delivery.template_id}}


def _sent_fact(delivery: Delivery, at: dt.datetime) -> Fact:
    return Fact(workspace_id=delivery.workspace_id, kind="message.sent", occurred_at=at,
                contact_id=delivery.contact_id, subject_type="messaging.delivery", subject_id=str(delivery.pk),
                data={"channel": delivery.channel, "step": delivery.step_id, "run": delivery.run_id,
                      "template": delivery.template_id})


def _addresses(workspace_id: int, contact_ids: set[int], kind: str) -> dict[int, str]:
    """Each contact's address of ``kind`` (the first one given, when they have several)."""
    found: dict[int, str] = {}
    for contact_id, value in (Identity.objects.filter(workspace_id=workspace_id, contact_id__in=contact_ids, kind=kind)
                              .order_by("created_at", "pk").values_list("contact_id", "value")):
        found.setdefault(contact_id, value)
    return found


@dataclass(frozen=True)
class _Person:
    address: str
    name: str
    fields: dict[str, Any]


def _email_recipients(workspace_id: int, contact_ids: set[int]) -> dict[int, _Person]:
    """Each contact's email address (the first one given) with the name and fields a mail is filled in
    with, in one query; a contact without an email address is not in the result."""
    found: dict[int, _Person] = {}
    for contact_id, value, name, fields in (
            Identity.objects.filter(workspace_id=workspace_id, contact_id__in=contact_ids, kind="email")
            .order_by("created_at", "pk").values_list("contact_id", "value", "contact__name", "contact__fields")):
        if contact_id not in found:
            found[contact_id] = _Person(value, name, fields)
    return found


def handle_email(batch: list[Delivery], outcome: BatchOutcome) -> None:
    """The claimed rows carry what sending needs of themselves (ids of the contact, template, workspace);
    the rest is read once per batch, never per row."""
    by_workspace: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in batch:
        by_workspace[delivery.workspace_id].append(delivery)
    workspaces = Workspace.objects.in_bulk(list(by_workspace))
    for workspace_id, deliveries in by_workspace.items():
        for delivery in deliveries:
            delivery.workspace = workspaces[workspace_id]
        _send_email_batch(workspaces[workspace_id], deliveries, outcome)


def _send_email_batch(workspace: Workspace, deliveries: list[Delivery], outcome: BatchOutcome) -> None:
    recorder = Recorder(outcome, {d.pk: d for d in deliveries}, every=settings.MUSUBI_SEND_RECORD_EVERY,
                        within_ms=settings.MUSUBI_SEND_RECORD_MS,
                        lease=dt.timedelta(seconds=settings.MUSUBI_SEND_LEASE_SECONDS))
    profile = SenderProfile.objects.filter(workspace=workspace).first()
    missing = composing.missing_sender_fields(profile)
    if missing or profile is None:
        for delivery in deliveries:
            outcome.retry[delivery.pk] = "the sender details are incomplete: " + ", ".join(missing)
        return
    people = _email_recipients(workspace.pk, {d.contact_id for d in deliveries})
    missing_person = _Person("", "", {})
    for delivery in deliveries:
        delivery.address = people.get(delivery.contact_id, missing_person).address
    allowed = contacts.open_addresses(workspace=workspace, channel=Channel.EMAIL,
                                      addresses=[d.address for d in deliveries if d.address])
    sendable = []
    for delivery in deliveries:
        if delivery.address in allowed:
            sendable.append(delivery)
        else:
            recorder.add(delivery.pk, Outcome.SUPPRESSED if delivery.address else Outcome.SKIPPED,
                         "" if delivery.address else "no email address")
    recorder.flush()
    composers = {template.pk: composing.MailComposer(composing.compile_mail_template(template), profile,
                                                     workspace_name=workspace.name, tz=workspace.timezone)
                 for template in Template.objects.filter(pk__in={d.template_id for d in sendable})}

    def mails() -> Iterator[composing.ComposedMail]:
        for delivery in sendable:
            person = people[delivery.contact_id]
            yield composers[delivery.template_id].compose(
                composing.Recipient(delivery_id=delivery.pk, address=delivery.address, name=person.name,
                                    fields=person.fields))

    result: Sent
    try:
        for result in transports.send(mails(), workspace_id=workspace.pk, signer=domains.signer_for(profile)):
            recorder.add(result.delivery_id, result.outcome, result.detail)
        recorder.flush()
    finally:
        # A recorded outcome writes its address; a mail given back for a later attempt keeps it here, so the
        # row says where it is going.
        bulk.update_rows(Delivery, ["address"], [(d.address, d.pk) for d in sendable if d.pk in outcome.retry])


def handle_line(batch: list[LineRequest], outcome: BatchOutcome) -> None:
    for request in LineRequest.objects.select_related("line_channel", "workspace").filter(
            pk__in=[r.pk for r in batch]).order_by("pk"):
        if not request.fixed:
            _fix(request)
        if not request.user_ids:
            outcome.done.append(request.pk)
            continue
        token = request.line_channel.access_token
        try:
            if len(request.user_ids) == 1:
                line_api.push_messages(access_token=token, user_id=request.user_ids[0], messages=request.messages,
                                       retry_key=str(request.retry_key))
            else:
                line_api.multicast_messages(access_token=token, user_ids=request.user_ids, messages=request.messages,
                                            retry_key=str(request.retry_key))
        except line_api.LineError as exc:
            detail = f"LINE {exc.status}: {exc.body}"
            if exc.permanent:
                _finish_line(request, Outcome.FAILED, detail)
                outcome.failed[request.pk] = detail
            else:
                outcome.retry[request.pk] = detail
            continue
        _finish_line(request, Outcome.SENT, "")
        outcome.done.append(request.pk)


@transaction.atomic
def _fix(request: LineRequest) -> None:
    """Decide, once, who this request goes to and what it says; every later attempt repeats exactly this."""
    workspace = request.workspace
    deliveries = list(request.deliveries.select_related("contact", "template").filter(status=WorkStatus.PENDING))
    user_ids = _addresses(workspace.pk, {d.contact_id for d in deliveries}, "line")
    allowed = contacts.open_addresses(workspace=workspace, channel=Channel.LINE, addresses=user_ids.values())
    now = clock.now()
    members: list[Delivery] = []
    for delivery in deliveries:
        delivery.address = user_ids.get(delivery.contact_id, "")
        if delivery.address in allowed and delivery.address not in {m.address for m in members}:
            members.append(delivery)
            continue
        delivery.status, delivery.finished_at = WorkStatus.DONE, now
        delivery.outcome = Outcome.SUPPRESSED if delivery.address else Outcome.SKIPPED
    bulk.update_rows(Delivery, ["address", "status", "finished_at", "outcome"],
                     [(d.address, d.status, d.finished_at, d.outcome, d.pk) for d in deliveries])
    texts: list[dict[str, Any]] = []
    if members:
        compiled = composing.compile_template(members[0].template)
        one = members[0] if len(members) == 1 else None
        recipient = composing.Recipient(delivery_id=one.pk, address=one.address, name=one.contact.name,
                                        fields=one.contact.fields) if one else None
        texts = composing.compose_line(compiled, recipient, delivery_id=one.pk if one else None,
                                       workspace_name=workspace.name, tz=workspace.timezone)
    request.user_ids = [m.address for m in members] if texts else []
    request.messages = texts
    request.fixed = True
    request.save(update_fields=["user_ids", "messages", "fixed"])
    if not texts:
        Delivery.objects.filter(pk__in=[m.pk for m in members]).update(
            status=WorkStatus.DONE, outcome=Outcome.SKIPPED, finished_at=now, last_error="the message is empty")


def _finish_line(request: LineRequest, result: str, detail: str) -> None:
    now = clock.now()
    with transaction.atomic():
        members = list(request.deliveries.filter(status=WorkStatus.PENDING, address__in=request.user_ids))
        Delivery.objects.filter(pk__in=[d.pk for d in members]).update(
            status=WorkStatus.DONE if result == Outcome.SENT else WorkStatus.FAILED, outcome=result,
            sent_at=now if result == Outcome.SENT else None, finished_at=now, last_error=detail[:2000])
        if result == Outcome.SENT:
            for d in members:
                d.sent_at = now
            Fact.objects.bulk_create([_sent_fact(d, now) for d in members])

