"""Use cases of the contacts app: finding or creating a person from the addresses they give, merging
duplicates, recording consent as evidence, suppression, tags, export and erasure, and saved segments."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, QuerySet
from django.utils.translation import gettext as _

from musubi.contacts import rules, segments
from musubi.contacts.choices import Channel, IdentityKind, LegalBasis, Stage, SuppressionReason
from musubi.contacts.events import ContactErased, ContactTagged
from musubi.contacts.models import ConsentRecord, Contact, ContactTag, Identity, Segment, Suppression, Tag
from musubi.contacts.schemas import Definition, parse_definition, stored
from musubi.kernel import clock, events
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

# Consent records of mail-order advertising must be kept 3 years (特定商取引法 12-3; the e-mail act asks
# for at least 1 month after the last send, so 3 years covers both).
CONSENT_RETENTION = dt.timedelta(days=3 * 365 + 1)


@dataclass(frozen=True)
class Addresses:
    email: str | None = None
    line_user_id: str | None = None
    phone: str | None = None

    def identities(self) -> list[tuple[str, str]]:
        pairs = [(IdentityKind.EMAIL, self.email), (IdentityKind.LINE, self.line_user_id),
                 (IdentityKind.PHONE, self.phone)]
        return [(str(kind), value) for kind, value in pairs if value]


def normalise(*, email: str | None = None, line_user_id: str | None = None, phone: str | None = None,
              country: str = "JP") -> Addresses:
    """The addresses written the one way Musubi stores them; every bad one is named in one error."""
    fields: dict[str, str] = {}
    normalised: dict[str, str | None] = {"email": None, "line_user_id": None, "phone": None}
    for name, value, normaliser in (
        ("email", email, rules.normalise_email),
        ("line_user_id", line_user_id, rules.normalise_line_user_id),
        ("phone", phone, lambda v: rules.normalise_phone(v, default_country=country)),
    ):
        if value:
            try:
                normalised[name] = normaliser(value)
            except rules.InvalidAddress:
                fields[name] = {"email": _("Enter a valid email address."),
                                "line_user_id": _("This is not a LINE user id."),
                                "phone": _("Enter a phone number, e.g. 090-1234-5678 or +81 90 1234 5678.")}[name]
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    if not any(normalised.values()):
        raise InvalidInput(_("Give an email address, a LINE user or a phone number."),
                           fields={"email": _("Give at least one way to reach the person.")})
    return Addresses(**normalised)


def _survivor(contact: Contact) -> Contact:
    return contact.merged_into if contact.merged_into_id else contact  # type: ignore[return-value]


@transaction.atomic
def find_or_create_contact(*, workspace: Workspace, addresses: Addresses, name: str = "",
                           source_id: int | None = None,
                           first_source_id: int | None = None) -> tuple[Contact, bool]:
    """The contact these addresses belong to, creating it when none does. When the addresses belong to
    several contacts (someone who first added the shop on LINE and later gave an email), they are merged into
    the oldest, keeping every history. ``source_id`` is credited as the last source; a new contact's first
    source is ``first_source_id`` (the first link the person ever clicked) or, without one, ``source_id``."""
    now = clock.now()
    pairs = addresses.identities()
    found = list(Identity.objects.for_workspace(workspace).select_for_update()
                 .filter(kind__in=[k for k, _v in pairs], value__in=[v for _k, v in pairs])
                 .select_related("contact"))
    found = [i for i in found if (i.kind, i.value) in pairs]
    contacts = sorted({_survivor(i.contact).pk: _survivor(i.contact) for i in found}.values(), key=lambda c: c.pk)
    created = not contacts
    if created:
        contact = Contact.objects.create(workspace=workspace, name=name.strip()[:200], created_at=now,
                                         first_source_id=first_source_id or source_id, last_source_id=source_id)
        record_fact(workspace_id=workspace.pk, kind="contact.created", contact_id=contact.pk, source_id=source_id)
    else:
        contact, *duplicates = contacts
        for duplicate in duplicates:
            _merge(workspace, duplicate, into=contact)
        changed = []
        if name.strip() and not contact.name:
            contact.name = name.strip()[:200]
            changed.append("name")
        if source_id is not None:
            contact.last_source_id = source_id
            changed.append("last_source_id")
        if changed:
            contact.save(update_fields=changed)
    known = {(i.kind, i.value) for i in found}
    Identity.objects.bulk_create([Identity(workspace=workspace, contact=contact, kind=kind, value=value,
                                           created_at=now) for kind, value in pairs if (kind, value) not in known])
    return contact, created


@transaction.atomic
def update_fields(*, workspace: Workspace, contact: Contact, values: dict[str, Any]) -> None:
    """Set custom fields and survey answers (a later answer replaces an earlier one under the same key)."""
    if not values:
        return
    survivor = Contact.objects.for_workspace(workspace).select_for_update().get(pk=_survivor(contact).pk)
    survivor.fields = {**survivor.fields, **values}
    survivor.save(update_fields=["fields"])


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_choices() -> list[str]:
    return sorted(_known_time_zones())


def check_time_zone(zone: str) -> str:
    """``zone`` if it is an IANA time zone name (``Asia/Tokyo``), else InvalidInput naming the field."""
    zone = zone.strip()
    if zone not in _known_time_zones():
        message = _("Enter a time zone such as Asia/Tokyo.")
        raise InvalidInput(message, fields={"time_zone": message})
    return zone


def set_time_zone(*, workspace: Workspace, contact: Contact, zone: str, only_if_unknown: bool = False,
                  actor: Actor | None = None) -> None:
    """Give the person their own time zone ("" goes back to the workspace's), so a step sent "on day 3 at
    09:00" arrives at nine where they are. ``only_if_unknown`` keeps one already known (a browser's guess at
    an opt-in does not replace what the owner set)."""
    zone = check_time_zone(zone) if zone.strip() else ""
    survivor = _survivor(contact)
    found = Contact.objects.for_workspace(workspace).filter(pk=survivor.pk)
    if only_if_unknown:
        found = found.filter(time_zone="")
    if actor is not None:
        actor.require(Action.OPERATE)
        record_audit(workspace=workspace, actor=actor, action="contact.time_zone", obj=survivor,
                     changes={"time_zone": zone})
    found.update(time_zone=zone)


def time_zone_of(contact: Contact, workspace: Workspace) -> str:
    return contact.time_zone or workspace.timezone


_STAGE_ORDER = [Stage.LEAD, Stage.FRONT_CUSTOMER, Stage.BACK_CUSTOMER]


def advance_stage(*, workspace: Workspace, contact: Contact, stage: str) -> bool:
    """Move a contact forward to ``stage`` (a lead who redeemed the front-end coupon becomes a front-end
    customer); never backward. Returns whether the stage changed."""
    ahead = _STAGE_ORDER[_STAGE_ORDER.index(Stage(stage)):]
    changed = Contact.objects.for_workspace(workspace).filter(pk=_survivor(contact).pk).exclude(
        stage__in=ahead).update(stage=stage)
    if changed:
        record_fact(workspace_id=workspace.pk, kind="contact.stage_changed", contact_id=_survivor(contact).pk,
                    data={"stage": stage})
    return bool(changed)


def _merge(workspace: Workspace, duplicate: Contact, *, into: Contact) -> None:
    Identity.objects.for_workspace(workspace).filter(contact=duplicate).update(contact=into)
    for link in ContactTag.objects.for_workspace(workspace).filter(contact=duplicate):
        ContactTag.objects.get_or_create(workspace=workspace, contact=into, tag_id=link.tag_id,
                                         defaults={"added_at": link.added_at})
    ContactTag.objects.for_workspace(workspace).filter(contact=duplicate).delete()
    # Contacts merged into the duplicate earlier now point at the survivor, so one hop always reaches it.
    Contact.objects.for_workspace(workspace).filter(merged_into=duplicate).update(merged_into=into)
    duplicate.merged_into = into
    duplicate.save(update_fields=["merged_into"])
    record_fact(workspace_id=workspace.pk, kind="contact.merged", contact_id=into.pk,
                data={"merged": duplicate.pk})


def find_by_identity(*, workspace: Workspace, kind: str, value: str) -> Contact | None:
    """The contact (the survivor of any merge) an already normalised address belongs to, if any."""
    identity = (Identity.objects.for_workspace(workspace).select_related("contact__merged_into")
                .filter(kind=kind, value=value).first())
    return _survivor(identity.contact) if identity else None


@transaction.atomic
def credit_source(*, workspace: Workspace, contact: Contact, source_id: int, replacing: int) -> None:
    """Credit ``source_id`` where a contact's first or last source was only a placeholder (``replacing``,
    e.g. "LINE, source unknown") because the real one became known a moment later."""
    survivor = _survivor(contact)
    Contact.objects.for_workspace(workspace).filter(pk=survivor.pk, last_source_id=replacing).update(
        last_source_id=source_id)
    Contact.objects.for_workspace(workspace).filter(pk=survivor.pk, first_source_id=replacing).update(
        first_source_id=source_id)


@transaction.atomic
def name_if_unnamed(*, workspace: Workspace, contact: Contact, name: str) -> None:
    """Give a contact a name (a LINE display name) unless they already have one they gave themselves."""
    if name.strip():
        Contact.objects.for_workspace(workspace).filter(pk=_survivor(contact).pk, name="").update(
            name=name.strip()[:200])


def history_ids(workspace: Workspace, contact: Contact) -> list[int]:
    """The contact's id and the ids of the records merged into it: its facts and consents are under all of them."""
    merged = Contact.objects.for_workspace(workspace).filter(merged_into=contact).values_list("pk", flat=True)
    return [contact.pk, *merged]


