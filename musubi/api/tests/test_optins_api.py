"""The API of capture points, submissions and coupons."""

import json

import pytest
from django.test import Client

from musubi.capture import services
from musubi.capture.models import Click, Redemption, Submission
from musubi.contacts.models import Contact
from musubi.kernel.models import Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

POINT = {"name": "API form", "wording": {"headline": "無料サンプル", "consent_text": "同意します",
                                           "purpose_text": "サンプル送付に使います", "sender_name": "株式会社すこやか",
                                           "questions": [{"key": "skin", "label": "肌質", "kind": "single",
                                                          "options": ["乾燥", "普通"], "required": True}]}}


def call(key, method, path, body=None):
    return getattr(Client(), method)(path, data=json.dumps(body) if body is not None else None,
                                     content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def definition_id(owner_key):
    response = call(owner_key, "post", "/api/v1/coupon-definitions",
                    {"name": "サンプル", "benefit": "サンプル1個", "cost": 120, "valid_days": 14})
    assert response.status_code == 201
    return response.json()["id"]


def test_a_developer_creates_a_form_sends_an_opt_in_and_redeems_the_coupon(owner_key, definition_id):
    created = call(owner_key, "post", "/api/v1/capture-points",
                   {**POINT, "incentive": "coupon", "coupon_id": definition_id})
    assert created.status_code == 201
    point = created.json()
    assert point["version"]["number"] == 1 and point["url"].endswith(f"/p/{point['code']}")
    sent = call(owner_key, "post", f"/api/v1/capture-points/{point['id']}/submissions",
                {"email": "a@example.jp", "name": "佐藤", "answers": {"skin": "乾燥"}, "consented": True,
                 "ip_address": "198.51.100.1", "version": 1})
    assert sent.status_code == 201 and sent.json()["status"] == "confirmed"
    code = sent.json()["coupon_code"]
    assert call(owner_key, "get", f"/api/v1/coupons/{code.lower()}").json()["usable"] is True
    assert call(owner_key, "post", "/api/v1/coupons/redeem", {"code": code}).status_code == 201
    again = call(owner_key, "post", "/api/v1/coupons/redeem", {"code": code})
    assert again.status_code == 409 and again.json()["error"]["code"] == "coupon_used_up"
    assert Redemption.objects.count() == 1


def test_a_bad_submission_is_a_400_naming_each_field(owner_key):
    point = call(owner_key, "post", "/api/v1/capture-points", POINT).json()
    response = call(owner_key, "post", f"/api/v1/capture-points/{point['id']}/submissions",
                    {"email": "nope", "name": "", "answers": {"skin": "脂性"}, "consented": False})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"email", "name", "skin", "consent"}
    assert not Contact.objects.exists() and not Submission.objects.exists()


def test_changing_the_wording_by_api_makes_a_version_and_old_versions_stay(owner_key):
    point = call(owner_key, "post", "/api/v1/capture-points", POINT).json()
    changed = {**POINT, "wording": {**POINT["wording"], "headline": "無料サンプル（新）"}}
    assert call(owner_key, "put", f"/api/v1/capture-points/{point['id']}", changed).json()["version"]["number"] == 2
    versions = call(owner_key, "get", f"/api/v1/capture-points/{point['id']}/versions").json()
    assert [v["headline"] for v in versions] == ["無料サンプル（新）", "無料サンプル"]
    stale = call(owner_key, "post", f"/api/v1/capture-points/{point['id']}/submissions",
                 {"email": "a@example.jp", "name": "a", "answers": {"skin": "乾燥"}, "consented": True, "version": 1})
    assert stale.status_code == 409


def test_an_outsider_cannot_redeem_or_read_another_workspaces_coupon(owner_key, outsider_key, definition_id):
    point = call(owner_key, "post", "/api/v1/capture-points",
                 {**POINT, "incentive": "coupon", "coupon_id": definition_id}).json()
    code = call(owner_key, "post", f"/api/v1/capture-points/{point['id']}/submissions",
                {"email": "a@example.jp", "name": "a", "answers": {"skin": "乾燥"}, "consented": True}
                ).json()["coupon_code"]
    theirs = call(outsider_key, "post", "/api/v1/coupons/redeem", {"code": code})
    unknown = call(outsider_key, "post", "/api/v1/coupons/redeem", {"code": "ZZZZZZZZZZ"})
    assert theirs.status_code == unknown.status_code == 404 and theirs.json() == unknown.json()
    assert call(outsider_key, "get", f"/api/v1/coupons/{code}").json() == call(
        outsider_key, "get", "/api/v1/coupons/ZZZZZZZZZZ").json()
    assert not Redemption.objects.exists()


def test_a_coupon_window_with_an_offset_no_place_has_is_a_400_not_a_database_error(owner_key):
    response = call(owner_key, "post", "/api/v1/coupon-definitions",
                    {"name": "サンプル", "benefit": "サンプル1個", "valid_from": "3845-06-15T09:09:57-22:25"})
    assert response.status_code == 400
    assert "valid_from" in str(response.json()["error"]["fields"])


def test_a_submission_with_the_browser_s_visitor_id_is_credited_and_counts_its_clicks(owner_key, workspace):
    source = services.create_source(workspace=workspace, actor=Actor(role=Role.OWNER), kind="website", name="広告A")
    link = services.create_link(workspace=workspace, actor=Actor(role=Role.OWNER), source_id=source.pk,
                                target_url="https://shop.example.jp/sample")
    visitor = services.follow_link(code=link.code, ip="203.0.113.1", user_agent="Mozilla/5.0 (iPhone)", referrer="",
                                   visitor_id=None).visitor_id
    point = call(owner_key, "post", "/api/v1/capture-points", POINT).json()
    url = f"/api/v1/capture-points/{point['id']}/submissions"
    sent = {"email": "a@example.jp", "name": "佐藤", "answers": {"skin": "乾燥"}, "consented": True}
    refused = call(owner_key, "post", url, {**sent, "visitor_id": "not-a-visitor"})
    assert refused.status_code in (400, 422) and "visitor_id" in refused.content.decode()
    assert not Contact.objects.exists()
    created = call(owner_key, "post", url, {**sent, "visitor_id": visitor})
    assert created.status_code == 201 and created.json()["source_id"] == source.pk
    person = Fact.objects.get(kind="link.clicked", contact_id=created.json()["contact_id"])
    assert person.subject_id == str(Click.objects.get().pk)
