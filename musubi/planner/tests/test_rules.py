"""The planner's formulas on worked examples, each figure worked out by hand in the comments."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musubi.planner.rules import (
    Acquisition,
    Back,
    Front,
    PlanInput,
    PlanInputError,
    check_range,
    evaluate,
    expected_cycles,
    round_money,
    sensitivity,
    simulate,
)

HEALTH_FOOD = PlanInput(
    front=Front(price=D(980), tax_rate=D("0.08"), unit_cost=D(450)),
    acquisition=Acquisition(ad_cost=D(1500)),
    backs=(Back("定期便", D(4980), D("0.08"), D(1200), D("0.25"), recurring=True, retention=D("0.8"), cycles=12),),
    monthly_profit_target=D(1_000_000),
    lead_conversion=D("0.3"),
)


def test_the_health_food_ladder_worked_by_hand():
    result = evaluate(HEALTH_FOOD)
    # front net 980 / 1.08 = 907.407…; margin 907.407 − 450 = 457.407…
    assert round_money(result.front_margin) == 457
    assert round_money(result.acquisition_cost) == 1500
    # 0.8^12 = 0.068719476736, so E = (1 − 0.068719476736) / 0.2 = 4.65640261632 deliveries
    assert result.backs[0].expected_cycles == D("4.65640261632")
    # 0.25 × (4980 / 1.08 − 1200 = 3411.111…) × 4.65640261632 = 3970.876…
    assert round_money(result.back_value) == 3971
    assert round_money(result.customer_value) == 4428  # 457.407 + 3970.877
    assert round_money(result.profit_per_customer) == 2928
    assert round_money(result.allowable_cpa) == 4428  # no target profit per customer
    assert result.breakeven_front_price == 2106  # (450 + 1500) × 1.08 = 2106 exactly
    assert result.max_affiliate_rate == 1  # (4428.28 − 1500) / 907.41 = 3.23, capped at 1
    assert result.customers_needed == 342  # ⌈1,000,000 / 2928.28⌉
    assert result.leads_needed == 1140  # ⌈342 / 0.3⌉
    assert result.notes == {}


def test_an_affiliate_guide_that_loses_on_the_front_and_earns_on_the_course():
    plan = PlanInput(
        front=Front(price=D(2980), tax_rate=D("0.10"), unit_cost=D(0)),
        acquisition=Acquisition(affiliate_rate=D("0.88")),
        backs=(Back("講座", D(298000), D("0.10"), D(20000), D("0.03")),),
        target_profit_per_customer=D(1000),
    )
    result = evaluate(plan)
    # front net 2709.0909…; the affiliate keeps 0.88 of it = 2384.0
    assert round_money(result.acquisition_cost) == 2384
    # back: 0.03 × (270909.09… − 20000) = 7527.27…
    assert round_money(result.back_value) == 7527
    assert round_money(result.profit_per_customer) == round_money(D("2709.0909") + D("7527.2727") - D("2384"))
    # break-even needs net × 0.12 = 0, so the price is 0: a free guide still breaks even on its front
    assert result.breakeven_front_price == 0
    # (10236.36 − 0 − 0 − 1000) / 2709.09 = 3.41 → 1
    assert result.max_affiliate_rate == 1


def test_nulls_come_with_their_reasons():
    plan = PlanInput(front=Front(price=D(0), tax_rate=D("0.1"), unit_cost=D(300)),
                     acquisition=Acquisition(ad_cost=D(200), affiliate_rate=D(1)), monthly_profit_target=D(10))
    result = evaluate(plan)
    assert (result.breakeven_front_price, result.max_affiliate_rate) == (None, None)
    assert (result.customers_needed, result.leads_needed) == (None, None)
    assert set(result.notes) == {"breakeven_front_price", "max_affiliate_rate", "customers_needed", "leads_needed"}


@pytest.mark.parametrize(("back", "cycles"), [
    (Back("x", D(1), D(0), D(0), D(1)), D(1)),  # one-time
    (Back("x", D(1), D(0), D(0), D(1), recurring=True, retention=D("0.5"), cycles=3), D("1.75")),  # 1 + .5 + .25
    (Back("x", D(1), D(0), D(0), D(1), recurring=True, retention=D("0.75")), D(4)),  # 1 / 0.25
    (Back("x", D(1), D(0), D(0), D(1), recurring=True, retention=D(1), cycles=6), D(6)),
])
def test_expected_cycles(back, cycles):
    assert expected_cycles(back) == cycles


def test_open_ended_with_full_retention_is_refused_naming_the_field():
    back = Back("x", D(1), D(0), D(0), D(1), recurring=True, retention=D(1), cycles=None)
    with pytest.raises(PlanInputError) as caught:
        evaluate(PlanInput(front=Front(D(1), D(0), D(0)), acquisition=Acquisition(), backs=(back, back)))
    assert caught.value.field == "backs.0.retention"


def test_sensitivity_swings_each_input_by_a_fifth_and_marks_zeros_insensitive():
    swings = {swing.path: swing for swing in sensitivity(HEALTH_FOOD)}
    take = swings["backs.0.take_rate"]
    # take rate 0.25 → 0.20 and 0.30: the back value moves by ∓20% of 3970.88 = ∓794.18
    assert round_money(take.low_profit) == round_money(D("2928.284") - D("794.175"))
    assert round_money(take.high_profit) == round_money(D("2928.284") + D("794.175"))
    assert swings["front.premium_cost"].sensitive is False
    assert swings["acquisition.affiliate_rate"].sensitive is False
    spreads = [swing.spread for swing in swings.values()]
    assert spreads == sorted(spreads, reverse=True)  # the widest bar heads the tornado


def test_sensitivity_clamps_rates_to_their_range():
    plan = PlanInput(front=Front(D(1000), D(0), D(0)), acquisition=Acquisition(),
                     backs=(Back("x", D(1000), D(0), D(0), D("0.9"), recurring=True, retention=D("0.95")),))
    swings = {s.path: s for s in sensitivity(plan)}
    # take rate 0.9 × 1.2 = 1.08 → 1; retention 0.95 × 1.2 → just below 1 (open-ended)
    assert swings["backs.0.take_rate"].high_profit == evaluate(
        PlanInput(front=plan.front, acquisition=plan.acquisition,
                  backs=(Back("x", D(1000), D(0), D(0), D(1), recurring=True, retention=D("0.95")),))
    ).profit_per_customer


def test_the_same_seed_gives_the_same_simulation_and_another_seed_differs():
    ranges = {"backs.0.take_rate": (D("0.15"), D("0.35")), "acquisition.ad_cost": (D(1000), D(2500))}
    first = simulate(HEALTH_FOOD, ranges=ranges, draws=500, seed=1)
    assert simulate(HEALTH_FOOD, ranges=ranges, draws=500, seed=1) == first
    assert simulate(HEALTH_FOOD, ranges=ranges, draws=500, seed=2).profits != first.profits
    assert first.p10 <= first.p50 <= first.p90
    # Every draw lies between the worst corner (take 0.15, ad 2500: 457.41 + 0.6 × 3970.88 − 2500 = 339.93)
    # and the best (take 0.35, ad 1000: 457.41 + 1.4 × 3970.88 − 1000 = 5016.64).
    assert all(D("339.9") < profit < D("5016.7") for profit in first.profits)


def test_simulation_counts_losses():
    ranges = {"acquisition.ad_cost": (D(0), D(10000))}  # profit 4428 − ad cost: a loss above 4428
    result = simulate(HEALTH_FOOD, ranges=ranges, draws=2000, seed=7)
    assert D("0.50") < result.p_loss < D("0.62")  # expected share 1 − 4428/10000 = 0.557


@pytest.mark.parametrize(("path", "low", "high", "field"), [
    ("backs.3.take_rate", D(0), D(1), "uncertainty.ranges.backs.3.take_rate"),
    ("backs.0.take_rate", D("0.5"), D("1.5"), "uncertainty.ranges.backs.0.take_rate"),
    ("acquisition.ad_cost", D(10), D(5), "uncertainty.ranges.acquisition.ad_cost"),
    ("front.colour", D(0), D(1), "uncertainty.ranges.front.colour"),
])
def test_bad_simulation_ranges_name_the_range(path, low, high, field):
    with pytest.raises(PlanInputError) as caught:
        check_range(HEALTH_FOOD, path, low, high)
    assert caught.value.field == field


money = st.integers(min_value=0, max_value=10**7).map(D)
rates = st.decimals(min_value=0, max_value=1, places=4)
taxes = st.sampled_from([D(0), D("0.08"), D("0.10")])


@st.composite
def plans(draw):
    back = Back("b", draw(money), draw(taxes), draw(money), draw(rates), recurring=draw(st.booleans()),
                retention=draw(st.decimals(min_value=0, max_value=D("0.99"), places=2)),
                cycles=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=36))))
    return PlanInput(
        front=Front(draw(money), draw(taxes), draw(money), draw(money)),
        acquisition=Acquisition(draw(money), draw(st.decimals(min_value=0, max_value=D("0.99"), places=4)),
                                draw(money)),
        backs=(back,),
        target_profit_per_customer=draw(money),
        monthly_profit_target=draw(money),
        lead_conversion=draw(st.decimals(min_value=D("0.01"), max_value=1, places=2)),
    )


@given(plans())
def test_the_breakeven_price_breaks_even_by_less_than_one_yen(plan):
    result = evaluate(plan)
    at = PlanInput(front=Front(D(result.breakeven_front_price), plan.front.tax_rate, plan.front.unit_cost,
                               plan.front.premium_cost), acquisition=plan.acquisition)
    front_profit = evaluate(at).front_margin - evaluate(at).acquisition_cost
    assert D(0) <= front_profit < D(1)


@given(plans(), money, money)
def test_allowable_cpa_falls_as_the_target_rises(plan, target_a, target_b):
    low, high = sorted((target_a, target_b))
    cpa_low = evaluate(PlanInput(**{**plan.__dict__, "target_profit_per_customer": low})).allowable_cpa
    cpa_high = evaluate(PlanInput(**{**plan.__dict__, "target_profit_per_customer": high})).allowable_cpa
    assert cpa_high <= cpa_low
    assert abs((cpa_low - cpa_high) - (high - low)) < D("1e-9")  # equal up to Decimal's 28 digits


@given(plans())
def test_enough_customers_reach_the_target_and_one_fewer_does_not(plan):
    result = evaluate(plan)
    if result.customers_needed is None:
        assert result.profit_per_customer <= 0
        return
    assert result.customers_needed * result.profit_per_customer >= plan.monthly_profit_target
    assert (result.customers_needed - 1) * result.profit_per_customer < plan.monthly_profit_target or (
        result.customers_needed == 0)
