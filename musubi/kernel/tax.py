"""Consumption tax rates in force, read from the dated rates the law sets (kept as data in TaxRate)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from musubi.kernel.models import TaxCategory, TaxRate


def tax_rate_in_force(*, category: str = TaxCategory.STANDARD, on: dt.date, country: str = "JP") -> Decimal:
    """The rate of ``category`` in ``country`` on the day ``on``; LookupError when none is recorded."""
    rate = (
        TaxRate.objects.filter(country=country, category=category, valid_from__lte=on)
        .exclude(valid_until__lte=on)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise LookupError(f"no {category} tax rate recorded for {country} on {on}")
    return rate


JAPANESE_RATES = [
    (TaxCategory.STANDARD, Decimal("0.08"), dt.date(2014, 4, 1), dt.date(2019, 10, 1)),
    (TaxCategory.STANDARD, Decimal("0.10"), dt.date(2019, 10, 1), None),
    (TaxCategory.REDUCED, Decimal("0.08"), dt.date(2019, 10, 1), None),
]


def install_japanese_tax_rates() -> None:
    """Japan's rates since 2014 (a migration installs them too; tests that flush the database call this)."""
    for category, rate, valid_from, valid_until in JAPANESE_RATES:
        TaxRate.objects.update_or_create(country="JP", category=category, valid_from=valid_from,
                                         defaults={"rate": rate, "valid_until": valid_until})