@transaction.atomic
def record_consent(*, workspace: Workspace, contact: Contact, channel: str, address: str,
                   basis: str = LegalBasis.CONSENT, granted: bool = True, ip_address: str = "", user_agent: str = "",
                   capture_point_id: int | None = None, capture_point_version: int | None = None,
                   wording: str = "", wording_hash: str = "", source_id: int | None = None) -> ConsentRecord:
    """Record consent (or its withdrawal). ``wording`` is hashed here; a caller that keeps its own fingerprint
    of what was shown (a capture point's version) passes ``wording_hash`` so both records carry the same one."""
    if channel not in Channel.values or basis not in LegalBasis.values:
        raise InvalidInput(_("Some fields need attention."), fields={
            **({"channel": _("Unknown channel.")} if channel not in Channel.values else {}),
            **({"basis": _("Unknown legal basis.")} if basis not in LegalBasis.values else {})})
    record = ConsentRecord.objects.create(
        workspace=workspace, contact=_survivor(contact), channel=channel, address=address, basis=basis,
        granted=granted, at=clock.now(), ip_address=ip_address[:64], user_agent=user_agent[:500],
        capture_point_id=capture_point_id, capture_point_version=capture_point_version,
        wording_hash=wording_hash or (rules.wording_hash(wording) if wording else ""), source_id=source_id)
    record_fact(workspace_id=workspace.pk, kind="consent.granted" if granted else "consent.withdrawn",
                contact_id=record.contact_id, source_id=source_id, subject=("contacts.consentrecord", record.pk),
                data={"channel": channel, "basis": basis})
    return record


