"""Group commit: many small writes that must each be durable before their request is answered, committed
together.

A tracking-link click or an email open must be in the database before the redirect or the pixel leaves (an
answered request is never a lost record), but one commit per request caps a web process at a few thousand a
second. A ``GroupCommit`` takes items from many requests and commits whatever has gathered — every item waiting
at that moment, up to ``max_batch`` — in one transaction, then releases all their waiters. Under load one commit
carries many items; alone, an item waits only for its own commit. A crash loses only items whose requests were
never answered.

Two ways to wait, one guarantee:

* ``record`` (a request thread, WSGI): the item goes to one writer thread per process, which commits through
  Django's connection with ``write_sync``.
* ``await record_async`` (an event loop, ASGI): on PostgreSQL, when the owner gave ``write_async``, the loop
  itself writes through one asynchronous psycopg connection of its own — no thread, no hand-over between
  threads, and the interpreter lock is never fought over while a commit is in flight. Elsewhere (SQLite) the
  item goes to the writer thread, which wakes the loop once per group rather than once per item.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

LANES = 2  # groups in flight at once per event loop (see _LoopWriter)

type AsyncWrite[T] = Callable[[Any, list[T]], Awaitable[None]]  # (psycopg.AsyncConnection in autocommit, items)


@dataclass(eq=False)
class _Waiting[T]:
    item: T
    done: threading.Event | None = None  # a thread's waiter
    future: asyncio.Future[None] | None = None  # an event loop's waiter
    error: BaseException | None = field(default=None)


class GroupCommit[T]:
    """One per kind of item per process. ``write_sync`` writes a group through Django's connection inside a
    transaction it does not open itself; ``write_async`` (PostgreSQL only) writes a group through an
    autocommit psycopg connection and must leave it committed — one statement, or a transaction block."""

    def __init__(self, *, name: str, write_sync: Callable[[list[T]], None],
                 write_async: AsyncWrite[T] | None = None, max_batch: int = 500) -> None:
        self.name = name
        self.max_batch = max_batch
        self._write_sync = write_sync
        self._write_async = write_async
        self._queue: queue.SimpleQueue[_Waiting[T] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopWriter[T]] = {}
        self.commits = 0
        self._vendor: str | None = None

    # --- waiting from a thread ---------------------------------------------------------------------------

    def record(self, item: T) -> None:
        """Return once ``item`` is committed; raise if its commit failed."""
        done = threading.Event()
        waiting = _Waiting(item, done=done)
        self._put(waiting)
        done.wait()
        if waiting.error is not None:
            raise waiting.error

    # --- waiting on an event loop ------------------------------------------------------------------------

    async def record_async(self, item: T) -> None:
        """``record`` for a request on an event loop: it waits without holding a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self._write_async is not None and self._on_postgresql():
            writer = self._loops.get(loop)
            if writer is None:
                for old in [other for other in self._loops if other.is_closed()]:
                    self._loops.pop(old).close()
                writer = self._loops[loop] = _LoopWriter(self, loop, self._write_async)
            writer.add(_Waiting(item, future=future))
        else:
            self._put(_Waiting(item, future=future))
        await future

    def _on_postgresql(self) -> bool:
        if self._vendor is None:  # asked once: Django's connection proxy costs a few microseconds a request
            self._vendor = connection.vendor
        return self._vendor == "postgresql"

    # --- the writer thread -------------------------------------------------------------------------------

    def _put(self, waiting: _Waiting[T]) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name=f"{self.name}-writer", daemon=True)
                    self._thread.start()
        self._queue.put(waiting)

    def stop(self) -> None:
        """Let the writer thread finish and close its database connection, and close the event loops'
        connections (each starts again when next needed)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(5)
        for loop, writer in list(self._loops.items()):
            self._loops.pop(loop, None)
            writer.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                connection.close()
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(more)  # handled after this batch
                    break
                batch.append(more)
            error: BaseException | None = None
            try:
                # The writer keeps its connection across groups (reconnecting would cost more than the commit);
                # a failed group closes it, and the next group connects afresh.
                with transaction.atomic():
                    self._write_sync([w.item for w in batch])
                self.commits += 1
            except BaseException as exc:  # noqa: BLE001 — the waiters answer 503; the next group tries afresh
                error = exc
                connection.close()
            self._release(batch, error)

    @staticmethod
    def _release(batch: list[_Waiting[T]], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiting in batch:
            if waiting.future is not None:
                by_loop.setdefault(waiting.future.get_loop(), []).append(waiting.future)
            elif waiting.done is not None:
                waiting.error = error
                waiting.done.set()
        for loop, futures in by_loop.items():  # one wake-up per loop, not one per item
            try:
                loop.call_soon_threadsafe(_settle, futures, error)
            except RuntimeError:  # that loop has closed; nobody is waiting any more
                pass


class _LoopWriter[T]:
    """The asynchronous writer of one event loop: up to ``LANES`` groups in flight at once, each on its own
    psycopg connection. A lane takes everything waiting when it starts a group; what arrives meanwhile goes to
    an idle lane at once, or waits for the next group. With one lane a request that arrives during a commit
    waits for that commit and then its own; with two, its group is sent while the other is being flushed, and
    the server's WAL flush commits both together."""

    def __init__(self, owner: GroupCommit[T], loop: asyncio.AbstractEventLoop, write: AsyncWrite[T]) -> None:
        self.owner = owner
        self.loop = loop
        self.write = write
        self.waiting: list[_Waiting[T]] = []
        self.idle: list[Any] = [None] * LANES  # connections of idle lanes (None: not yet connected)

    def add(self, waiting: _Waiting[T]) -> None:
        self.waiting.append(waiting)
        if self.idle and len(self.waiting) == 1:
            self.loop.create_task(self._lane(self.idle.pop()))

    async def _lane(self, pg: Any) -> None:
        try:
            while self.waiting:
                batch = self.waiting[:self.owner.max_batch]
                del self.waiting[:self.owner.max_batch]
                error: BaseException | None = None
                try:
                    if pg is None or pg.closed:
                        pg = await _connect()
                    await self.write(pg, [w.item for w in batch])
                    self.owner.commits += 1
                except Exception as exc:  # noqa: BLE001 — the waiters answer 503; the next group connects afresh
                    error = exc
                    await _discard(pg)
                    pg = None
                _settle([w.future for w in batch if w.future is not None], error)
        finally:
            self.idle.append(pg)

    def close(self) -> None:
        """Close the idle lanes' connections from outside their loop (tests, shutdown)."""
        connections = [pg for pg in self.idle if pg is not None]
        self.idle = [None] * len(self.idle)
        for pg in connections:
            if self.loop.is_running() and not self.loop.is_closed():
                asyncio.run_coroutine_threadsafe(_discard(pg), self.loop)
            else:  # the loop is gone (asyncio.run has returned): end the session without it
                pg.pgconn.finish()


async def _discard(pg: Any) -> None:
    if pg is not None:
        try:
            await pg.close()
        except Exception:  # noqa: BLE001, S110 — it is being thrown away either way
            pass


async def _connect() -> Any:
    """An autocommit psycopg connection to Django's default database, with Django's own parameters and type
    adapters (time zones), and server-side prepared statements: the same few statements run every group."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's is a synchronous cursor
    params["prepare_threshold"] = 0
    return await psycopg.AsyncConnection.connect(**params, autocommit=True)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
