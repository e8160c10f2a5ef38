"""Kernel tables: the workspace-scoped base, the append-only fact table, and tax rates as data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Any) -> Self:
        """Every read of workspace-owned rows starts here."""
        return self.filter(workspace=workspace)


class WorkspaceOwned(models.Model):
    """Base of every row a workspace owns: the row carries its workspace, and queries start from it.

    The foreign key names the model through ``settings.MUSUBI_WORKSPACE_MODEL`` so the kernel never imports
    the workspaces app above it. Subclasses lead their indexes with ``workspace`` so a later move to a
    PostgreSQL sharded by workspace needs no schema change.
    """

    workspace = models.ForeignKey(settings.MUSUBI_WORKSPACE_MODEL, on_delete=models.CASCADE, related_name="+")

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        abstract = True


class AppendOnlyError(RuntimeError):
    pass


class Fact(models.Model):
    """A fact: something that happened to a workspace, written once and never changed.

    Every app records its facts here (a click, an opt-in, a delivery, an order paid, a refund) with the
    contact and source it concerns, an optional amount, and a reference to the object behind it. Segments
    and analytics read this one table, so a funnel or a cohort never has to join every app's tables.
    ``contact_id`` and ``source_id`` are plain integers rather than foreign keys: facts belong to the
    kernel, below the apps that own contacts and sources, and they outlive a contact's erasure as
    pseudonymous history. ``dedupe_key``, when given, makes recording the same fact twice a no-op.
    """

    id = models.BigAutoField(primary_key=True)
    # No foreign-key constraint in the database: facts are an append-only log written in bulk (an import writes
    # several per person) and PostgreSQL checks each row's key on its own at commit. Only the code writes
    # facts, always for a workspace it holds; deleting a workspace through the ORM still cascades here. No index
    # of its own either: every index below leads with it.
    workspace = models.ForeignKey(settings.MUSUBI_WORKSPACE_MODEL, on_delete=models.CASCADE, related_name="+",
                                  db_constraint=False, db_index=False)
    kind = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    contact_id = models.BigIntegerField(null=True, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    subject_type = models.CharField(max_length=64, blank=True, default="")
    subject_id = models.CharField(max_length=64, blank=True, default="")
    amount = models.BigIntegerField(null=True, blank=True, help_text="Minor units of `currency`.")
    currency = models.CharField(max_length=3, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        # Both carry the contact and the kind, so segments answer "who had a fact of this kind since then" and
        # "has this contact had one" from the index alone (index-only scans), without visiting the table.
        indexes = [
            models.Index(fields=["workspace", "kind", "occurred_at", "contact_id"], name="fact_ws_kind_time_contact"),
            models.Index(fields=["workspace", "contact_id", "kind", "occurred_at"], name="fact_ws_contact_kind_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="fact_unique_dedupe_key",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | ~models.Q(currency=""),
                name="fact_amount_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("facts are append-only: record a new fact instead of changing one")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("facts are append-only and are removed only by the retention job")


class TaxCategory(models.TextChoices):
    STANDARD = "standard", _("Standard rate")
    REDUCED = "reduced", _("Reduced rate")


class TaxRate(models.Model):
    """A consumption tax rate set by law for a country and category over a period of time.

    Rates are data because they change (Japan: 8% until 2019-09-30, then 10% standard and 8% reduced for
    food and drink) and because other countries differ. ``valid_until`` is exclusive; null means in force.
    """

    country = models.CharField(max_length=2, default="JP")
    category = models.CharField(max_length=16, choices=TaxCategory.choices)
    rate = models.DecimalField(max_digits=5, decimal_places=4)
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["country", "category", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["country", "category", "valid_from"], name="taxrate_unique_start"),
            models.CheckConstraint(
                condition=models.Q(rate__gte=Decimal("0")) & models.Q(rate__lt=Decimal("1")),
                name="taxrate_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.category} {self.rate:.0%} from {self.valid_from}"


class RateCounter(models.Model):
    """Hits on a rate-limited key in one fixed window (``period`` = epoch seconds // window length).

    Kept in the database, not a per-process cache, so the limit holds across every web process without
    another service to run; see ``kernel.ratelimit``."""

    key = models.CharField(max_length=100)
    period = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "period"], name="ratecounter_unique_period")]

    def __str__(self) -> str:
        return f"{self.key}@{self.period}: {self.hits}"
