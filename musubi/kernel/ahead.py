"""Running an iterator on a thread of its own, a bounded number of items ahead of whoever reads it.

A sender composes mail (pure Python) and records outcomes (waits on the database) in turn; while its thread
waits for a commit, the interpreter is free, and a thread composing the next mails can use it. Items arrive
in the source's order; an exception in the source is raised in the reader's thread at the point it
happened; a reader that stops early (``close()``, an exception of its own) stops the thread too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()
_POLL_SECONDS = 0.1


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead[T](source: Iterable[T], *, items: int, name: str = "musubi-ahead") -> Iterator[T]:
    """Yield ``source``'s items, produced on another thread at most ``items`` ahead of the reader. The
    source must not use the database (Django's connections belong to the thread that opened them)."""
    handed: queue.Queue[object] = queue.Queue(maxsize=max(1, items))
    stopped = threading.Event()

    def put(item: object) -> bool:
        while not stopped.is_set():
            try:
                handed.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 -- raised again in the reader's thread
            put(_Raised(exc))
            return
        put(_END)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = handed.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        thread.join()
