import datetime as dt

import pytest
from django.test import Client

from musubi.api.errors import field_path
from musubi.kernel.facts import record_fact
from musubi.workspaces import services
from musubi.workspaces.choices import Role
from musubi.workspaces.models import AuditEntry, Workspace


def api(key, method, path, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else __import__("json").dumps(body))
    return getattr(Client(), method)(path, data=data, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_key_reads_its_workspace(owner_key, workspace):
    response = api(owner_key, "get", "/api/v1/workspace")
    assert response.status_code == 200
    assert response.json() == {"slug": "kenko", "name": "すこやか健康食品店", "timezone": "Asia/Tokyo",
                               "currency": "JPY", "country": "JP"}


def test_patching_the_workspace_changes_it_and_audits_the_key(owner_key, workspace):
    response = api(owner_key, "patch", "/api/v1/workspace", {"name": "すこやか本舗"})
    assert response.status_code == 200 and response.json()["name"] == "すこやか本舗"
    entry = AuditEntry.objects.get(action="workspace.updated")
    assert entry.actor_api_key is not None and entry.actor_user is None


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": 42}, "name"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"name": "x" * 201}, "name"),
])
def test_invalid_input_is_a_400_naming_the_field_and_changes_nothing(owner_key, workspace, body, field):
    response = api(owner_key, "patch", "/api/v1/workspace", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert Workspace.objects.get(pk=workspace.pk).name == "すこやか健康食品店"


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "\"text\"", ""])
def test_a_body_that_is_not_a_json_object_is_a_400_not_a_500(owner_key, workspace, raw):
    response = api(owner_key, "patch", "/api/v1/workspace", raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("query", ["page_size=abc", "cursor=%%%not-a-cursor", "since=yesterday", "contact_id=x"])
def test_bad_query_parameters_are_a_400_naming_the_parameter(owner_key, workspace, query):
    response = api(owner_key, "get", f"/api/v1/facts?{query}")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [query.split("=")[0]]


def test_a_staff_key_may_read_but_not_administer(workspace):
    _key, secret = services.create_api_key(workspace=workspace, actor=services.SYSTEM, name="counter", role=Role.STAFF)
    assert api(secret, "get", "/api/v1/workspace").status_code == 200
    for method, path in (("get", "/api/v1/api-keys"), ("patch", "/api/v1/workspace"), ("get", "/api/v1/audit-log")):
        response = api(secret, method, path, {"name": "x"} if method == "patch" else None)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"


def test_a_revoked_key_stops_working_at_once(owner_key, workspace):
    key_id = api(owner_key, "get", "/api/v1/api-keys").json()["results"][0]["id"]
    assert api(owner_key, "delete", f"/api/v1/api-keys/{key_id}").status_code == 200
    assert api(owner_key, "get", "/api/v1/workspace").status_code == 401


def test_a_refused_key_and_an_unreadable_body_are_explained_in_the_readers_language(owner_key, workspace):
    refused = Client().get("/api/v1/workspace", HTTP_AUTHORIZATION="Bearer wrong", HTTP_ACCEPT_LANGUAGE="ja")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
    assert "APIキー" in refused.json()["error"]["message"]
    english = Client().get("/api/v1/workspace", HTTP_AUTHORIZATION="Bearer wrong", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["error"]["message"] == "Send a valid API key as 'Authorization: Bearer <key>'."
    unreadable = Client().patch("/api/v1/workspace", data="{not json", content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {owner_key}", HTTP_ACCEPT_LANGUAGE="ja")
    assert unreadable.status_code == 400 and "JSON" in unreadable.json()["error"]["message"]
    assert unreadable.json()["error"]["message"] != "The request body must be a JSON object."


def test_facts_page_newest_first_with_a_stable_cursor(owner_key, workspace):
    for i in range(7):
        record_fact(workspace_id=workspace.pk, kind="click" if i % 2 else "optin", data={"i": i})
    seen, url = [], "/api/v1/facts?page_size=3"
    while url:
        page = api(owner_key, "get", url).json()
        seen += [fact["data"]["i"] for fact in page["results"]]
        url = page["next"]
        # A fact recorded while paging must not shift or repeat what the cursor already returned.
        record_fact(workspace_id=workspace.pk, kind="late", data={"i": 100 + len(seen)})
    assert seen == [6, 5, 4, 3, 2, 1, 0]


def test_facts_filter_by_kind(owner_key, workspace):
    for kind in ("click", "optin", "click"):
        record_fact(workspace_id=workspace.pk, kind=kind)
    results = api(owner_key, "get", "/api/v1/facts?kind=click").json()["results"]
    assert [fact["kind"] for fact in results] == ["click", "click"]


def test_the_openapi_document_declares_the_error_shape_and_bearer_auth(db):
    schema = Client().get("/api/v1/openapi.json").json()
    patch = schema["paths"]["/api/v1/workspace"]["patch"]
    assert patch["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize(("loc", "path"), [
    (["body", "payload", "backs", 0, "take_rate"], "backs.0.take_rate"),
    (["query", "limit"], "limit"),
    (["body", "payload"], "body"),
])
def test_error_locations_become_dotted_field_paths(loc, path):
    assert field_path(loc) == path


@pytest.mark.parametrize(("body", "field"), [
    ({"slug": "hacked"}, "slug"),
    ({"name": None}, "name"),
    ({"timezone": None}, "timezone"),
    ({"name": "ab\u0000c"}, "name"),
    ({"timezone": "Factory"}, "timezone"),
])
def test_unknown_fields_nulls_and_nul_characters_are_refused(owner_key, workspace, body, field):
    response = api(owner_key, "patch", "/api/v1/workspace", body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert Workspace.objects.get(pk=workspace.pk).slug == "kenko"


def test_unknown_paths_and_methods_answer_in_the_error_shape(owner_key, workspace):
    missing = api(owner_key, "get", "/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = api(owner_key, "post", "/api/v1/workspace", {})
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert set(wrong_method["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}


@pytest.mark.parametrize("size", ["0", "-1", "201"])
def test_page_size_must_be_between_1_and_200(owner_key, workspace, size):
    response = api(owner_key, "get", f"/api/v1/members?page_size={size}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["page_size"]


def test_the_api_docs_load_their_assets_from_this_server(db):
    page = Client().get("/api/v1/docs").content.decode()
    assert "cdn.jsdelivr.net" not in page and "/static/ninja/" in page


@pytest.mark.parametrize(("since", "expected"), [
    ("2026-11-22T09:00:00", [2]),  # no offset: Japan time, so 00:00 UTC
    ("2026-11-22T00:00:00Z", [2]),
    ("2026-11-22T09:00:01+09:00", []),
])
def test_since_reads_offsets_and_defaults_to_japan_time(owner_key, workspace, since, expected):
    record_fact(workspace_id=workspace.pk, kind="a", occurred_at=dt.datetime(2026, 11, 21, 23, 59, tzinfo=dt.UTC),
                data={"n": 1})
    record_fact(workspace_id=workspace.pk, kind="a", occurred_at=dt.datetime(2026, 11, 22, 0, 0, tzinfo=dt.UTC),
                data={"n": 2})
    results = api(owner_key, "get", f"/api/v1/facts?since={since.replace('+', '%2B')}").json()["results"]
    assert [fact["data"]["n"] for fact in results] == expected


@pytest.mark.parametrize("since", ["0042-02-22T16:01:12-22:59", "2026-01-01T00:00:00+15:00", "0.5", "1700000000"])
def test_impossible_times_are_a_400(owner_key, workspace, since):
    response = api(owner_key, "get", f"/api/v1/facts?since={since.replace('+', '%2B')}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["since"]
