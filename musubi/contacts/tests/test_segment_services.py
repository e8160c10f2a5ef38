import pytest

from musubi.contacts import services
from musubi.contacts.models import Contact, Segment
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from musubi.workspaces.choices import Role
from musubi.workspaces.models import AuditEntry
from musubi.workspaces.services import SYSTEM, Actor

VIP = {"conditions": [{"type": "tag", "op": "has", "tag": "VIP"}]}
CLICKED = {"type": "event", "kind": "link.clicked", "op": "within", "days": 30}


def person(workspace, email, *, tags=()):
    contact, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email=email))
    if tags:
        services.tag(workspace=workspace, contact=contact, names=list(tags))
    return contact


def test_a_saved_segment_counts_who_is_in_it_now(workspace):
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name=" 常連さん ", definition=VIP)
    assert segment.name == "常連さん"
    assert services.count(workspace=workspace, segment=segment) == 0
    regular = person(workspace, "a@example.jp", tags=["VIP"])
    person(workspace, "b@example.jp")
    assert services.count(workspace=workspace, segment=segment) == 1
    assert list(services.members(workspace=workspace, segment=segment)) == [regular]


def test_creating_changing_and_deleting_a_segment_is_in_the_audit_log(workspace, owner):
    actor = Actor(role=Role.OWNER, user=owner)
    segment = services.create_segment(workspace=workspace, actor=actor, name="常連さん", definition=VIP)
    changed = {"match": "all", "conditions": [*VIP["conditions"], CLICKED]}
    services.update_segment(workspace=workspace, actor=actor, segment_id=segment.pk, name="常連さん",
                            definition=changed)
    services.update_segment(workspace=workspace, actor=actor, segment_id=segment.pk, definition=changed)  # no change
    services.delete_segment(workspace=workspace, actor=actor, segment_id=segment.pk)
    entries = list(AuditEntry.objects.filter(workspace=workspace, action__startswith="segment.").order_by("pk"))
    assert [e.action for e in entries] == ["segment.created", "segment.updated", "segment.deleted"]
    assert entries[1].changes == {"definition": [{"match": "all", "conditions": VIP["conditions"]}, changed]}
    assert all(e.actor_user == owner for e in entries)
    assert not Segment.objects.exists()


def test_a_bad_definition_saves_nothing_and_changes_nothing(workspace):
    bad = {"conditions": [CLICKED, {**CLICKED, "days": 0}]}
    with pytest.raises(InvalidInput) as caught:
        services.create_segment(workspace=workspace, actor=SYSTEM, name="x", definition=bad)
    assert list(caught.value.fields) == ["conditions.1.days"]
    assert not Segment.objects.exists()
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name="x", definition=VIP)
    with pytest.raises(InvalidInput):
        services.update_segment(workspace=workspace, actor=SYSTEM, segment_id=segment.pk, name="y", definition=bad)
    segment.refresh_from_db()
    assert (segment.name, segment.definition) == ("x", {"match": "all", "conditions": VIP["conditions"]})
    assert not AuditEntry.objects.filter(action="segment.updated").exists()


def test_names_are_unique_per_workspace_and_required(workspace, other_workspace):
    services.create_segment(workspace=workspace, actor=SYSTEM, name="常連さん", definition=VIP)
    services.create_segment(workspace=other_workspace, actor=SYSTEM, name="常連さん", definition=VIP)
    with pytest.raises(Conflict) as caught:
        services.create_segment(workspace=workspace, actor=SYSTEM, name="常連さん ", definition={})
    assert list(caught.value.fields) == ["name"]
    for name in ("", "  ", "x" * 201):
        with pytest.raises(InvalidInput):
            services.create_segment(workspace=workspace, actor=SYSTEM, name=name, definition={})
    assert Segment.objects.filter(workspace=workspace).count() == 1


def test_only_owners_change_segments_and_everyone_may_count(workspace, teammate):
    staff = Actor(role=Role.STAFF, user=teammate)
    with pytest.raises(Forbidden):
        services.create_segment(workspace=workspace, actor=staff, name="x", definition=VIP)
    segment = services.create_segment(workspace=workspace, actor=SYSTEM, name="x", definition=VIP)
    for attempt in (lambda: services.update_segment(workspace=workspace, actor=staff, segment_id=segment.pk, name="y"),
                    lambda: services.delete_segment(workspace=workspace, actor=staff, segment_id=segment.pk)):
        with pytest.raises(Forbidden):
            attempt()
    assert Segment.objects.get().name == "x"
    assert services.count(workspace=workspace, segment=segment) == 0


def test_another_workspaces_segment_is_not_found_and_its_people_are_not_counted(workspace, other_workspace):
    theirs = services.create_segment(workspace=other_workspace, actor=SYSTEM, name="x", definition={})
    person(other_workspace, "a@example.jp")
    with pytest.raises(NotFound):
        services.update_segment(workspace=workspace, actor=SYSTEM, segment_id=theirs.pk, name="y")
    with pytest.raises(NotFound):
        services.delete_segment(workspace=workspace, actor=SYSTEM, segment_id=theirs.pk)
    with pytest.raises(NotFound):
        services.count(workspace=workspace, segment=theirs)
    assert services.count(workspace=workspace, definition={}) == 0
    assert Contact.objects.count() == 1
