from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musubi.kernel.money import CurrencyMismatch, Money, net_of, tax_breakdown, tax_in

EIGHT = Decimal("0.08")
TEN = Decimal("0.10")


def test_money_adds_and_subtracts_in_one_currency():
    assert Money(980, "JPY") + Money(4980, "JPY") == Money(5960, "JPY")
    assert Money(980, "JPY") - Money(1000, "JPY") == Money(-20, "JPY")


def test_money_refuses_to_mix_currencies():
    with pytest.raises(CurrencyMismatch):
        Money(980, "JPY") + Money(980, "USD")


def test_money_refuses_floats_and_unknown_currencies():
    with pytest.raises(TypeError):
        Money(9.8, "JPY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported currency 'XYZ'"):
        Money(1, "XYZ")


def test_money_formats_yen_without_decimals_and_dollars_with_cents():
    assert Money(298000, "JPY").format() == "¥298,000"
    assert Money(1250, "USD").format() == "$12.50"
    assert Money(-300, "JPY").format() == "-¥300"


def test_times_rounds_half_away_from_zero_by_default():
    assert Money(2980, "JPY").times(Decimal("0.88")) == Money(2622, "JPY")  # 2622.4
    assert Money(5, "JPY").times(Decimal("0.5")) == Money(3, "JPY")  # 2.5 → 3
    assert Money(-5, "JPY").times(Decimal("0.5"), rounding=ROUND_HALF_UP) == Money(-3, "JPY")


def test_tax_in_a_tax_inclusive_price_is_rounded_down_once():
    # 980 yen at 8%: 980 × 8/108 = 72.59… → 72 yen of tax.
    assert tax_in(Money(980, "JPY"), EIGHT) == Money(72, "JPY")
    assert tax_in(Money(4980, "JPY"), TEN) == Money(452, "JPY")  # 452.72…


def test_invoice_rounds_tax_once_per_rate_not_per_line():
    # Three 8% lines of 100 yen: per line 7.40… → 7 each = 21; per document 300 × 8/108 = 22.2 → 22.
    lines = [(Money(100, "JPY"), EIGHT)] * 3 + [(Money(1100, "JPY"), TEN)]
    breakdown = tax_breakdown(lines)
    assert [(line.rate, line.gross.amount, line.tax.amount) for line in breakdown] == [
        (TEN, 1100, 100),
        (EIGHT, 300, 22),
    ]
    assert sum(tax_in(gross, rate).amount for gross, rate in lines[:3]) == 21


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([EIGHT, TEN]))
def test_tax_and_net_add_up_to_the_gross(amount, rate):
    gross = Money(amount, "JPY")
    line = tax_breakdown([(gross, rate)])[0]
    assert line.net + line.tax == gross
    # Rounded down: never more tax than the exact figure, and less than one yen below it.
    exact = Decimal(amount) - net_of(gross, rate)
    assert 0 <= exact - line.tax.amount < 1