@transaction.atomic
def suppress(*, workspace: Workspace, channel: str, value: str, reason: str, note: str = "") -> Suppression:
    """Stop all marketing to ``value`` on ``channel`` at once; suppressing twice keeps the first reason."""
    if reason not in SuppressionReason.values:
        raise InvalidInput(_("Some fields need attention."), fields={"reason": _("Unknown reason.")})
    row, created = Suppression.objects.get_or_create(
        workspace=workspace, channel=channel, value=value,
        defaults={"reason": reason, "at": clock.now(), "note": note[:200]})
    if created:
        record_fact(workspace_id=workspace.pk, kind="suppression.added", data={"channel": channel, "reason": reason})
    return row


@transaction.atomic
def lift_suppression(*, workspace: Workspace, channel: str, value: str, reason: str) -> bool:
    """Lift a suppression that had ``reason`` (a LINE block undone by adding the account again); a
    suppression for any other reason — an unsubscribe, a complaint — stays."""
    deleted, _detail = Suppression.objects.for_workspace(workspace).filter(
        channel=channel, value=value, reason=reason).delete()
    if deleted:
        record_fact(workspace_id=workspace.pk, kind="suppression.lifted", data={"channel": channel, "reason": reason})
    return bool(deleted)


def marketing_allowed(*, workspace: Workspace, contact: Contact, channel: str, address: str) -> bool:
    """Whether advertising may go to ``address`` on ``channel`` now: its latest consent record grants it and
    the address is not suppressed. Asked at the moment of sending, not when a list is built."""
    latest = (ConsentRecord.objects.for_workspace(workspace)
              .filter(contact_id__in=history_ids(workspace, _survivor(contact)), channel=channel, address=address)
              .order_by("-at", "-pk").first())
    suppressed = Suppression.objects.for_workspace(workspace).filter(channel=channel, value=address).exists()
    return rules.may_send_marketing(has_basis=latest is not None, withdrawn=latest is not None and not latest.granted,
                                    suppressed=suppressed)


