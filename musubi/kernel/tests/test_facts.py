import datetime as dt
from decimal import Decimal

import pytest

from musubi.kernel.facts import record_fact
from musubi.kernel.models import AppendOnlyError, Fact
from musubi.kernel.money import Money
from musubi.kernel.tax import tax_rate_in_force


def test_a_fact_records_amount_and_subject(workspace):
    fact, created = record_fact(workspace_id=workspace.pk, kind="order.paid", contact_id=42,
                                subject=("commerce.order", 9), amount=Money(980, "JPY"))
    assert created
    stored = Fact.objects.get(pk=fact.pk)
    assert (stored.kind, stored.contact_id, stored.subject_type, stored.subject_id, stored.amount, stored.currency) == (
        "order.paid", 42, "commerce.order", "9", 980, "JPY")


def test_the_same_dedupe_key_records_a_fact_only_once(workspace):
    first, created_first = record_fact(workspace_id=workspace.pk, kind="click", dedupe_key="click:abc")
    again, created_again = record_fact(workspace_id=workspace.pk, kind="click", dedupe_key="click:abc")
    assert (created_first, created_again) == (True, False)
    assert again.pk == first.pk
    assert Fact.objects.for_workspace(workspace).count() == 1


def test_dedupe_keys_are_per_workspace(workspace, other_workspace):
    record_fact(workspace_id=workspace.pk, kind="click", dedupe_key="k")
    _, created = record_fact(workspace_id=other_workspace.pk, kind="click", dedupe_key="k")
    assert created


def test_facts_cannot_be_changed_or_deleted(workspace):
    fact, _ = record_fact(workspace_id=workspace.pk, kind="optin")
    fact.kind = "something else"
    with pytest.raises(AppendOnlyError):
        fact.save()
    with pytest.raises(AppendOnlyError):
        fact.delete()
    assert Fact.objects.get(pk=fact.pk).kind == "optin"


@pytest.mark.parametrize(("day", "category", "rate"), [
    (dt.date(2019, 9, 30), "standard", Decimal("0.08")),
    (dt.date(2019, 10, 1), "standard", Decimal("0.10")),
    (dt.date(2026, 11, 22), "reduced", Decimal("0.08")),
])
def test_tax_rates_in_force_follow_the_law_by_date(db, day, category, rate):
    assert tax_rate_in_force(category=category, on=day) == rate


def test_no_tax_rate_before_records_begin(db):
    with pytest.raises(LookupError, match="no reduced tax rate"):
        tax_rate_in_force(category="reduced", on=dt.date(2015, 1, 1))
