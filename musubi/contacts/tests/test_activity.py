"""The per-person summary of facts (``Activity``) that the database keeps with triggers, on SQLite and on
PostgreSQL alike, and its rebuild from the facts."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from musubi.contacts import activity, services
from musubi.contacts.choices import EventKind
from musubi.contacts.models import Activity, Contact
from musubi.contacts.tests.populations import NOW, populate
from musubi.kernel.facts import record_fact
from musubi.kernel.models import Fact


def person(workspace, email):
    return services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email=email))[0]


def rows(workspace):
    return {(a.contact_id, a.kind): (a.first_at, a.last_at) for a in Activity.objects.filter(workspace=workspace)}


def test_every_kind_a_segment_asks_about_is_summarised_under_its_contact(workspace):
    contact = person(workspace, "a@example.jp")
    Activity.objects.filter(workspace=workspace).delete()  # what the opt-in itself recorded
    for kind in EventKind.values:
        record_fact(workspace_id=workspace.pk, kind=kind, contact_id=contact.pk, occurred_at=NOW)
    assert rows(workspace) == {(contact.pk, kind): (NOW, NOW) for kind in EventKind.values}


def test_the_first_and_the_last_time_are_kept_whatever_order_facts_arrive_in(workspace):
    contact = person(workspace, "a@example.jp")
    for days in (5, 9, 1, 3):
        record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=contact.pk,
                    occurred_at=NOW - dt.timedelta(days=days))
    assert rows(workspace)[(contact.pk, "order.paid")] == (NOW - dt.timedelta(days=9), NOW - dt.timedelta(days=1))


def test_facts_without_a_contact_of_other_kinds_or_naming_another_workspaces_contact_are_left_out(
        workspace, other_workspace):
    contact = person(workspace, "a@example.jp")
    stranger = person(other_workspace, "b@example.jp")
    before = rows(workspace)
    record_fact(workspace_id=workspace.pk, kind="link.clicked", contact_id=None, occurred_at=NOW)
    record_fact(workspace_id=workspace.pk, kind="message.sent", contact_id=contact.pk, occurred_at=NOW)
    record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=stranger.pk, occurred_at=NOW)
    record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=10**12, occurred_at=NOW)
    assert rows(workspace) == before
    assert not Activity.objects.filter(contact_id=stranger.pk, kind="order.paid").exists()


def test_merging_hands_a_records_rows_to_the_survivor_and_later_facts_about_it_go_there_too(workspace):
    first = person(workspace, "a@example.jp")
    second = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(phone="09012345678"))[0]
    record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=first.pk, occurred_at=NOW)
    record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=second.pk,
                occurred_at=NOW - dt.timedelta(days=2))
    record_fact(workspace_id=workspace.pk, kind="coupon.redeemed", contact_id=second.pk, occurred_at=NOW)
    services.find_or_create_contact(workspace=workspace,
                                    addresses=services.normalise(email="a@example.jp", phone="09012345678"))
    assert Contact.objects.get(pk=second.pk).merged_into_id == first.pk
    record_fact(workspace_id=workspace.pk, kind="email.opened", contact_id=second.pk, occurred_at=NOW)
    summary = rows(workspace)
    assert not [key for key in summary if key[0] == second.pk]
    assert summary[(first.pk, "order.paid")] == (NOW - dt.timedelta(days=2), NOW)
    assert summary[(first.pk, "coupon.redeemed")] == (NOW, NOW)
    assert summary[(first.pk, "email.opened")] == (NOW, NOW)


def test_a_rebuild_gives_back_exactly_the_rows_the_triggers_kept(workspace, other_workspace):
    populate(workspace, seed=3)
    populate(other_workspace, seed=4)
    kept, theirs = rows(workspace), rows(other_workspace)
    assert kept
    Activity.objects.filter(workspace=workspace).delete()
    Fact.objects.create(workspace_id=workspace.pk, kind="order.paid", occurred_at=NOW, contact_id=None)
    assert activity.rebuild(workspace_id=workspace.pk) == len(kept)
    assert (rows(workspace), rows(other_workspace)) == (kept, theirs)


def test_the_command_rebuilds_one_workspace_or_all(workspace, other_workspace, capsys):
    populate(workspace, seed=5)
    populate(other_workspace, seed=6)
    kept, theirs = rows(workspace), rows(other_workspace)
    Activity.objects.all().delete()
    call_command("rebuild_activity", workspace=workspace.slug)
    assert (rows(workspace), rows(other_workspace)) == (kept, {})
    call_command("rebuild_activity")
    assert (rows(workspace), rows(other_workspace)) == (kept, theirs)
    assert f"{workspace.slug}: {len(kept)} rows" in capsys.readouterr().out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL has a set-based writer")
def test_the_trigger_stands_aside_only_while_a_writer_says_so(workspace):
    contact = person(workspace, "a@example.jp")

    def writer_says(value):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [activity.BY_WRITER_SETTING, value])

    with pytest.raises(RuntimeError), transaction.atomic():
        writer_says("on")
        record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=contact.pk, occurred_at=NOW)
        assert (contact.pk, "order.paid") not in rows(workspace)  # left to the writer
        raise RuntimeError("the writer failed")
    # Rolled back with the writer's work (as an error in staged.add_staged would be): the trigger is back.
    record_fact(workspace_id=workspace.pk, kind="coupon.redeemed", contact_id=contact.pk, occurred_at=NOW)
    assert rows(workspace)[(contact.pk, "coupon.redeemed")] == (NOW, NOW)
    writer_says("on")
    record_fact(workspace_id=workspace.pk, kind="email.opened", contact_id=contact.pk, occurred_at=NOW)
    writer_says("off")
    record_fact(workspace_id=workspace.pk, kind="email.clicked", contact_id=contact.pk, occurred_at=NOW)
    assert {kind for _contact, kind in rows(workspace)} >= {"coupon.redeemed", "email.clicked"}
    assert not {"order.paid", "email.opened"} & {kind for _contact, kind in rows(workspace)}
