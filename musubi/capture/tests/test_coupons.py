"""Coupons: one per person, redeemed once at the counter, refusals that say why."""

import datetime as dt
import zoneinfo

import pytest

from musubi.capture import coupons, points
from musubi.capture.models import Redemption
from musubi.capture.rules import format_coupon_code, parse_coupon_code
from musubi.capture.tests.factories import capture_point, coupon_definition, entry
from musubi.contacts.models import Contact
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, Forbidden, NotFound
from musubi.kernel.models import Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

STAFF = Actor(role=Role.STAFF)


@pytest.fixture
def coupon(workspace):
    definition = coupon_definition(workspace)
    point = capture_point(workspace, incentive="coupon", coupon_id=definition.pk)
    return points.submit(point=point, entry=entry()).coupon


def test_redeeming_records_a_front_end_conversion_with_its_cost(workspace, coupon):
    redemption = coupons.redeem(workspace=workspace, actor=STAFF, code=format_coupon_code(coupon.code).lower())
    assert redemption.number == 1
    fact = Fact.objects.get(kind="coupon.redeemed")
    assert (fact.amount, fact.currency, fact.contact_id) == (150, "JPY", coupon.contact_id)
    assert Contact.objects.get(pk=coupon.contact_id).stage == "front_customer"


def test_redeeming_twice_is_refused_with_when_it_was_used(workspace, coupon):
    coupons.redeem(workspace=workspace, actor=STAFF, code=coupon.code)
    with pytest.raises(Conflict) as refused:
        coupons.redeem(workspace=workspace, actor=STAFF, code=coupon.code)
    when = Redemption.objects.get().at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert refused.value.code == "coupon_used_up"
    assert f"{when.hour}:{when.minute:02d}" in refused.value.message  # says when, in the shop's time
    assert Redemption.objects.count() == 1
    assert Fact.objects.filter(kind="coupon.redeemed").count() == 1


def test_an_expired_coupon_is_refused(workspace, coupon):
    with clock.travel(dt.timedelta(days=31)), pytest.raises(Conflict) as refused:
        coupons.redeem(workspace=workspace, actor=STAFF, code=coupon.code)
    assert refused.value.code == "coupon_expired"
    assert not Redemption.objects.exists()


def test_a_coupon_before_its_window_is_refused(workspace):
    start = clock.now() + dt.timedelta(days=3)
    definition = coupon_definition(workspace, valid_days=None, valid_from=start)
    point = capture_point(workspace, incentive="coupon", coupon_id=definition.pk)
    code = points.submit(point=point, entry=entry()).coupon.code
    with pytest.raises(Conflict) as refused:
        coupons.redeem(workspace=workspace, actor=STAFF, code=code)
    assert refused.value.code == "coupon_not_yet_valid"
    with clock.travel(dt.timedelta(days=3, seconds=1)):
        assert coupons.redeem(workspace=workspace, actor=STAFF, code=code).number == 1


def test_another_workspaces_code_is_refused_exactly_like_an_unknown_one(workspace, other_workspace, coupon):
    with pytest.raises(NotFound) as foreign:
        coupons.redeem(workspace=other_workspace, actor=STAFF, code=coupon.code)
    with pytest.raises(NotFound) as unknown:
        coupons.redeem(workspace=other_workspace, actor=STAFF, code="ZZZZZ-ZZZZZ")
    assert (foreign.value.code, foreign.value.message) == (unknown.value.code, unknown.value.message)
    assert not Redemption.objects.exists()


def test_a_viewer_may_not_redeem(workspace, coupon):
    with pytest.raises(Forbidden):
        coupons.redeem(workspace=workspace, actor=Actor(role=Role.VIEWER), code=coupon.code)


def test_a_coupon_for_several_uses_counts_them(workspace):
    definition = coupon_definition(workspace, max_redemptions=2)
    point = capture_point(workspace, incentive="coupon", coupon_id=definition.pk)
    code = points.submit(point=point, entry=entry()).coupon.code
    assert [coupons.redeem(workspace=workspace, actor=STAFF, code=code).number for _ in range(2)] == [1, 2]
    with pytest.raises(Conflict):
        coupons.redeem(workspace=workspace, actor=STAFF, code=code)


@pytest.mark.parametrize("typed", ["abcde-fghjk", " ABCDE FGHJK ", "ＡＢＣＤＥ－ＦＧＨＪＫ",
                                   "https://musubi.example/c/ABCDEFGHJK?x=1"])
def test_codes_are_read_however_they_are_typed_or_scanned(typed):
    assert parse_coupon_code(typed) == "ABCDEFGHJK"


def test_the_coupon_page_shows_its_expiry_in_the_shops_own_time_zone(workspace, client):
    workspace.timezone = "America/Los_Angeles"  # a Japanese restaurant's branch abroad
    workspace.save(update_fields=["timezone"])
    definition = coupon_definition(workspace, valid_days=None,
                                   valid_until=dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC))
    point = capture_point(workspace, incentive="coupon", coupon_id=definition.pk)
    with clock.frozen(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)):
        coupon = points.submit(point=point, entry=entry()).coupon
        page = client.get(f"/c/{format_coupon_code(coupon.code)}").content.decode()
    assert "2026年12月31日 07:00" in page  # 15:00 UTC is 07:00 in Los Angeles (PST), not 00:00 in Tokyo
