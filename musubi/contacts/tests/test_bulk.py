"""``bulk.add_many`` must leave exactly what ``bulk.add_one`` leaves, person after person."""

import datetime as dt
import json
from collections import Counter

import pytest
from django.db import connection

from musubi.contacts import activity, bulk, services, staged
from musubi.contacts.models import Activity, ConsentRecord, Contact, ContactTag, Identity
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.kernel.facts import record_fact
from musubi.kernel.models import Fact

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's")
SOURCE = 77
# The known contacts are made at BEFORE, the people added at NOW; one of them had already consented LATER (a
# fact recorded ahead of its time), so the summary's first and last times both have something to merge.
BEFORE, NOW = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=3)


def person(email=None, phone=None, line=None, name="", fields=None, tags=()):
    return bulk.Person(addresses=services.normalise(email=email, phone=phone, line_user_id=line), name=name,
                       fields=fields or {}, tags=tuple(tags))


LINE_A, LINE_B = "U" + "a" * 32, "U" + "b" * 32
PEOPLE = [
    person("new1@example.jp", name="新規 一郎", tags=["VIP"]),
    person("known@example.jp", phone="090-0000-0001", name="既知さん", fields={"rank": "gold"}),  # fills a name
    person("named@example.jp", name="別の名前", fields={"memo": "上書き"}),  # keeps the known name
    person("ichi@example.jp", phone="090-0000-0002", name="二人を一人に", tags=["常連"]),  # joins two contacts
    person(line=LINE_A, name="LINEの人"),  # belongs to a contact merged just above
    person("new2@example.jp", phone="080-1234-5678", line=LINE_B, tags=["VIP", "新規"]),
    person(phone="090-0000-0003", name="電話だけ", tags=["既存タグ"]),  # already tagged
    person("new3@example.jp", fields={"rank": "silver"}),
]


def existing(workspace):
    with clock.frozen(BEFORE):
        _existing(workspace)


def _existing(workspace):
    def make(**addresses):
        name = addresses.pop("name", "")
        contact, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(**addresses),
                                                     name=name)
        return contact

    make(email="known@example.jp")
    named = make(email="named@example.jp", name="登録済み")
    named.fields = {"memo": "元", "age": "40"}
    named.save()
    make(email="ichi@example.jp")
    make(phone="090-0000-0002", line_user_id=LINE_A)
    tagged = make(phone="090-0000-0003")
    services.tag(workspace=workspace, contact=tagged, names=["既存タグ"])
    record_fact(workspace_id=workspace.pk, kind="consent.granted", contact_id=tagged.pk, occurred_at=LATER)


def snapshot(workspace):
    order = {pk: n for n, pk in enumerate(Contact.objects.for_workspace(workspace).order_by("pk")
                                          .values_list("pk", flat=True))}

    def o(pk):
        return None if pk is None else order[pk]

    return {
        "contacts": [(o(c.pk), c.name, c.stage, c.fields, c.first_source_id, c.last_source_id, o(c.merged_into_id))
                     for c in Contact.objects.for_workspace(workspace).order_by("pk")],
        "identities": sorted((o(i.contact_id), i.kind, i.value) for i in Identity.objects.for_workspace(workspace)),
        "tags": sorted((o(t.contact_id), t.tag.name) for t in ContactTag.objects.for_workspace(workspace)),
        "consents": sorted((o(c.contact_id), c.channel, c.address, c.basis, c.granted, c.source_id)
                           for c in ConsentRecord.objects.for_workspace(workspace)),
        "facts": Counter((f.kind, o(f.contact_id), f.source_id, f.subject_type, str(sorted(
            (k, o(v) if k == "merged" else v) for k, v in f.data.items())))
            for f in Fact.objects.for_workspace(workspace)),
        "activity": sorted((o(a.contact_id), a.kind, a.first_at, a.last_at)
                           for a in Activity.objects.filter(workspace=workspace)),
    }


def add_one_by_one(workspace, people, **options):
    with clock.frozen(NOW):
        for p in people:
            bulk.add_one(workspace=workspace, person=p, **options)


def test_many_at_once_leaves_exactly_what_one_by_one_leaves(workspace, other_workspace):
    existing(workspace)
    existing(other_workspace)
    add_one_by_one(workspace, PEOPLE, basis="written_notice", source_id=SOURCE, tags=["展示会"])
    with clock.frozen(NOW):
        added = bulk.add_many(workspace=other_workspace, people=PEOPLE, basis="written_notice", source_id=SOURCE,
                              tags=["展示会"])

    one_by_one, at_once = snapshot(workspace), snapshot(other_workspace)
    assert at_once == one_by_one
    assert (added.created, added.matched) == (3, 5)
    # The file really was varied: a merge happened, a name was filled, a known name kept, a tag already there.
    assert sum(1 for c in at_once["contacts"] if c[6] is not None) == 1
    assert at_once["facts"][("contact.merged", 2, None, "", str([("merged", 3)]))] == 1
    assert ("登録済み" in {c[1] for c in at_once["contacts"]}) and ("既知さん" in {c[1] for c in at_once["contacts"]})


