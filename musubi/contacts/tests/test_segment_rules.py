"""What a segment definition may say, checked without a database."""

import random

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from musubi.contacts.rules import field_key_problem
from musubi.contacts.schemas import MAX_CONDITIONS, parse_definition, stored
from musubi.contacts.tests.populations import random_definition
from musubi.kernel.errors import InvalidInput

CLICKED = {"type": "event", "kind": "link.clicked", "op": "within", "days": 30}


def refusal(definition):
    with pytest.raises(InvalidInput) as caught:
        parse_definition(definition)
    return caught.value.fields


def test_a_definition_is_stored_as_written_without_empty_options():
    definition = {"match": "all", "conditions": [
        {"type": "tag", "op": "has", "tag": "VIP"}, CLICKED,
        {"type": "event", "kind": "order.paid", "op": "never"},
        {"type": "group", "match": "any", "conditions": [
            {"type": "field", "key": "好きな料理", "op": "includes", "value": "唐揚げ"},
            {"type": "consent", "channel": "line", "op": "may_receive"}]}]}
    assert stored(parse_definition(definition)) == definition


def test_no_conditions_means_everyone_and_defaults_fill_in():
    assert stored(parse_definition({})) == {"match": "all", "conditions": []}
    assert stored(parse_definition({"conditions": [{"type": "source", "which": "first", "source_id": 3}]})) == {
        "match": "all", "conditions": [{"type": "source", "which": "first", "op": "is", "source_id": 3}]}


@pytest.mark.parametrize(("definition", "path"), [
    ({"conditions": [CLICKED, {"type": "weather"}]}, "conditions.1.type"),
    ({"conditions": [{"type": "tag", "op": "is", "tag": "VIP"}]}, "conditions.0.op"),
    ({"conditions": [{"type": "field", "key": "q1", "op": "matches", "value": "x"}]}, "conditions.0.op"),
    ({"conditions": [CLICKED, CLICKED, {**CLICKED, "days": 0}]}, "conditions.2.days"),
    ({"conditions": [{**CLICKED, "days": 3651}]}, "conditions.0.days"),
    ({"conditions": [{**CLICKED, "days": "30"}]}, "conditions.0.days"),
    ({"conditions": [{**CLICKED, "days": True}]}, "conditions.0.days"),
    ({"conditions": [{"type": "event", "kind": "link.clicked", "op": "within"}]}, "conditions.0.days"),
    ({"conditions": [{"type": "event", "kind": "order.paid", "op": "never", "days": 5}]}, "conditions.0.days"),
    ({"conditions": [{"type": "event", "kind": "order.shipped", "op": "ever"}]}, "conditions.0.kind"),
    ({"conditions": [{"type": "group", "match": "any", "conditions": []}]}, "conditions.0.conditions"),
    ({"conditions": [{"type": "group", "match": "any", "conditions": [
        {"type": "group", "match": "all", "conditions": [CLICKED]}]}]}, "conditions.0.conditions.0.type"),
    ({"conditions": [{"type": "group", "match": "any", "conditions": [CLICKED, {**CLICKED, "days": -1}]}]},
     "conditions.0.conditions.1.days"),
    ({"conditions": [{"type": "field", "key": "q1", "op": "equals"}]}, "conditions.0.value"),
    ({"conditions": [{"type": "field", "key": "q1", "op": "is_set", "value": "x"}]}, "conditions.0.value"),
    ({"conditions": [{"type": "field", "key": "12", "op": "is_set"}]}, "conditions.0.key"),
    ({"conditions": [{"type": "field", "key": "a b", "op": "is_set"}]}, "conditions.0.key"),
    ({"conditions": [{"type": "tag", "op": "has", "tag": " "}]}, "conditions.0.tag"),
    ({"conditions": [{"type": "stage", "op": "is", "stage": "vip"}]}, "conditions.0.stage"),
    ({"conditions": [{"type": "consent", "channel": "fax"}]}, "conditions.0.channel"),
    ({"conditions": [{"type": "source", "which": "first", "source_id": 0}]}, "conditions.0.source_id"),
    ({"conditions": [{"type": "tag", "op": "has", "tag": "VIP", "colour": "red"}]}, "conditions.0.colour"),
    ({"conditions": [CLICKED] * (MAX_CONDITIONS + 1)}, "conditions"),
    ({"conditions": [{"type": "group", "match": "any", "conditions": [CLICKED] * 30}] * 2}, "conditions"),
    ({"match": "most"}, "match"),
    ({"conditions": "all of them"}, "conditions"),
    ({"conditions": [7]}, "conditions.0"),
    ({"everyone": True}, "everyone"),
])
def test_a_bad_definition_is_refused_naming_the_path(definition, path):
    assert path in refusal(definition)


def test_every_problem_is_named_at_once():
    fields = refusal({"conditions": [{"type": "weather"}, {**CLICKED, "days": 0},
                                     {"type": "tag", "op": "has_not", "tag": ""}]})
    assert set(fields) == {"conditions.0.type", "conditions.1.days", "conditions.2.tag"}


def test_the_reasons_speak_the_owners_language():
    nested = {"conditions": [{"type": "group", "match": "any", "conditions": [
        {"type": "group", "match": "all", "conditions": [CLICKED]}]}]}
    with translation.override("ja"):
        assert refusal(nested) == {
            "conditions.0.conditions.0.type": "グループの中にグループは入れられません（1段まで）。"}
        assert refusal({"conditions": [{**CLICKED, "days": None}]}) == {
            "conditions.0.days": "日数を1〜3650で入力してください。"}
    with translation.override("en"):
        assert "tag, field, stage" in refusal({"conditions": [{"type": "weather"}]})["conditions.0.type"]


@pytest.mark.parametrize("key", ["q1", "好きな料理", "visit_count", "coupon-2026", "x" * 64])
def test_field_keys_may_be_words_in_any_script(key):
    assert field_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "12", "-1", "1_000", "٣", "a.b", "a b", "x" * 65, "$.a", 'a"b'])
def test_field_keys_that_a_json_path_would_misread_are_refused(key):
    assert field_key_problem(key) is not None


@given(st.integers(min_value=0, max_value=10_000))
def test_generated_definitions_round_trip_through_storage(seed):
    definition = parse_definition(random_definition(random.Random(seed)))
    assert parse_definition(stored(definition)) == definition


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(
        ["all", "any", "tag", "event", "group", "field", "has", "within", "link.clicked", "conditions", "type"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "op", "match", "conditions", "days", "kind", "tag", "key", "value", "x"]), inner,
        max_size=5),
    max_leaves=20)


@given(json_values)
def test_anything_at_all_is_either_a_definition_or_a_refusal_naming_fields(data):
    try:
        parse_definition(data)
    except InvalidInput as exc:
        assert exc.fields
        assert all(isinstance(path, str) and path for path in exc.fields)
