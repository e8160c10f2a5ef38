import json

import pytest
from django.test import Client

ISSUE_EXAMPLE = {
    "currency": "JPY",
    "front": {"price": 980, "tax_rate": "0.08", "unit_cost": 450, "premium_cost": 0},
    "acquisition": {"ad_cost": 1500, "affiliate_rate": "0", "affiliate_fixed": 0},
    "backs": [{"name": "定期便", "price": 4980, "tax_rate": "0.08", "unit_cost": 1200, "take_rate": "0.25",
               "recurring": True, "retention": "0.8", "cycles": 12}],
    "target_profit_per_customer": 0, "monthly_profit_target": 1000000, "lead_conversion": "0.3",
    "uncertainty": {"draws": 10000, "seed": 1, "ranges": {"backs.0.take_rate": ["0.15", "0.35"],
                                                         "backs.0.retention": ["0.7", "0.85"],
                                                         "acquisition.ad_cost": [1000, 2500]}},
}


def evaluate(key, body, raw=None):
    return Client().post("/api/v1/planner/evaluate", data=raw if raw is not None else json.dumps(body),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_issues_example_evaluates(owner_key):
    response = evaluate(owner_key, ISSUE_EXAMPLE)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["profit_per_customer"], answer["customers_needed"], answer["leads_needed"]) == (2928, 342, 1140)
    assert answer["breakeven_front_price"] == 2106 and answer["max_affiliate_rate"] == 1.0
    u = answer["uncertainty"]
    assert 0 <= u["p_loss"] <= 1 and u["p10"] <= u["p50"] <= u["p90"]
    assert sum(b["count"] for b in u["histogram"]) == 10000
    assert evaluate(owner_key, ISSUE_EXAMPLE).json() == answer  # the same seed, the same answer


def test_rates_as_json_numbers_are_read_from_their_decimal_text(owner_key):
    as_strings = evaluate(owner_key, {"front": {"price": 1000, "tax_rate": "0.1", "unit_cost": 0},
                                      "acquisition": {"affiliate_rate": "0.1"}}).json()
    raw = '{"front": {"price": 1000, "tax_rate": 0.1, "unit_cost": 0}, "acquisition": {"affiliate_rate": 0.1}}'
    assert evaluate(owner_key, None, raw=raw).json() == as_strings


def body_with(path, value):
    body = json.loads(json.dumps(ISSUE_EXAMPLE))
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return body


DELETE = object()


@pytest.mark.parametrize(("path", "value", "field"), [
    ("front.price", -1, "front.price"),
    ("front.price", 9.5, "front.price"),
    ("front.price", "980", "front.price"),
    ("front.tax_rate", "1.5", "front.tax_rate"),
    ("front.tax_rate", "NaN", "front.tax_rate"),
    ("front.unit_cost", DELETE, "front.unit_cost"),
    ("acquisition.affiliate_rate", True, "acquisition.affiliate_rate"),
    ("backs.0.take_rate", "1.01", "backs.0.take_rate"),
    ("backs.0.take_rate", "abc", "backs.0.take_rate"),
    ("backs.0.retention", DELETE, "backs.0.retention"),
    ("backs.0.cycles", 0, "backs.0.cycles"),
    ("backs.0.cycles", 2.5, "backs.0.cycles"),
    ("backs.0.name", "", "backs.0.name"),
    ("backs.0.colour", "red", "backs.0.colour"),
    ("lead_conversion", "0", "lead_conversion"),
    ("lead_conversion", "1.2", "lead_conversion"),
    ("currency", "XYZ", "currency"),
    ("uncertainty.draws", 0, "uncertainty.draws"),
    ("uncertainty.draws", 10**9, "uncertainty.draws"),
    ("uncertainty.ranges.backs.0.take_rate", ["0.5", "0.1"], "uncertainty.ranges.backs.0.take_rate"),
])
def test_each_invalid_input_is_a_400_naming_the_field(owner_key, path, value, field):
    if path.startswith("uncertainty.ranges."):
        body = json.loads(json.dumps(ISSUE_EXAMPLE))
        body["uncertainty"]["ranges"][path.removeprefix("uncertainty.ranges.")] = value
    else:
        body = body_with(path, value)
    response = evaluate(owner_key, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error["fields"]


def test_open_ended_with_full_retention_is_refused(owner_key):
    body = body_with("backs.0.cycles", None)
    body["backs"][0]["retention"] = "1"
    body.pop("uncertainty")
    response = evaluate(owner_key, body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["backs.0.retention"]


def test_a_range_on_an_input_the_plan_does_not_have_is_refused(owner_key):
    body = json.loads(json.dumps(ISSUE_EXAMPLE))
    body["uncertainty"]["ranges"] = {"backs.1.take_rate": ["0", "1"]}
    response = evaluate(owner_key, body)
    assert list(response.json()["error"]["fields"]) == ["uncertainty.ranges.backs.1.take_rate"]


def test_retention_and_cycles_are_ignored_for_a_one_time_back_end(owner_key):
    body = json.loads(json.dumps(ISSUE_EXAMPLE))
    body.pop("uncertainty")
    body["backs"][0].update({"recurring": False, "retention": "1", "cycles": None})
    answer = evaluate(owner_key, body).json()
    assert answer["backs"][0]["expected_cycles"] == 1.0


def test_no_back_ends_is_allowed(owner_key):
    body = {"front": {"price": 2980, "tax_rate": "0.1", "unit_cost": 0}, "backs": []}
    assert evaluate(owner_key, body).status_code == 200


