"""Recording facts, and reading tax rates in force: the kernel's two small services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from musubi.kernel import clock
from musubi.kernel.models import Fact, TaxCategory, TaxRate
from musubi.kernel.money import Money


def record_fact(
    *,
    workspace_id: int,
    kind: str,
    occurred_at: dt.datetime | None = None,
    contact_id: int | None = None,
    source_id: int | None = None,
    subject: tuple[str, str | int] | None = None,
    amount: Money | None = None,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> tuple[Fact, bool]:
    """Append a fact; with a ``dedupe_key`` already recorded, return the first one and ``False``."""
    subject_type, subject_id = subject if subject else ("", "")
    fact = Fact(
        workspace_id=workspace_id,
        kind=kind,
        occurred_at=occurred_at or clock.now(),
        contact_id=contact_id,
        source_id=source_id,
        subject_type=subject_type,
        subject_id=str(subject_id),
        amount=amount.amount if amount else None,
        currency=amount.currency if amount else "",
        data=data or {},
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        fact.save()
        return fact, True
    try:
        with transaction.atomic():
            fact.save()
    except IntegrityError:
        return Fact.objects.get(workspace_id=workspace_id, dedupe_key=dedupe_key), False
    return fact, True


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