def open_addresses(*, workspace: Workspace, channel: str, addresses: Iterable[str]) -> set[str]:
    """Of ``addresses``, those that may receive advertising on ``channel`` now — ``marketing_allowed`` for a
    whole batch in two queries, asked at the moment of sending. An address belongs to one person (identities
    are unique per workspace), so its consent records are those written for it, whichever of that person's
    merged records they name."""
    latest, suppressed = _standing(workspace, channel, set(addresses))
    return {a for a in latest if rules.may_send_marketing(has_basis=latest[a] is not None,
                                                          withdrawn=latest[a] is False, suppressed=a in suppressed)}


def refused_addresses(*, workspace: Workspace, channel: str, addresses: Iterable[str]) -> set[str]:
    """Of ``addresses``, those whose owner said no on ``channel``: suppressed (unsubscribed, blocked,
    complained) or their latest consent record withdraws it. An address never asked is not refused: consent
    may still be given."""
    latest, suppressed = _standing(workspace, channel, set(addresses))
    return {a for a in latest if a in suppressed or latest[a] is False}


def _standing(workspace: Workspace, channel: str, wanted: set[str]) -> tuple[dict[str, bool | None], set[str]]:
    """Each address's latest consent (granted, withdrawn, or None when never recorded) and the suppressed
    ones, in two queries."""
    if not wanted:
        return {}, set()
    latest: dict[str, bool | None] = dict.fromkeys(wanted)
    for address, granted in (ConsentRecord.objects.for_workspace(workspace)
                             .filter(channel=channel, address__in=wanted).order_by("at", "pk")
                             .values_list("address", "granted")):
        latest[address] = granted
    suppressed = set(Suppression.objects.for_workspace(workspace)
                     .filter(channel=channel, value__in=wanted).values_list("value", flat=True))
    return latest, suppressed


def count_open(*, workspace: Workspace, channel: str, contact_ids: Any) -> int:
    """How many of ``contact_ids`` (a list or a subquery) have an address that may receive advertising on
    ``channel`` now — the count shown before a broadcast."""
    return (Contact.objects.for_workspace(workspace).filter(pk__in=contact_ids)
            .filter(Exists(segments.addresses_open_to_marketing(workspace, channel))).count())


