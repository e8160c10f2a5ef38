"""A minimum number of deliveries (最低継続回数): stated on the confirmation screen with the total of those
deliveries, shown on the customer's page, and a customer's cancel before it refused with the reason and the
date; staff can still cancel, which is recorded."""

import datetime as dt

import pytest

from musubi.catalog import services as catalog
from musubi.commerce import subscriptions
from musubi.commerce.choices import SubscriptionStatus
from musubi.commerce.models import Subscription
from musubi.commerce.tests.test_checkout import confirmation, rows_of
from musubi.commerce.tests.test_subscriptions import START, manage_path, renew_at, subscribe_by_card
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.kernel.models import Fact
from musubi.workspaces.models import AuditEntry
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def three_month_minimum(shop, workspace):
    return catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=shop["discounted"].pk, min_deliveries=3)


@pytest.mark.parametrize(("offer", "value", "expected"), [
    ("trial", 3, "定期のオファーだけ"),
    ("monthly", 1, "2回以上"),
    ("six", 7, "お届け回数より多く"),
])
def test_a_minimum_that_makes_no_sense_is_refused_naming_the_field(shop, workspace, offer, value, expected):
    with pytest.raises(InvalidInput) as caught:
        catalog.update_offer(workspace=workspace, actor=SYSTEM, offer_id=shop[offer].pk, min_deliveries=value)
    assert expected in caught.value.fields["min_deliveries"]
    shop[offer].refresh_from_db()
    assert shop[offer].min_deliveries is None


def test_the_confirmation_screen_states_the_minimum_and_the_total_of_those_deliveries(client, three_month_minimum):
    with clock.frozen(START):
        page, _token = confirmation(client, three_month_minimum)
    rows = rows_of(page)
    assert "最低3回の継続が条件" in rows["最低継続回数"]
    assert "3回目のお届け（2026年3月15日頃）の後から解約できます" in rows["最低継続回数"]
    assert rows["最低継続回数分の合計（税込）"] == "3回分で11,940円"  # 1,980 + 4,980 × 2


def test_the_customer_cannot_cancel_before_the_minimum_and_is_told_when_they_can(client, three_month_minimum,
                                                                               stripe_api):
    subscription = subscribe_by_card(client, three_month_minimum, stripe_api)
    path = manage_path(subscription)
    page = client.get(path).content.decode()
    assert "最低継続回数は3回です" in page and "2026年3月15日頃のお届けの後から解約できます" in page
    with clock.frozen(START + dt.timedelta(days=3)):
        refused = client.post(path, {"action": "cancel"})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "最低3回の継続が条件で、これまでのお届けは1回です" in text and "2026年3月15日頃から解約できます" in text
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE and subscription.cancelled_at is None
    assert not Fact.objects.filter(kind="subscription.cancelled").exists()


def test_a_skipped_delivery_moves_the_day_cancelling_becomes_possible(client, three_month_minimum, stripe_api):
    subscription = subscribe_by_card(client, three_month_minimum, stripe_api)
    client.post(manage_path(subscription), {"action": "skip"})
    assert subscriptions.cancellable_from(subscription) == dt.datetime(2026, 4, 15, 3, 0, tzinfo=dt.UTC)


def test_after_the_minimum_deliveries_the_customer_cancels(client, three_month_minimum, stripe_api):
    subscription = subscribe_by_card(client, three_month_minimum, stripe_api)
    renew_at(dt.datetime(2026, 2, 15, 3, 0, tzinfo=dt.UTC))
    path = manage_path(subscription)
    assert client.post(path, {"action": "cancel"}).status_code == 400  # two deliveries are not three
    renew_at(dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))
    subscription.refresh_from_db()
    assert subscription.deliveries == 3 and subscriptions.cancellable_from(subscription) is None
    assert client.post(path, {"action": "cancel"}).status_code == 200
    assert Subscription.objects.get().status == SubscriptionStatus.CANCELLED


def test_staff_can_still_cancel_before_the_minimum_and_it_is_recorded(client, three_month_minimum, stripe_api,
                                                                      owner_client, workspace):
    subscription = subscribe_by_card(client, three_month_minimum, stripe_api)
    response = owner_client.post(f"/w/{workspace.slug}/subscriptions/{subscription.pk}/", {"action": "cancel"})
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELLED
    entry = AuditEntry.objects.get(action="subscription.cancelled")
    assert entry.changes["before_minimum"] is True and entry.changes["min_deliveries"] == 3
    assert Fact.objects.get(kind="subscription.cancelled").data["by"] == "staff"


def test_the_api_sets_and_shows_the_minimum(owner_key, shop):
    from django.test import Client

    response = Client().patch(f"/api/v1/offers/{shop['monthly'].pk}", data={"min_deliveries": 4},
                              content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {owner_key}")
    assert response.status_code == 200 and response.json()["min_deliveries"] == 4
    wrong = Client().patch(f"/api/v1/offers/{shop['trial'].pk}", data={"min_deliveries": 4},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {owner_key}")
    assert wrong.status_code == 400 and "min_deliveries" in wrong.json()["error"]["fields"]
