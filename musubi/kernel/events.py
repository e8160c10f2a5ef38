"""In-process publish/subscribe between apps of different layers.

A lower app publishes a fact it owns (``OptInCompleted``); a higher app that must react subscribes in its
``AppConfig.ready()``. The reaction therefore lives in the higher app and can be found with grep, and the
lower app never imports the higher one. Unlike Django model signals, events are domain facts with a name
and typed fields, published deliberately by a service.

Handlers run synchronously inside the publisher's transaction, so a reaction commits or rolls back with the
fact that caused it. A handler that needs slow work (sending, calling a provider) enqueues a task with
``transaction.on_commit`` instead of doing it inline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every published event; subclasses are frozen dataclasses named for what happened."""

    workspace_id: int


_subscribers: dict[type[Event], list[Callable[[Any], None]]] = defaultdict(list)


def subscribe[E: Event](event_type: type[E], handler: Callable[[E], None]) -> None:
    """Call ``handler`` for every published ``event_type`` (and its subclasses). Idempotent."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def unsubscribe[E: Event](event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _subscribers[event_type]:
        _subscribers[event_type].remove(handler)


def publish(event: Event) -> None:
    for event_type in type(event).__mro__:
        for handler in list(_subscribers.get(event_type, ())):  # type: ignore[call-overload]
            handler(event)
