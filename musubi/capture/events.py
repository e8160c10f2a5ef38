"""Facts the capture app publishes for higher layers (messaging starts sequences on them)."""

from __future__ import annotations

import datetime as dt
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


@dataclass(frozen=True, kw_only=True)
class LineMessageReceived(Event):
    """A friend sent the account a message, or tapped a button that posts data back (``postback``). The
    ``reply_token`` lets the account answer for free within a short time."""

    contact_id: int
    line_channel_id: int
    user_id: str
    text: str
    message_id: str
    reply_token: str
    postback: bool
    at: dt.datetime
