"""Recording facts: every app appends what happened to the one fact table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from musubi.kernel import clock
from musubi.kernel.models import Fact
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
