"""Premium limits under the Premiums and Representations Act, and what a ladder page warns about."""

import pytest

from musubi.catalog.choices import PremiumKind
from musubi.catalog.rules import (
    OfferFacts,
    PremiumFacts,
    StepFacts,
    classify_premium,
    ladder_problems,
    premium_limit,
    premium_refusal,
)


def giveaway(value, *, price, purchase=True, visit=False, cheapest=None):
    return PremiumFacts(kind=PremiumKind.GIVEAWAY, legal_value=value, purchase_required=purchase,
                        visit_required=visit, cheapest_normal_purchase=cheapest, offer_price=price)


def test_a_300_yen_gift_with_a_980_yen_product_is_refused_and_a_200_yen_one_allowed():
    refusal = premium_refusal(giveaway(300, price=980))
    assert refusal is not None
    assert "200" in refusal and "980" in refusal  # names the limit and the transaction value behind it
    assert premium_refusal(giveaway(200, price=980)) is None


def test_a_dish_is_valued_at_its_menu_price_not_its_cost():
    # Costs 150 yen to make, sold at 480: the law looks at 480, over the 200-yen limit for a visit.
    dish = giveaway(480, price=0, purchase=False, visit=True, cheapest=300)
    limit = premium_limit(dish)
    assert (limit.transaction_value, limit.limit) == (300, 200)
    assert premium_refusal(dish) is not None


@pytest.mark.parametrize(("price", "limit"), [(999, 200), (1000, 200), (1500, 300), (4980, 996), (298000, 59600)])
def test_giveaway_limit_is_200_yen_below_1000_else_a_fifth(price, limit):
    assert premium_limit(giveaway(0, price=price)).limit == limit


@pytest.mark.parametrize(("cheapest", "value"), [(None, 100), (50, 100), (100, 100), (480, 480)])
def test_a_visit_without_purchase_counts_as_100_yen_unless_the_cheapest_purchase_is_more(cheapest, value):
    assert premium_limit(giveaway(0, price=0, purchase=False, visit=True, cheapest=cheapest)).transaction_value == value


@pytest.mark.parametrize(("value", "limit"), [(100, 2000), (4999, 99_980), (5000, 100_000), (50_000, 100_000)])
def test_lottery_prize_limit_is_twenty_times_below_5000_else_100000(value, limit):
    facts = PremiumFacts(kind=PremiumKind.LOTTERY, legal_value=0, purchase_required=True, visit_required=False,
                         cheapest_normal_purchase=None, offer_price=value)
    assert premium_limit(facts).limit == limit


def test_joint_lotteries_allow_300000_per_prize():
    facts = PremiumFacts(kind=PremiumKind.JOINT_LOTTERY, legal_value=300_001, purchase_required=True,
                         visit_required=False, cheapest_normal_purchase=None, offer_price=100)
    assert premium_limit(facts).limit == 300_000
    assert premium_refusal(facts) is not None


@pytest.mark.parametrize(("kind", "purchase", "visit", "seen_as"), [
    (PremiumKind.OPEN_LOTTERY, False, False, PremiumKind.OPEN_LOTTERY),
    (PremiumKind.OPEN_LOTTERY, True, False, PremiumKind.LOTTERY),
    (PremiumKind.OPEN_LOTTERY, False, True, PremiumKind.LOTTERY),
    (PremiumKind.LOTTERY, False, False, PremiumKind.OPEN_LOTTERY),
    (PremiumKind.LOTTERY, True, True, PremiumKind.LOTTERY),
    (PremiumKind.GIVEAWAY, False, True, PremiumKind.GIVEAWAY),
    (PremiumKind.JOINT_LOTTERY, True, False, PremiumKind.JOINT_LOTTERY),
])
def test_what_the_law_sees_depends_on_purchase_or_visit(kind, purchase, visit, seen_as):
    assert classify_premium(kind, purchase_required=purchase, visit_required=visit) == seen_as


def test_an_open_lottery_that_needs_a_visit_is_limited_like_any_lottery():
    facts = PremiumFacts(kind=PremiumKind.OPEN_LOTTERY, legal_value=1_000_000, purchase_required=False,
                         visit_required=True, cheapest_normal_purchase=None, offer_price=0)
    assert premium_limit(facts).limit == 2000  # 20 × 100 yen for a visit
    open_one = PremiumFacts(kind=PremiumKind.OPEN_LOTTERY, legal_value=1_000_000, purchase_required=False,
                            visit_required=False, cheapest_normal_purchase=None, offer_price=0)
    assert premium_refusal(open_one) is None


def test_ladder_problems_name_each_offer():
    offers = [
        OfferFacts(1, "お試しセット", "front", 980, 980),
        OfferFacts(2, "無料サンプル", "front", 0, 0),
        OfferFacts(3, "定期便", "back", 4980, 4980),
        OfferFacts(4, "安い本命", "back", 500, 500, premium_refusal="too much"),
    ]
    problems = ladder_problems(offers, [StepFacts(1, 3), StepFacts(1, 4)])
    assert len(problems) == 3
    assert "無料サンプル" in problems[0]  # leads nowhere
    assert "安い本命" in problems[1] and "お試しセット" in problems[1]  # not above its front-end
    assert "too much" in problems[2]
