"""Saved plans."""

from __future__ import annotations

from django.db import models

from musubi.kernel.models import WorkspaceOwned


class Plan(WorkspaceOwned):
    """A plan: one saved scenario of a ladder's economics — its prices, costs, take rates and targets.

    ``inputs`` holds exactly what ``POST /api/v1/planner/evaluate`` takes, so a plan and the stateless API
    compute the same way. A plan made from a ladder copies its defaults from the ladder's offers and steps
    (``front_offer`` says which front-end); "refresh from ladder" copies them again and keeps the plan's own
    acquisition costs and targets.
    """

    name = models.CharField(max_length=200)
    ladder = models.ForeignKey("catalog.Ladder", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    front_offer = models.ForeignKey("catalog.Offer", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    inputs = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "name"], name="plan_ws_name")]

    def __str__(self) -> str:
        return self.name
