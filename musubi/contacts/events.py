"""Facts the contacts app publishes for higher layers."""

from __future__ import annotations

from dataclasses import dataclass

from musubi.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class ContactTagged(Event):
    contact_id: int
    tag: str


@dataclass(frozen=True, kw_only=True)
class ContactErased(Event):
    """A person was erased: ``contact_ids`` are their record and those merged into it. Higher layers drop
    what ties anything else to them."""

    contact_ids: tuple[int, ...]
