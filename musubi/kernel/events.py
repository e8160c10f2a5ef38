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
# Handlers that take a list: a publisher of thousands of events at once (a renewal run) calls each of these
# once per batch instead of once per event, so a reaction costs a query per batch, not per event.
_batch_subscribers: dict[type[Event], list[Callable[[list[Any]], None]]] = defaultdict(list)


def subscribe[E: Event](event_type: type[E], handler: Callable[[E], None]) -> None:
    """Call ``handler`` for every published ``event_type`` (and its subclasses). Idempotent."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def unsubscribe[E: Event](event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _subscribers[event_type]:
        _subscribers[event_type].remove(handler)


def subscribe_batches[E: Event](event_type: type[E], handler: Callable[[list[E]], None]) -> None:
    """Call ``handler`` with the published ``event_type`` events (one or many at a time). Idempotent."""
    if handler not in _batch_subscribers[event_type]:
        _batch_subscribers[event_type].append(handler)


def unsubscribe_batches[E: Event](event_type: type[E], handler: Callable[[list[E]], None]) -> None:
    if handler in _batch_subscribers[event_type]:
        _batch_subscribers[event_type].remove(handler)


def publish(event: Event) -> None:
    publish_all([event])


def publish_all(published: list[Event]) -> None:
    """Publish events in order; batch handlers get each run of events of one type as one list."""
    for event in published:
        for event_type in type(event).__mro__:
            for handler in list(_subscribers.get(event_type, ())):  # type: ignore[call-overload]
                handler(event)
    by_type: dict[type[Event], list[Event]] = defaultdict(list)
    for event in published:
        by_type[type(event)].append(event)
    for concrete, events in by_type.items():
        for event_type in concrete.__mro__:
            for batch_handler in list(_batch_subscribers.get(event_type, ())):  # type: ignore[call-overload]
                batch_handler(events)
