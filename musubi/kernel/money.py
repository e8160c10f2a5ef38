"""Money as integer minor units with a currency, and consumption tax computed the Japanese way.

Amounts are never floats: ``Money(1980, "JPY")`` is 1,980 yen, ``Money(1250, "USD")`` is $12.50.
Prices are entered and shown tax-inclusive (総額表示). A qualified invoice (適格請求書) computes tax
once per rate per document, from the sum of that rate's tax-inclusive lines, rather than per line and
then added up, which is what ``tax_breakdown`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

# ISO 4217 minor-unit exponents of the currencies Musubi accepts.
CURRENCY_EXPONENTS: dict[str, int] = {"JPY": 0, "USD": 2, "EUR": 2, "GBP": 2, "TWD": 0, "KRW": 0}
_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}


class CurrencyMismatch(ValueError):
    pass


def check_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise ValueError(f"unsupported currency {code!r}; expected one of {', '.join(sorted(CURRENCY_EXPONENTS))}")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"Money.amount must be an int of minor units, not {type(self.amount).__name__}")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, factor: Decimal | int, *, rounding: str = ROUND_HALF_UP) -> Money:
        """This amount multiplied by ``factor``, rounded to the minor unit (half away from zero by default)."""
        exact = Decimal(self.amount) * Decimal(factor)
        return Money(int(exact.to_integral_value(rounding=rounding)), self.currency)

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def as_decimal(self) -> Decimal:
        """The amount in major units (12.50 for 1250 cents)."""
        return Decimal(self.amount).scaleb(-self.exponent)

    def format(self) -> str:
        """``¥1,980`` / ``$12.50`` / ``-¥300``."""
        sign = "-" if self.amount < 0 else ""
        major = abs(self.as_decimal())
        number = f"{major:,.{self.exponent}f}"
        symbol = _SYMBOLS.get(self.currency)
        return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {self.currency}"

    def __str__(self) -> str:
        return self.format()


def net_of(gross: Money, rate: Decimal) -> Decimal:
    """The exact tax-exclusive amount (in minor units, not rounded) inside a tax-inclusive price."""
    return Decimal(gross.amount) / (1 + rate)


def tax_in(gross: Money, rate: Decimal, *, rounding: str = ROUND_DOWN) -> Money:
    """The consumption tax contained in a tax-inclusive amount, rounded once (down by default: 切り捨て)."""
    tax = Decimal(gross.amount) * rate / (1 + rate)
    return Money(int(tax.to_integral_value(rounding=rounding)), gross.currency)


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One rate's total on a document: the tax-inclusive sum and the tax it contains."""

    rate: Decimal
    gross: Money
    tax: Money

    @property
    def net(self) -> Money:
        return self.gross - self.tax


def tax_breakdown(lines: Iterable[tuple[Money, Decimal]], *, rounding: str = ROUND_DOWN) -> list[TaxLine]:
    """Group tax-inclusive line amounts by rate and compute tax once per rate, as an invoice must.

    Returned highest rate first (10% before 8%), the order Japanese invoices print them.
    """
    totals: dict[Decimal, Money] = {}
    for gross, rate in lines:
        totals[rate] = totals[rate] + gross if rate in totals else gross
    return [
        TaxLine(rate=rate, gross=gross, tax=tax_in(gross, rate, rounding=rounding))
        for rate, gross in sorted(totals.items(), key=lambda item: item[0], reverse=True)
    ]