@transaction.atomic
def tag(*, workspace: Workspace, contact: Contact, names: list[str]) -> None:
    now = clock.now()
    for name in {n.strip()[:100] for n in names if n.strip()}:
        found, _created = Tag.objects.get_or_create(workspace=workspace, name=name)
        link, added = ContactTag.objects.get_or_create(workspace=workspace, contact=_survivor(contact), tag=found,
                                                       defaults={"added_at": now})
        if added:
            record_fact(workspace_id=workspace.pk, kind="contact.tagged", contact_id=link.contact_id,
                        data={"tag": name})
            events.publish(ContactTagged(workspace_id=workspace.pk, contact_id=link.contact_id, tag=name))


def export(*, workspace: Workspace, contact_id: int) -> dict[str, Any]:
    """Everything Musubi holds about a person, machine-readable (APPI disclosure requests)."""
    contact = _contact(workspace, contact_id)
    ids = history_ids(workspace, contact)
    return {
        "id": contact.pk, "name": contact.name, "stage": contact.stage, "fields": contact.fields,
        "time_zone": contact.time_zone, "created_at": contact.created_at.isoformat(),
        "identities": [{"kind": i.kind, "value": i.value} for i in contact.identities.order_by("pk")],
        "tags": sorted(contact.tags.values_list("name", flat=True)),
        "consents": [{"channel": c.channel, "address": c.address, "basis": c.basis, "granted": c.granted,
                      "at": c.at.isoformat(), "ip_address": c.ip_address, "user_agent": c.user_agent,
                      "capture_point_id": c.capture_point_id, "wording_hash": c.wording_hash}
                     for c in ConsentRecord.objects.for_workspace(workspace).filter(contact_id__in=ids).order_by("at")],
    }


def _contact(workspace: Workspace, contact_id: int) -> Contact:
    contact = Contact.objects.for_workspace(workspace).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(_("This workspace has no such contact."))
    return _survivor(contact)


@transaction.atomic
def erase(*, workspace: Workspace, actor: Actor, contact_id: int) -> None:
    """Erase a person: name, fields, tags and identities go; consent records stay as evidence with the address,
    IP and user agent pseudonymised until their retention ends; suppressions stay so a refusal keeps working."""
    actor.require(Action.MANAGE)
    contact = _contact(workspace, contact_id)
    now = clock.now()
    ids = history_ids(workspace, contact)
    for record in ConsentRecord.objects.for_workspace(workspace).filter(contact_id__in=ids, pseudonymised_at=None):
        record.address = rules.pseudonym(record.address)
        record.ip_address = rules.pseudonym(record.ip_address) if record.ip_address else ""
        record.user_agent = ""
        record.pseudonymised_at = now
        record.save(update_fields=["address", "ip_address", "user_agent", "pseudonymised_at"])
    Identity.objects.for_workspace(workspace).filter(contact_id__in=ids).delete()
    ContactTag.objects.for_workspace(workspace).filter(contact_id__in=ids).delete()
    Contact.objects.for_workspace(workspace).filter(pk__in=ids).update(name="", fields={}, time_zone="",
                                                                            erased_at=now)
    events.publish(ContactErased(workspace_id=workspace.pk, contact_ids=tuple(sorted(ids))))
    record_audit(workspace=workspace, actor=actor, action="contact.erased", obj=contact)


@transaction.atomic
def delete_consent_records(*, workspace: Workspace, actor: Actor, contact_id: int) -> int:
    """Delete a person's consent evidence — refused while any of it is still within its retention period."""
    actor.require(Action.ADMINISTER)
    contact = _contact(workspace, contact_id)
    records = ConsentRecord.objects.for_workspace(workspace).filter(contact_id__in=history_ids(workspace, contact))
    youngest = records.order_by("-at").values_list("at", flat=True).first()
    if youngest is not None and clock.now() < youngest + CONSENT_RETENTION:
        keep_until = (youngest + CONSENT_RETENTION).date().isoformat()
        raise Conflict(_("Consent records are evidence the law requires us to keep until %(date)s.")
                       % {"date": keep_until}, code="retention")
    deleted, _detail = records.delete()
    record_audit(workspace=workspace, actor=actor, action="contact.consents_deleted", obj=contact,
                 changes={"deleted": deleted})
    return deleted


