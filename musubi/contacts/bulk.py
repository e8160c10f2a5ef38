"""Adding many people at once — an import — with exactly the rules of adding them one at a time.

``add_one`` is the reference: the ordinary services, one person after another (find or create the contact,
merging duplicates; fill the name when it is empty; add the custom fields, the tags and a consent record per
address on the given basis). ``add_many`` gives the same contacts, identities, tags, consent records and facts
for a list of people in a handful of statements: it looks up every address at once, creates the new contacts
together and updates the known ones in order. The rare person whose addresses belong to two or more contacts
(a merge) goes through ``add_one``, and the people after them are looked up again, so merges play out in the
order they would one at a time. The people of one call must not share an address (an import sets aside
every row that repeats an earlier row's address).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.contacts import services
from musubi.contacts.choices import Channel, IdentityKind, LegalBasis, Stage
from musubi.contacts.models import ConsentRecord, Contact, ContactTag, Identity, Tag
from musubi.kernel import clock
from musubi.kernel.bulk import allocate_ids, insert_rows
from musubi.kernel.errors import InvalidInput
from musubi.kernel.models import Fact
from musubi.workspaces.models import Workspace

CHANNEL_OF: dict[str, str] = {IdentityKind.EMAIL: Channel.EMAIL, IdentityKind.LINE: Channel.LINE,
                              IdentityKind.PHONE: Channel.SMS}
_LOOKUP_BATCH = 2000  # values per IN list, well inside SQLite's limit on bound parameters
FACT_COLUMNS = ("workspace_id", "kind", "occurred_at", "recorded_at", "contact_id", "source_id", "subject_type",
                 "subject_id", "currency", "data")


@dataclass(frozen=True)
class Person:
    """Someone as a list gives them, addresses already normalised (``services.normalise``)."""

    addresses: services.Addresses
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass
class Added:
    created: int = 0
    matched: int = 0  # people found among the existing contacts (and merged with them)


def check_basis(basis: str) -> None:
    if basis not in LegalBasis.values:
        raise InvalidInput(_("Some fields need attention."), fields={"basis": _("Unknown legal basis.")})


def _tag_names(person: Person, tags: Sequence[str]) -> set[str]:
    return {n.strip()[:100] for n in [*person.tags, *tags] if n.strip()}


@transaction.atomic
def add_one(*, workspace: Workspace, person: Person, basis: str, source_id: int | None,
            tags: Sequence[str] = ()) -> bool:
    """Add one person through the ordinary services; True when a new contact was created."""
    check_basis(basis)
    contact, created = services.find_or_create_contact(workspace=workspace, addresses=person.addresses,
                                                       name=person.name, source_id=source_id)
    if person.fields:
        contact.fields = {**contact.fields, **person.fields}
        contact.save(update_fields=["fields"])
    if names := _tag_names(person, tags):
        services.tag(workspace=workspace, contact=contact, names=sorted(names))
    for kind, value in person.addresses.identities():
        services.record_consent(workspace=workspace, contact=contact, channel=CHANNEL_OF[kind], address=value,
                                basis=basis, source_id=source_id)
    return created


@transaction.atomic
def add_many(*, workspace: Workspace, people: Sequence[Person], basis: str, source_id: int | None,
             tags: Sequence[str] = ()) -> Added:
    """Add ``people`` in order, as ``add_one`` would one after another; see the module's docstring."""
    check_basis(basis)
    pairs = [pair for person in people for pair in person.addresses.identities()]
    if len(pairs) != len(set(pairs)):
        raise ValueError("people of one add_many call must not share an address")
    added = Added()
    remaining = list(people)
    while remaining:
        owners = _owners(workspace, remaining)
        split = next((i for i, person in enumerate(remaining)
                      if len({owners[p] for p in person.addresses.identities() if p in owners}) > 1), len(remaining))
        _write(workspace, remaining[:split], owners, basis=basis, source_id=source_id, tags=tags, added=added)
        if split == len(remaining):
            break
        if add_one(workspace=workspace, person=remaining[split], basis=basis, source_id=source_id, tags=tags):
            added.created += 1
        else:
            added.matched += 1
        remaining = remaining[split + 1:]
    return added


