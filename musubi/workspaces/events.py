"""Facts the workspaces app publishes."""

from __future__ import annotations

from dataclasses import dataclass

from musubi.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class WorkspaceCreated(Event):
    slug: str
