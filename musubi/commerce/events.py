"""Facts the sales app publishes. Messaging starts a sequence on a front-end purchase and ends one on a
back-end purchase or a cancellation; analytics counts revenue."""

from __future__ import annotations

from dataclasses import dataclass

from musubi.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class OrderPaid(Event):
    order_id: int
    contact_id: int
    offer_id: int
    role: str  # the offer's place on the ladder: front / middle / back
    amount: int
    currency: str
    subscription_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class OrderRefunded(Event):
    order_id: int
    contact_id: int
    amount: int
    currency: str
    fully: bool


@dataclass(frozen=True, kw_only=True)
class SubscriptionStarted(Event):
    subscription_id: int
    contact_id: int
    offer_id: int


@dataclass(frozen=True, kw_only=True)
class SubscriptionRenewed(Event):
    subscription_id: int
    contact_id: int
    order_id: int
    cycle: int


@dataclass(frozen=True, kw_only=True)
class SubscriptionCancelled(Event):
    subscription_id: int
    contact_id: int
    by_customer: bool