def _owners(workspace: Workspace, people: Sequence[Person]) -> dict[tuple[str, str], int]:
    """The contact (the survivor of any merge) each known address of ``people`` belongs to, locked like
    ``find_or_create_contact`` locks them."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for person in people:
        for kind, value in person.addresses.identities():
            wanted[kind].append(value)
    owners: dict[tuple[str, str], int] = {}
    for kind, values in wanted.items():
        for start in range(0, len(values), _LOOKUP_BATCH):
            found = (Identity.objects.for_workspace(workspace).select_for_update(of=("self",))
                     .filter(kind=kind, value__in=values[start:start + _LOOKUP_BATCH])
                     .values_list("value", "contact_id", "contact__merged_into_id"))
            for value, contact_id, merged_into_id in found:
                owners[(kind, value)] = merged_into_id or contact_id
    return owners


def _write(workspace: Workspace, people: Sequence[Person], owners: dict[tuple[str, str], int], *, basis: str,
           source_id: int | None, tags: Sequence[str], added: Added) -> None:
    if not people:
        return
    now = clock.now()
    ws = workspace.pk
    facts: list[tuple] = []
    # Whom each person is: a new contact, or the one contact their known addresses belong to.
    new_people = [p for p in people if not any(pair in owners for pair in p.addresses.identities())]
    new_ids = iter(allocate_ids(Contact, len(new_people)))
    contact_of: list[int] = []
    for person in people:
        known = [owners[pair] for pair in person.addresses.identities() if pair in owners]
        contact_of.append(known[0] if known else next(new_ids))
    new_contacts = {cid for person, cid in zip(people, contact_of, strict=True)
                    if not any(pair in owners for pair in person.addresses.identities())}
    added.created += len(new_contacts)
    added.matched += len(people) - len(new_contacts)

    insert_rows(Contact, ("id", "workspace_id", "name", "stage", "fields", "first_source_id", "last_source_id",
                          "created_at"),
                ((cid, ws, p.name.strip()[:200], Stage.LEAD, dict(p.fields), source_id, source_id, now)
                 for p, cid in zip(people, contact_of, strict=True) if cid in new_contacts))
    facts.extend((ws, "contact.created", now, now, cid, source_id, "", "", "", {}) for cid in sorted(new_contacts))
    _update_known(workspace, [(p, cid) for p, cid in zip(people, contact_of, strict=True)
                              if cid not in new_contacts], source_id=source_id)

    insert_rows(Identity, ("workspace_id", "contact_id", "kind", "value", "created_at"),
                ((ws, cid, kind, value, now) for p, cid in zip(people, contact_of, strict=True)
                 for kind, value in p.addresses.identities() if (kind, value) not in owners))
    facts.extend(_link_tags(workspace, people, contact_of, new_contacts, tags=tags, now=now))

    consents = [(cid, CHANNEL_OF[kind], value) for p, cid in zip(people, contact_of, strict=True)
                for kind, value in p.addresses.identities()]
    consent_ids = allocate_ids(ConsentRecord, len(consents))
    insert_rows(ConsentRecord, ("id", "workspace_id", "contact_id", "channel", "address", "basis", "granted", "at",
                                "ip_address", "user_agent", "wording_hash", "source_id"),
                ((pk, ws, cid, channel, address, basis, True, now, "", "", "", source_id)
                 for pk, (cid, channel, address) in zip(consent_ids, consents, strict=True)))
    facts.extend((ws, "consent.granted", now, now, cid, source_id, "contacts.consentrecord", str(pk), "",
                  {"channel": str(channel), "basis": basis})
                 for pk, (cid, channel, _address) in zip(consent_ids, consents, strict=True))
    insert_rows(Fact, FACT_COLUMNS, facts)


def _update_known(workspace: Workspace, people: list[tuple[Person, int]], *, source_id: int | None) -> None:
    """Fill an empty name, add the custom fields and set the last source of contacts already known, one person
    after another as ``find_or_create_contact`` would."""
    if not people:
        return
    contacts = Contact.objects.for_workspace(workspace).in_bulk({cid for _p, cid in people})
    for person, cid in people:
        contact = contacts[cid]
        if person.name.strip() and not contact.name:
            contact.name = person.name.strip()[:200]
        if source_id is not None:
            contact.last_source_id = source_id
        if person.fields:
            contact.fields = {**contact.fields, **person.fields}
    Contact.objects.bulk_update(contacts.values(), ["name", "last_source_id", "fields"], batch_size=500)


def _link_tags(workspace: Workspace, people: Sequence[Person], contact_of: list[int], new_contacts: set[int], *,
               tags: Sequence[str], now: object) -> list[tuple]:
    wanted = [(cid, _tag_names(p, tags)) for p, cid in zip(people, contact_of, strict=True)]
    names = set().union(*(n for _cid, n in wanted))
    if not names:
        return []
    ws = workspace.pk
    found = dict(Tag.objects.for_workspace(workspace).filter(name__in=names).values_list("name", "pk"))
    if missing := names - set(found):
        Tag.objects.bulk_create([Tag(workspace=workspace, name=n) for n in sorted(missing)], ignore_conflicts=True)
        found = dict(Tag.objects.for_workspace(workspace).filter(name__in=names).values_list("name", "pk"))
    linked = set(ContactTag.objects.for_workspace(workspace)
                 .filter(contact_id__in={cid for cid, _n in wanted if cid not in new_contacts},
                         tag_id__in=found.values()).values_list("contact_id", "tag_id"))
    links = []
    for cid, person_names in wanted:
        for name in sorted(person_names):
            if (cid, found[name]) not in linked:
                linked.add((cid, found[name]))
                links.append((cid, found[name], name))
    insert_rows(ContactTag, ("workspace_id", "contact_id", "tag_id", "added_at"),
                ((ws, cid, tag_id, now) for cid, tag_id, _name in links))
    return [(ws, "contact.tagged", now, now, cid, None, "", "", "", {"tag": name}) for cid, _t, name in links]
