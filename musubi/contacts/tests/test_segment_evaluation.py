"""Segments evaluated by the database agree with a plain-Python oracle, on generated populations (run on
SQLite and on PostgreSQL: the suite runs on both)."""

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from musubi.contacts import services
from musubi.contacts.choices import Channel
from musubi.contacts.models import ConsentRecord, Contact, Identity
from musubi.contacts.tests.populations import NOW, Oracle, populate, random_condition, random_definition
from musubi.kernel.models import Fact
from musubi.workspaces import services as workspaces


def person(workspace, email):
    return services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email=email))[0]


@pytest.fixture
def population(workspace, other_workspace):
    populate(workspace, seed=1)
    populate(other_workspace, seed=2)  # another business's people, who must never appear
    return Oracle(workspace, now=NOW)


@pytest.mark.parametrize("seed", range(6))
def test_random_definitions_find_exactly_the_oracles_people(population, workspace, seed):
    rng = random.Random(seed)
    for _ in range(40):
        definition = random_definition(rng)
        found = set(services.members(workspace=workspace, definition=definition, now=NOW).values_list("pk", flat=True))
        assert found == population.members(definition), definition


def test_every_kind_of_condition_alone_matches_the_oracle_and_splits_the_population(population, workspace):
    rng = random.Random(7)
    for _ in range(150):
        condition = random_condition(rng)
        definition = {"conditions": [condition]}
        found = set(services.members(workspace=workspace, definition=definition, now=NOW).values_list("pk", flat=True))
        assert found == population.members(definition), condition


@pytest.mark.parametrize("channel", Channel.values)
def test_may_receive_marketing_agrees_with_the_per_contact_function(population, workspace, channel):
    may = set(services.members(workspace=workspace, definition={"conditions": [
        {"type": "consent", "channel": channel, "op": "may_receive"}]}, now=NOW).values_list("pk", flat=True))
    may_not = set(services.members(workspace=workspace, definition={"conditions": [
        {"type": "consent", "channel": channel, "op": "may_not_receive"}]}, now=NOW).values_list("pk", flat=True))
    kind = {"email": "email", "line": "line", "sms": "phone"}[channel]
    live = Contact.objects.filter(workspace=workspace, merged_into=None, erased_at=None)
    expected = {c.pk for c in live if any(
        services.marketing_allowed(workspace=workspace, contact=c, channel=channel, address=i.value)
        for i in Identity.objects.filter(contact=c, kind=kind))}
    assert may == expected
    assert may_not == {c.pk for c in live} - expected
    assert may and may_not  # the population has both kinds, so the comparison means something


def test_a_consent_given_before_a_merge_counts_for_the_survivor_and_a_later_withdrawal_beats_it(workspace):
    line_id = "U" + "ab" * 16
    older, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email="a@example.jp"))
    friend, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(line_user_id=line_id))
    services.record_consent(workspace=workspace, contact=friend, channel="line", address=line_id)
    survivor, _ = services.find_or_create_contact(
        workspace=workspace, addresses=services.normalise(email="a@example.jp", line_user_id=line_id))
    assert survivor.pk == older.pk  # the friend was merged into the older record
    line = {"conditions": [{"type": "consent", "channel": "line", "op": "may_receive"}]}
    assert list(services.members(workspace=workspace, definition=line).values_list("pk", flat=True)) == [older.pk]
    services.record_consent(workspace=workspace, contact=survivor, channel="line", address=line_id, granted=False)
    assert services.count(workspace=workspace, definition=line) == 0
    assert ConsentRecord.objects.filter(contact=friend).count() == 1


def test_events_of_records_merged_into_a_person_are_theirs_and_merged_records_are_never_members(workspace):
    first, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email="a@example.jp"))
    second, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(phone="09012345678"))
    Fact.objects.create(workspace_id=workspace.pk, kind="coupon.redeemed", occurred_at=NOW, contact_id=second.pk)
    redeemed = {"conditions": [{"type": "event", "kind": "coupon.redeemed", "op": "ever"}]}
    assert list(services.members(workspace=workspace, definition=redeemed).values_list("pk", flat=True)) == [second.pk]
    services.find_or_create_contact(workspace=workspace,
                                    addresses=services.normalise(email="a@example.jp", phone="09012345678"))
    assert list(services.members(workspace=workspace, definition=redeemed).values_list("pk", flat=True)) == [first.pk]
    never = {"conditions": [{"type": "event", "kind": "coupon.redeemed", "op": "never"}]}
    assert services.count(workspace=workspace, definition=never) == 0
    inside_or = {"match": "any", "conditions": [redeemed["conditions"][0], {"type": "stage", "op": "is",
                                                                              "stage": "back_customer"}]}
    assert list(services.members(workspace=workspace, definition=inside_or).values_list("pk", flat=True)) == [first.pk]