def test_people_of_one_call_may_not_share_an_address(workspace):
    with pytest.raises(ValueError, match="share an address"):
        bulk.add_many(workspace=workspace, people=[person("a@example.jp"), person("a@example.jp", phone="0312345678")],
                      basis="consent", source_id=None)


def test_an_unknown_basis_is_refused_and_nothing_is_written(workspace):
    with pytest.raises(InvalidInput) as refused:
        bulk.add_many(workspace=workspace, people=[person("a@example.jp")], basis="maybe", source_id=None)
    assert set(refused.value.fields) == {"basis"}
    assert not Contact.objects.exists()


def test_other_workspaces_addresses_are_not_found(workspace, other_workspace):
    services.find_or_create_contact(workspace=other_workspace, addresses=services.normalise(email="a@example.jp"))
    added = bulk.add_many(workspace=workspace, people=[person("a@example.jp")], basis="consent", source_id=None)
    assert (added.created, added.matched) == (1, 0)


def stage(people, table="_test_people"):
    """``people`` as rows of a temporary table, as an import hands them to ``staged.add_staged``."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (line bigint, email text, phone text, line_user_id text, "
                       "name text, fields jsonb, tags text) ON COMMIT DROP")
        cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s)", [  # noqa: S608
            (n, p.addresses.email, p.addresses.phone, p.addresses.line_user_id, p.name, json.dumps(p.fields),
             "\n".join(p.tags)) for n, p in enumerate(people, start=2)])
    return table


@postgresql_only
def test_staged_in_sql_leaves_exactly_what_one_by_one_leaves(workspace, other_workspace):
    existing(workspace)
    existing(other_workspace)
    add_one_by_one(workspace, PEOPLE, basis="written_notice", source_id=SOURCE, tags=["展示会"])
    with clock.frozen(NOW):
        added = staged.add_staged(workspace=other_workspace, people=stage(PEOPLE), basis="written_notice",
                                  source_id=SOURCE, tags=["展示会"])

    at_once = snapshot(other_workspace)
    assert at_once == snapshot(workspace)
    assert (added.created, added.matched) == (3, 5)
    # The summary rows the writer folded in itself, merged with those already there, are what the facts give.
    summary = {(kind, first, last) for _contact, kind, first, last in at_once["activity"]}
    assert {("contact.tagged", BEFORE, NOW), ("consent.granted", NOW, LATER), ("consent.granted", NOW, NOW)} <= summary
    activity.rebuild(workspace_id=other_workspace.pk)
    assert snapshot(other_workspace)["activity"] == at_once["activity"]
    # The trigger is back for whatever the same transaction records next.
    someone = Contact.objects.for_workspace(other_workspace).filter(merged_into=None).earliest("pk")
    record_fact(workspace_id=other_workspace.pk, kind="order.paid", contact_id=someone.pk, occurred_at=LATER)
    assert Activity.objects.filter(workspace=other_workspace, contact_id=someone.pk, kind="order.paid").exists()


@postgresql_only
def test_staged_people_of_one_known_contact_fill_its_name_and_fields_in_order(workspace, other_workspace):
    # Two people, by different addresses, turn out to be the same known contact: the first name given fills
    # its empty name, and the later person's custom field wins, as one after another.
    people = [person("a@example.jp", fields={"rank": "silver", "memo": "一"}),
              person(phone="090-1111-2222", name="二番目", fields={"rank": "gold"}, tags=["VIP"]),
              person(phone="090-3333-4444", name="三番目", tags=["VIP"])]
    for ws in (workspace, other_workspace):
        with clock.frozen(BEFORE):
            services.find_or_create_contact(workspace=ws, addresses=services.normalise(
                email="a@example.jp", phone="090-1111-2222"))
            services.find_or_create_contact(workspace=ws, addresses=services.normalise(phone="090-3333-4444"),
                                            name="既存")
    add_one_by_one(workspace, people, basis="consent", source_id=None)
    with clock.frozen(NOW):
        added = staged.add_staged(workspace=other_workspace, people=stage(people), basis="consent", source_id=None)

    at_once = snapshot(other_workspace)
    assert at_once == snapshot(workspace)
    assert (added.created, added.matched) == (0, 3)
    assert [(c[1], c[3]) for c in at_once["contacts"]] == [("二番目", {"rank": "gold", "memo": "一"}), ("既存", {})]
    assert sum(1 for kind, *_rest in at_once["facts"].elements() if kind == "contact.tagged") == 2
