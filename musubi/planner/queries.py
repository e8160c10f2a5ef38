"""Reads of the planner."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from musubi.kernel.errors import NotFound
from musubi.planner.models import Plan
from musubi.workspaces.models import Workspace


def plans(workspace: Workspace) -> QuerySet[Plan]:
    return Plan.objects.for_workspace(workspace).select_related("ladder", "front_offer").order_by("-updated_at", "-id")


def plan(workspace: Workspace, plan_id: int) -> Plan:
    found = plans(workspace).filter(pk=plan_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such plan."))
    return found
