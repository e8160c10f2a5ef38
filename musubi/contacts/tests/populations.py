"""Generated populations of contacts, and a plain-Python oracle of who belongs to a segment.

The oracle reads every row of the workspace into memory and decides each contact by the written semantics of
each condition (see ``schemas``), asking ``services.marketing_allowed`` itself for consent — so a test that
compares it with the SQL proves the two agree, not that the SQL agrees with itself.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from musubi.contacts import services
from musubi.contacts.choices import Channel, EventKind, IdentityKind, Stage
from musubi.contacts.models import ConsentRecord, Contact, ContactTag, Identity, Suppression, Tag
from musubi.contacts.schemas import Definition, parse_definition
from musubi.kernel.models import Fact

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TAGS = ["VIP", "メルマガ", "来店", "卓上QR"]
KEYS = ["q1", "color", "memo", "age"]
TEXTS = ["赤", "青", "赤と青", "red", "Red", "", "a\"b", "テーブル12番"]
SOURCES = [11, 12, 13]
KINDS = ["link.clicked", "order.paid", "coupon.redeemed", "optin.submitted", "email.opened"]
DAYS = [1, 7, 30]


def _field_value(rng: random.Random) -> Any:
    return rng.choice([
        lambda: rng.choice(TEXTS),
        lambda: rng.sample(TEXTS, rng.randrange(0, 3)),
        lambda: [rng.choice(TEXTS), 3, [rng.choice(TEXTS)], {"v": rng.choice(TEXTS)}],
        lambda: None, lambda: 7, lambda: 0, lambda: True, lambda: False, lambda: {"v": rng.choice(TEXTS)}, lambda: [],
    ])()


def populate(workspace: Any, seed: int, size: int = 40) -> None:
    """``size`` people with every kind of data a segment reads, some of them merged into others or erased."""
    rng = random.Random(seed)
    tags = [Tag.objects.get_or_create(workspace=workspace, name=name)[0] for name in TAGS]
    people = []
    for n in range(size):
        fields = {key: _field_value(rng) for key in rng.sample(KEYS, rng.randrange(0, 4))}
        people.append(Contact.objects.create(
            workspace=workspace, name=f"person {n}", stage=rng.choice(Stage.values), fields=fields,
            first_source_id=rng.choice([*SOURCES, None]), last_source_id=rng.choice([*SOURCES, None]),
            created_at=NOW - dt.timedelta(days=rng.randrange(400))))
    for person in people:
        for tag in rng.sample(tags, rng.randrange(0, 3)):
            ContactTag.objects.create(workspace=workspace, contact=person, tag=tag, added_at=NOW)
        addresses = []
        if rng.random() < 0.7:
            addresses.append((Channel.EMAIL, IdentityKind.EMAIL, f"p{person.pk}-{seed}@example.jp"))
        if rng.random() < 0.5:
            addresses.append((Channel.LINE, IdentityKind.LINE, "U" + f"{person.pk:032x}"))
        if rng.random() < 0.3:
            addresses.append((Channel.SMS, IdentityKind.PHONE, f"+8190{person.pk:08d}"))
        for channel, kind, value in addresses:
            Identity.objects.create(workspace=workspace, contact=person, kind=kind, value=value, created_at=NOW)
            for _ in range(rng.randrange(0, 4)):  # grants and withdrawals, some at the very same moment
                ConsentRecord.objects.create(
                    workspace=workspace, contact=person, channel=channel, address=value, basis="consent",
                    granted=rng.random() < 0.7, at=NOW - dt.timedelta(days=rng.choice([3, 3, 10, 40])))
            if rng.random() < 0.15:
                Suppression.objects.create(workspace=workspace, channel=channel, value=value, reason="unsubscribed",
                                           at=NOW)
        for _ in range(rng.randrange(0, 5)):
            days_ago = rng.choice([0, 1, 6, 7, 8, 29, 30, 31, 200])
            at = NOW - dt.timedelta(days=days_ago, seconds=rng.choice([0, 0, 1, -1]))
            Fact.objects.create(workspace_id=workspace.pk, kind=rng.choice(KINDS), occurred_at=at, contact_id=person.pk)
    Fact.objects.create(workspace_id=workspace.pk, kind="link.clicked", occurred_at=NOW, contact_id=None)
    # Some records merged into another person: their facts and consent records stay under their own ids, as a
    # merge leaves them (services._merge moves identities and tags only).
    for duplicate in rng.sample(people, size // 8):
        survivor = rng.choice([p for p in people if p.pk != duplicate.pk and p.merged_into_id is None])
        if duplicate.merged_into_id is None and not Contact.objects.filter(merged_into=duplicate).exists():
            Identity.objects.filter(contact=duplicate).update(contact=survivor)
            for link in ContactTag.objects.filter(contact=duplicate):
                ContactTag.objects.get_or_create(workspace=workspace, contact=survivor, tag_id=link.tag_id,
                                                 defaults={"added_at": NOW})
            ContactTag.objects.filter(contact=duplicate).delete()
            duplicate.merged_into = survivor
            duplicate.save(update_fields=["merged_into"])
    for person in rng.sample(people, size // 10):
        Contact.objects.filter(pk=person.pk).update(erased_at=NOW)


def random_condition(rng: random.Random, *, leaf_only: bool = False) -> dict[str, Any]:
    kind = rng.choice(["tag", "field", "stage", "source", "consent", "event"] + ([] if leaf_only else ["group"]))
    if kind == "tag":
        return {"type": "tag", "op": rng.choice(["has", "has_not"]), "tag": rng.choice([*TAGS, "ない"])}
    if kind == "field":
        op = rng.choice(["equals", "contains", "includes", "is_set", "is_not_set"])
        condition = {"type": "field", "key": rng.choice([*KEYS, "nokey"]), "op": op}
        if op in ("equals", "contains", "includes"):
            condition["value"] = rng.choice([t for t in TEXTS if t] + ["赤", "と"])
        return condition
    if kind == "stage":
        return {"type": "stage", "op": rng.choice(["is", "is_not"]), "stage": rng.choice(Stage.values)}
    if kind == "source":
        return {"type": "source", "which": rng.choice(["first", "last"]), "op": rng.choice(["is", "is_not"]),
                "source_id": rng.choice(SOURCES)}
    if kind == "consent":
        return {"type": "consent", "channel": rng.choice(Channel.values),
                "op": rng.choice(["may_receive", "may_not_receive"])}
    if kind == "event":
        op = rng.choice(["within", "not_within", "ever", "never"])
        condition = {"type": "event", "kind": rng.choice([*KINDS, EventKind.LINE_FOLLOWED]), "op": op}
        if op in ("within", "not_within"):
            condition["days"] = rng.choice(DAYS)
        return condition
    return {"type": "group", "match": rng.choice(["all", "any"]),
            "conditions": [random_condition(rng, leaf_only=True) for _ in range(rng.randrange(1, 4))]}


def random_definition(rng: random.Random) -> dict[str, Any]:
    return {"match": rng.choice(["all", "any"]),
            "conditions": [random_condition(rng) for _ in range(rng.randrange(0, 5))]}


class Oracle:
    """Who is in a segment, decided contact by contact in Python from every row of the workspace."""

    def __init__(self, workspace: Any, *, now: dt.datetime) -> None:
        self.workspace, self.now = workspace, now
        self.contacts = list(Contact.objects.filter(workspace=workspace))
        self.tags: dict[int, set[str]] = defaultdict(set)
        for link in ContactTag.objects.filter(workspace=workspace).select_related("tag"):
            self.tags[link.contact_id].add(link.tag.name)
        self.history: dict[int, set[int]] = {c.pk: {c.pk} for c in self.contacts}
        for c in self.contacts:
            if c.merged_into_id:
                self.history[c.merged_into_id].add(c.pk)
        self.facts = list(Fact.objects.filter(workspace_id=workspace.pk))
        self.identities: dict[int, list[Identity]] = defaultdict(list)
        for identity in Identity.objects.filter(workspace=workspace):
            self.identities[identity.contact_id].append(identity)

    def members(self, definition: dict[str, Any]) -> set[int]:
        parsed = parse_definition(definition)
        return {c.pk for c in self.contacts
                if c.merged_into_id is None and c.erased_at is None and self._all_or_any(c, parsed)}

    def _all_or_any(self, contact: Contact, node: Definition | Any) -> bool:
        results = [self._holds(contact, condition) for condition in node.conditions]
        if not results:
            return True
        return all(results) if node.match == "all" else any(results)

    def _holds(self, contact: Contact, c: Any) -> bool:
        if c.type == "group":
            return self._all_or_any(contact, c)
        if c.type == "tag":
            return (c.tag in self.tags[contact.pk]) == (c.op == "has")
        if c.type == "field":
            present = c.key in contact.fields
            value = contact.fields.get(c.key)
            return {
                "equals": lambda: isinstance(value, str) and value == c.value,
                "contains": lambda: isinstance(value, str) and c.value in value,
                "includes": lambda: isinstance(value, list) and any(isinstance(e, str) and e == c.value for e in value),
                "is_set": lambda: present and value not in (None, "", []),
                "is_not_set": lambda: not (present and value not in (None, "", [])),
            }[c.op]()
        if c.type == "stage":
            return (contact.stage == c.stage) == (c.op == "is")
        if c.type == "source":
            actual = contact.first_source_id if c.which == "first" else contact.last_source_id
            return (actual == c.source_id) == (c.op == "is")
        if c.type == "consent":
            kind = {"email": "email", "line": "line", "sms": "phone"}[c.channel]
            allowed = any(services.marketing_allowed(workspace=self.workspace, contact=contact, channel=c.channel,
                                                     address=i.value)
                          for i in self.identities[contact.pk] if i.kind == kind)
            return allowed == (c.op == "may_receive")
        if c.type == "event":
            since = self.now - dt.timedelta(days=c.days) if c.days else None
            happened = any(f.kind == c.kind and f.contact_id in self.history[contact.pk]
                           and (since is None or f.occurred_at >= since) for f in self.facts)
            return happened == (c.op in ("within", "ever"))
        raise AssertionError(c)