# --- Segments ----------------------------------------------------------------------------------------------

def _segment(workspace: Workspace, segment_id: int) -> Segment:
    found = Segment.objects.for_workspace(workspace).filter(pk=segment_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such segment."))
    return found


def _segment_name(workspace: Workspace, name: str, *, other_than: int = 0) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput(_("Some fields need attention."), fields={"name": _("Enter a name of 1–200 characters.")})
    taken = Segment.objects.for_workspace(workspace).filter(name=name.strip()).exclude(pk=other_than)
    if taken.exists():
        raise Conflict(_("A segment with this name already exists."), fields={"name": _("Already used.")})
    return name.strip()


@transaction.atomic
def create_segment(*, workspace: Workspace, actor: Actor, name: str, definition: Any) -> Segment:
    """Save a segment; a definition with any problem is refused whole, naming the path of each."""
    actor.require(Action.MANAGE)
    parsed = parse_definition(definition)
    now = clock.now()
    segment = Segment.objects.create(workspace=workspace, name=_segment_name(workspace, name),
                                     definition=stored(parsed), created_at=now, updated_at=now)
    record_audit(workspace=workspace, actor=actor, action="segment.created", obj=segment,
                 changes={"name": segment.name, "definition": segment.definition})
    return segment


@transaction.atomic
def update_segment(*, workspace: Workspace, actor: Actor, segment_id: int, name: str | None = None,
                   definition: Any = None) -> Segment:
    actor.require(Action.MANAGE)
    segment = _segment(workspace, segment_id)
    changes: dict[str, list[Any]] = {}
    if name is not None and (new_name := _segment_name(workspace, name, other_than=segment.pk)) != segment.name:
        changes["name"] = [segment.name, new_name]
        segment.name = new_name
    if definition is not None and (new := stored(parse_definition(definition))) != segment.definition:
        changes["definition"] = [segment.definition, new]
        segment.definition = new
    if changes:
        segment.updated_at = clock.now()
        segment.save(update_fields=[*changes, "updated_at"])
        record_audit(workspace=workspace, actor=actor, action="segment.updated", obj=segment, changes=changes)
    return segment


@transaction.atomic
def delete_segment(*, workspace: Workspace, actor: Actor, segment_id: int) -> None:
    actor.require(Action.MANAGE)
    segment = _segment(workspace, segment_id)
    record_audit(workspace=workspace, actor=actor, action="segment.deleted", obj=segment,
                 changes={"name": segment.name, "definition": segment.definition})
    segment.delete()


def members(*, workspace: Workspace, segment: Segment | None = None, definition: Any = None,
            now: dt.datetime | None = None) -> QuerySet[Contact]:
    """The people in a saved ``segment`` — or meeting an unsaved ``definition`` — as of ``now``, newest first.
    Evaluated by the database when read, so it is always current; every merged record's history counts for
    the person it was merged into, and merged records and erased people are never members."""
    return segments.members(workspace, _definition(workspace, segment, definition),
                            now=now or clock.now()).order_by("-created_at", "-pk")


def count(*, workspace: Workspace, segment: Segment | None = None, definition: Any = None,
          now: dt.datetime | None = None) -> int:
    """How many people ``members`` would give, counted by the database."""
    return segments.count(workspace, _definition(workspace, segment, definition), now=now or clock.now())


def _definition(workspace: Workspace, segment: Segment | None, definition: Any) -> Definition:
    if (segment is None) == (definition is None):
        raise TypeError("give a segment or a definition")
    if segment is not None:
        if segment.workspace_id != workspace.pk:
            raise NotFound(_("This workspace has no such segment."))
        return Definition.model_validate(segment.definition)
    return definition if isinstance(definition, Definition) else parse_definition(definition)
