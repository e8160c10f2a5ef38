"""Property-based fuzzing of every API operation from its own OpenAPI document (schemathesis).

Whatever a client sends — valid requests and deliberately broken ones — the API answers with a documented
status and a body of the documented shape, accepts what its schema allows, and never answers 500.

Checked only where the schema can say everything: that every schema-valid request is accepted (GET
operations, and PATCH /workspace). Elsewhere validity depends on data the schema cannot know — an offer's
product must exist in the workspace, a one-time offer has no cycles, a simulation range must name an input the
plan has — and those refusals are tested one by one.

Not checked: that every schema-violating request is refused. The API ignores query parameters it does not
know (clients add cache-busters), and the fuzzer's "request without credentials" cases are not reproducible
here because every case carries the key; missing and wrong keys are tested one by one in
``test_outsider_sweep``.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the database connection around each request; inside a test transaction that
    would close the test's own connection, so do what Django's test client does and skip that."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_request_as_documented(case, owner_key, keep_test_connection):
    # A cursor is an opaque token the API handed out: any string fits its schema, few are real cursors.
    opaque = bool((case.query or {}).get("cursor"))
    data_dependent = case.method != "GET" and (case.method, case.path) != ("PATCH", "/api/v1/workspace")
    excluded = [negative_data_rejection, *([positive_data_acceptance] if opaque or data_dependent else [])]
    case.call_and_validate(headers={"Authorization": f"Bearer {owner_key}"}, excluded_checks=excluded)
