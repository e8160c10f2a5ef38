import json

from django.test import Client

from musubi.contacts import services
from musubi.contacts.models import Segment
from musubi.workspaces import services as workspaces
from musubi.workspaces.choices import Role
from musubi.workspaces.models import AuditEntry

VIP = {"match": "all", "conditions": [{"type": "tag", "op": "has", "tag": "VIP"}]}


def call(key, method, path, body=None):
    return getattr(Client(), method)(path, data=None if body is None else json.dumps(body),
                                     content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def person(workspace, email, tags=()):
    contact, _ = services.find_or_create_contact(workspace=workspace, addresses=services.normalise(email=email))
    services.tag(workspace=workspace, contact=contact, names=list(tags))
    return contact


def test_a_segment_is_saved_counted_listed_changed_and_deleted(owner_key, workspace):
    regular = person(workspace, "a@example.jp", ["VIP"])
    person(workspace, "b@example.jp")
    created = call(owner_key, "post", "/api/v1/segments", {"name": "常連さん", "definition": VIP})
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert created.json()["definition"] == VIP
    assert call(owner_key, "get", f"/api/v1/segments/{segment_id}/count").json() == {"count": 1}
    members = call(owner_key, "get", f"/api/v1/segments/{segment_id}/contacts").json()
    assert [(c["id"], c["tags"]) for c in members["results"]] == [(regular.pk, ["VIP"])]
    assert [s["name"] for s in call(owner_key, "get", "/api/v1/segments").json()["results"]] == ["常連さん"]

    everyone = call(owner_key, "patch", f"/api/v1/segments/{segment_id}", {"definition": {"conditions": []}})
    assert everyone.status_code == 200 and everyone.json()["name"] == "常連さん"
    assert call(owner_key, "get", f"/api/v1/segments/{segment_id}/count").json() == {"count": 2}
    assert call(owner_key, "delete", f"/api/v1/segments/{segment_id}").status_code == 204
    assert call(owner_key, "get", f"/api/v1/segments/{segment_id}").status_code == 404
    assert list(AuditEntry.objects.filter(action__startswith="segment.").values_list("action", flat=True)
                .order_by("pk")) == ["segment.created", "segment.updated", "segment.deleted"]


def test_an_unsaved_definition_is_counted_for_a_preview_without_saving_anything(owner_key, workspace):
    person(workspace, "a@example.jp", ["VIP"])
    response = call(owner_key, "post", "/api/v1/segments/count", VIP)
    assert response.status_code == 200 and response.json() == {"count": 1}
    assert not Segment.objects.exists()


def test_members_are_paged(owner_key, workspace):
    for n in range(5):
        person(workspace, f"p{n}@example.jp", ["VIP"])
    segment = services.create_segment(workspace=workspace, actor=workspaces.SYSTEM, name="x", definition=VIP)
    first = call(owner_key, "get", f"/api/v1/segments/{segment.pk}/contacts?page_size=3").json()
    second = Client().get(first["next"], HTTP_AUTHORIZATION=f"Bearer {owner_key}").json()
    ids = [c["id"] for c in first["results"] + second["results"]]
    assert len(ids) == 5 == len(set(ids))


def test_a_bad_definition_is_a_400_naming_the_path_and_saves_nothing(owner_key, workspace):
    bad = {"conditions": [{"type": "tag", "op": "has", "tag": "VIP"}, {"type": "weather"},
                          {"type": "event", "kind": "link.clicked", "op": "within", "days": 0}]}
    response = call(owner_key, "post", "/api/v1/segments", {"name": "x", "definition": bad})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"definition.conditions.1.type", "definition.conditions.2.days"}
    preview = call(owner_key, "post", "/api/v1/segments/count", bad)
    assert set(preview.json()["error"]["fields"]) == {"conditions.1.type", "conditions.2.days"}
    nested = {"conditions": [{"type": "group", "match": "any", "conditions": [
        {"type": "group", "match": "all", "conditions": [{"type": "tag", "op": "has", "tag": "VIP"}]}]}]}
    assert list(call(owner_key, "post", "/api/v1/segments/count", nested).json()["error"]["fields"]) == [
        "conditions.0.conditions.0.type"]
    assert call(owner_key, "post", "/api/v1/segments", {"name": "x", "definition": VIP, "colour": 1}
                ).json()["error"]["fields"] == {"colour": "Extra inputs are not permitted"}
    assert not Segment.objects.exists()


def test_a_taken_name_is_a_409_and_a_bad_patch_changes_nothing(owner_key, workspace):
    services.create_segment(workspace=workspace, actor=workspaces.SYSTEM, name="常連さん", definition=VIP)
    other = services.create_segment(workspace=workspace, actor=workspaces.SYSTEM, name="新規", definition=VIP)
    assert call(owner_key, "post", "/api/v1/segments", {"name": "常連さん", "definition": VIP}).status_code == 409
    assert call(owner_key, "patch", f"/api/v1/segments/{other.pk}", {"name": "常連さん"}).status_code == 409
    bad = call(owner_key, "patch", f"/api/v1/segments/{other.pk}",
               {"name": "y", "definition": {"conditions": [{"type": "tag", "op": "has", "tag": ""}]}})
    assert bad.status_code == 400
    other.refresh_from_db()
    assert other.name == "新規"


def test_viewers_count_but_only_managers_save(workspace):
    _key, viewer = workspaces.create_api_key(workspace=workspace, actor=workspaces.SYSTEM, name="v", role=Role.VIEWER)
    assert call(viewer, "post", "/api/v1/segments", {"name": "x", "definition": VIP}).status_code == 403
    assert call(viewer, "post", "/api/v1/segments/count", VIP).json() == {"count": 0}
    segment = services.create_segment(workspace=workspace, actor=workspaces.SYSTEM, name="x", definition=VIP)
    assert call(viewer, "delete", f"/api/v1/segments/{segment.pk}").status_code == 403
    assert call(viewer, "patch", f"/api/v1/segments/{segment.pk}", {"name": "y"}).status_code == 403
    assert Segment.objects.get().name == "x"


def test_the_openapi_document_describes_each_kind_of_condition(owner_key):
    schema = Client().get("/api/v1/openapi.json").json()["components"]["schemas"]
    mapping = schema["Definition"]["properties"]["conditions"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == {"tag", "field", "stage", "source", "consent", "event", "group"}
    assert "order.paid" in schema["EventKind"]["enum"]
    assert schema["EventCondition"]["properties"]["days"]["anyOf"][0]["maximum"] == 3650