def test_erased_people_are_never_members(workspace):
    contact = person(workspace, "a@example.jp")
    services.tag(workspace=workspace, contact=contact, names=["VIP"])
    tagged = {"conditions": [{"type": "event", "kind": "contact.tagged", "op": "ever"}]}
    assert (services.count(workspace=workspace, definition={}), services.count(workspace=workspace, definition=tagged)
            ) == (1, 1)
    services.erase(workspace=workspace, actor=workspaces.SYSTEM, contact_id=contact.pk)
    assert (services.count(workspace=workspace, definition={}), services.count(workspace=workspace, definition=tagged)
            ) == (0, 0)
    assert Fact.objects.filter(kind="contact.tagged", contact_id=contact.pk).exists()  # the history stays


def test_within_counts_a_fact_exactly_n_days_old_and_not_one_a_second_older(workspace):
    contact = person(workspace, "a@example.jp")
    Fact.objects.create(workspace_id=workspace.pk, kind="link.clicked", occurred_at=NOW - dt.timedelta(days=30),
                        contact_id=contact.pk)
    within = {"conditions": [{"type": "event", "kind": "link.clicked", "op": "within", "days": 30}]}
    assert services.count(workspace=workspace, definition=within, now=NOW) == 1
    assert services.count(workspace=workspace, definition=within, now=NOW + dt.timedelta(seconds=1)) == 0


def test_a_multiple_choice_answer_is_looked_into_and_a_text_is_not_taken_for_a_list(workspace):
    contact = person(workspace, "a@example.jp")
    text = person(workspace, "b@example.jp")
    Contact.objects.filter(pk=contact.pk).update(fields={"likes": ["唐揚げ", "ビール"], "memo": "唐揚げが好き"})
    Contact.objects.filter(pk=text.pk).update(fields={"likes": "唐揚げ"})

    def who(op, key, value=None):
        condition = {"type": "field", "key": key, "op": op, **({"value": value} if value else {})}
        return set(services.members(workspace=workspace, definition={"conditions": [condition]})
                   .values_list("pk", flat=True))

    assert who("includes", "likes", "唐揚げ") == {contact.pk}
    assert who("includes", "likes", "唐") == set()
    assert who("equals", "likes", "唐揚げ") == {text.pk}
    assert who("contains", "memo", "好き") == {contact.pk}
    assert who("is_not_set", "memo") == {text.pk}


def test_a_count_is_one_query_whatever_the_definition(population, workspace):
    definition = {"match": "any", "conditions": [random_condition(random.Random(n)) for n in range(12)]}
    with CaptureQueriesContext(connection) as queries:
        services.count(workspace=workspace, definition=definition, now=NOW)
    assert len(queries) == 1


def tags_and_events(rng):
    """A definition of tags and events ANDed at the top: what ``count`` takes as sets of ids."""
    conditions = [random_condition(rng, leaf_only=True) for _ in range(rng.randrange(12))]
    return {"match": "all", "conditions": [c for c in conditions if c["type"] in ("tag", "event")][:4]}


@pytest.mark.parametrize("seed", range(3))
def test_counts_of_tags_and_events_anded_match_the_oracle(population, workspace, seed):
    rng = random.Random(seed)
    for _ in range(40):
        definition = tags_and_events(rng)
        assert services.count(workspace=workspace, definition=definition, now=NOW) == len(
            population.members(definition)), definition


def test_counts_of_every_other_definition_match_the_oracle(population, workspace):
    rng = random.Random(11)
    for _ in range(60):
        definition = random_definition(rng)
        assert services.count(workspace=workspace, definition=definition, now=NOW) == len(
            population.members(definition)), definition


def test_a_count_of_tags_and_events_never_reads_the_contact_rows_beyond_those_never_members(workspace):
    definition = {"conditions": [{"type": "tag", "op": "has", "tag": "VIP"},
                                 {"type": "event", "kind": "order.paid", "op": "never"}]}
    with CaptureQueriesContext(connection) as queries:
        services.count(workspace=workspace, definition=definition, now=NOW)
    (sql,) = [q["sql"] for q in queries]
    assert "INTERSECT" not in sql and sql.count("EXCEPT") == 2
    assert "merged_into_id\" IS NOT NULL OR" in sql
