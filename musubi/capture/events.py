"""Facts the capture app publishes for higher layers (messaging starts sequences on them)."""

from __future__ import annotations

from dataclasses import dataclass

from musubi.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class OptInCompleted(Event):
    """A person completed an opt-in (after confirming, when the form asks for double opt-in)."""

    contact_id: int
    capture_point_id: int


@dataclass(frozen=True, kw_only=True)
class LineFriendAdded(Event):
    """A person added a connected LINE account as a friend (again, after a block, when ``unblocked``)."""

    contact_id: int
    line_channel_id: int
    unblocked: bool
