"""Facts the contacts app publishes for higher layers."""

from __future__ import annotations

from dataclasses import dataclass

from musubi.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class ContactTagged(Event):
    contact_id: int
    tag: str
