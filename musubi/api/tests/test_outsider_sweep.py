"""Another workspace's API key tries every API operation with the owner's real object ids.

The operations come from the OpenAPI document, and a first test checks that the document lists every API
route the URL configuration has, so an undocumented route cannot escape the sweep. Operations on an object
id must answer 404, exactly as for an id that does not exist, and change nothing; operations without one
act on the caller's own workspace and show nothing of the owner's.
"""

import json
import re
from dataclasses import dataclass

import pytest
from django.test import Client

from musubi.api.site import api
from musubi.testing.routes import all_routes
from musubi.testing.snapshots import MARKER, MISSING, populate
from musubi.testing.snapshots import workspace_state as state

PUBLIC = {"api:openapi-json", "api:openapi-view", "api:api-root"}  # documentation, and a root that is 404 for all


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # "/api/v1/api-keys/{key_id}"

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def fill(self, values: dict) -> str:
        return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), self.path)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations() -> list[Operation]:
    paths = api.get_openapi_schema()["paths"]
    return [Operation(method, path) for path, ops in paths.items() for method in ops]


def test_the_openapi_document_lists_every_api_route():
    routed = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.template)
              for r in all_routes() if r.template.startswith("api/v1/") and r.name not in PUBLIC}
    assert routed == {op.path for op in operations()}


@pytest.fixture
def owners_ids(workspace, teammate):
    return populate(workspace, teammate)


# Bodies that pass validation, so an operation that validates its body before looking up the object still
# has to answer the outsider 404 (ids are the owner's, filled in per test).
VALID_BODIES = {
    ("put", "/api/v1/offers/{offer_id}/premium"): {"description": "x", "legal_value": 1},
    ("patch", "/api/v1/ladders/{ladder_id}"): {"name": "x"},
    ("post", "/api/v1/contacts/{contact_id}/tags"): {"tags": ["x"]},
    ("post", "/api/v1/sources/{source_id}/costs"): {"amount": 1, "spent_on": "2026-01-01"},
    ("patch", "/api/v1/segments/{segment_id}"): {"name": "x", "definition": {"conditions": []}},
    ("post", "/api/v1/ladders/{ladder_id}/steps"): {"front_id": "offer_id", "back_id": "offer_id", "take_rate": "0.1"},
    ("put", "/api/v1/capture-points/{capture_point_id}"): {
        "name": "x", "wording": {"headline": "x", "consent_text": "x", "purpose_text": "x", "sender_name": "x"}},
    ("put", "/api/v1/templates/{template_id}"): {"name": "x", "channel": "email", "subject": "x", "html": "x",
                                                 "line_messages": [{"kind": "text", "text": "x"}]},
    ("put", "/api/v1/sequences/{sequence_id}"): {"name": "x", "trigger": "api"},
    ("post", "/api/v1/sequences/{sequence_id}/steps"): {"template_id": "template_id"},
    ("put", "/api/v1/sequence-steps/{sequence_step_id}"): {"template_id": "template_id"},
    ("post", "/api/v1/sequences/{sequence_id}/enrollments"): {"contact_id": "contact_id"},
    ("put", "/api/v1/broadcasts/{broadcast_id}"): {"name": "x", "template_id": "template_id"},
    ("put", "/api/v1/auto-replies/{auto_reply_id}"): {"name": "x", "keywords": ["x"], "messages": [
        {"kind": "text", "text": "x"},
        {"kind": "buttons", "alt_text": "x", "text": "x",
         "actions": [{"kind": "postback", "label": "x", "data": "x"}]}]},
    ("post", "/api/v1/inbox/{contact_id}/answers"): {"channel": "email", "text": "x"},
    ("post", "/api/v1/capture-points/{capture_point_id}/submissions"): {"email": "a@example.jp", "name": "a",
                                                                         "consented": True},
    ("post", "/api/v1/orders/{order_id}/refunds"): {"amount": 1},
    ("post", "/api/v1/orders/{order_id}/shipment"): {"carrier": "x", "tracking_number": "x"},
    ("patch", "/api/v1/discount-codes/{discount_code_id}"): {"active": False},
}


def body_for(op, ids):
    body = VALID_BODIES.get((op.method, op.path), {})
    return json.dumps({k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()})


def call(key, method, path, body=None, **extra):
    body = (body or "{}") if method in ("post", "patch", "put") else None
    return getattr(Client(), method)(path, data=body, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {key}", **extra)


@pytest.mark.parametrize("op", [op for op in operations() if op.params], ids=str)
def test_outsider_key_gets_404_for_every_object_of_another_workspace(op, workspace, owners_ids, outsider_key,
                                                                     owner_key):
    before = state(workspace)
    theirs = call(outsider_key, op.method, op.fill(owners_ids), body_for(op, owners_ids))
    missing = call(outsider_key, op.method, op.fill(MISSING), body_for(op, MISSING))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert state(workspace) == before
    assert call(owner_key, op.method, op.fill(owners_ids)).status_code != 404  # the ids were real


@pytest.mark.parametrize("op", [op for op in operations() if not op.params], ids=str)
def test_outsider_key_sees_only_its_own_workspace(op, workspace, owners_ids, outsider_key, other_workspace):
    before = state(workspace)
    response = call(outsider_key, op.method, op.fill({}))
    assert response.status_code < 500
    body = b"".join(response.streaming_content) if response.streaming else response.content  # a CSV export streams
    for secret in (MARKER, workspace.slug, workspace.name, "owner@example.com", "staff@example.com"):
        assert secret.encode() not in body, f"{op} shows {secret}"
    assert state(workspace) == before


@pytest.mark.parametrize("op", operations(), ids=str)
def test_every_api_operation_refuses_a_missing_or_wrong_key(op, owners_ids):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer msk_not-a-real-key"}, {"HTTP_AUTHORIZATION": "Basic abc"}):
        response = getattr(Client(), op.method)(op.fill(owners_ids), **headers)
        assert response.status_code == 401, str(op)
        assert response.json()["error"]["code"] == "unauthenticated"
