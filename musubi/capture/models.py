"""Sources, their costs, tracking links and clicks."""

from __future__ import annotations

from django.db import models

from musubi.capture.choices import SourceKind
from musubi.kernel.models import WorkspaceOwned


class Source(WorkspaceOwned):
    """Where people come from: an ad, an affiliate, an ad in another business's newsletter, table 12's QR
    code. Its costs, set against the contacts and sales it brings, give its return."""

    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="source_unique_name")]

    def __str__(self) -> str:
        return self.name


class SourceCost(WorkspaceOwned):
    """Money spent on a source on a day (an ad invoice, printing the table cards), in minor units."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="costs")
    amount = models.PositiveBigIntegerField()
    spent_on = models.DateField()
    note = models.CharField(max_length=200, blank=True, default="")


class TrackingLink(WorkspaceOwned):
    """A short link ``/r/<code>`` that records a click and redirects to ``target_url`` with the source's UTM
    parameters added. The code is global (the URL carries no workspace) and short enough to print."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="links")
    code = models.CharField(max_length=16, unique=True)
    target_url = models.URLField(max_length=2000)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()


class Click(WorkspaceOwned):
    """One click on a tracking link, recorded before the redirect is answered. The IP is kept only as a keyed
    hash; ``is_bot`` marks link previews and crawlers, which are kept but not counted as people."""

    link = models.ForeignKey(TrackingLink, on_delete=models.CASCADE, related_name="clicks")
    at = models.DateTimeField()
    visitor_id = models.CharField(max_length=36)
    ip_hash = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    referrer = models.CharField(max_length=500, blank=True, default="")
    is_bot = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["workspace", "link", "at"], name="click_ws_link_at"),
                   models.Index(fields=["workspace", "visitor_id", "at"], name="click_ws_visitor_at")]
