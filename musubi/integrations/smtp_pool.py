"""Sending many messages over a few concurrent SMTP connections, from ordinary synchronous code.

The messaging engine runs in a worker process as plain Django code; it hands an iterator of
:class:`Envelope` to :meth:`SmtpPool.send` (or the one-off :func:`send_all`) and gets an iterator of
:class:`SmtpResult` back, one per envelope, each as soon as the server has answered that message, in the
caller's own thread, so the caller records it at once. The window in which a crash makes a message go twice
is the time between the server's 250 and that record.

An :class:`SmtpPool` keeps its thread and its connections open from one ``send`` to the next, so a worker
sending batch after batch pays for connecting (TCP, EHLO, STARTTLS, AUTH) once, not once per batch; a
connection left idle for ``idle_seconds`` is closed (servers drop idle clients anyway) and opened again when
mail comes.

Inside, an asyncio loop in a background thread runs ``connections`` workers on aiosmtplib, each with its own
connection. Between the two threads at most ``window`` envelopes are on their way (handed over and not yet
answered), so memory stays flat whatever the count, and the caller's iterator is only advanced in the
caller's thread (it may read the database as it goes).

How answers become outcomes:

- 250 → ``SENT``.
- 4xx, a timeout, a refused or dropped connection → ``RETRY``. A connection that turns out to be gone before
  the message's content was sent (at MAIL or RCPT) is opened again and the message tried once more on it:
  the server cannot have accepted it. If it drops after the content went out, the server may or may not have
  accepted it and only ``RETRY`` is honest (SMTP cannot say more; a second copy is possible).
- 5xx for the recipient (``stage`` ``rcpt``) or the content (``data``) → ``FAILED`` with the code; the caller
  counts 5.1.x recipient refusals as hard bounces.
- A server that cannot be reached, refuses our login or refuses the sender itself (5xx at MAIL: 530
  STARTTLS or AUTH required, 550 not allowed to send as this address) is marked down: that message and
  every remaining one is answered ``RETRY`` (with the code and text) at once, so a down or misconfigured
  server costs one timeout, not one per message, and the caller can pause and show why. Unreachable means
  every connection failed once in a row.

Connections are closed and opened again after ``max_per_connection`` messages (servers limit it too). If the
caller stops iterating (``close()`` on the generator, or an exception in its own iterator), no further
message is started, those in progress are finished or abandoned after ``timeout``, and the pool is closed
(its connections too) before the generator returns; a closed pool sends nothing more.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Envelope", "Outcome", "SmtpPool", "SmtpResult", "SmtpServer", "send_all"]


@dataclass(frozen=True)
class Envelope:
    """One message to one recipient. ``key`` is the caller's (the delivery's id) and comes back in the
    result; ``data`` is the whole message, signed already unless :func:`send_all` is given ``sign``."""

    key: int
    mail_from: str
    rcpt_to: str
    data: bytes


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SmtpResult:
    """What became of one envelope. ``code`` is the server's reply code (0 when there was no reply: a
    timeout or no connection); ``detail`` its text or the error; ``stage`` where it ended: ``connect``,
    ``mail``, ``rcpt`` or ``data``."""

    key: int
    outcome: Outcome
    code: int
    detail: str
    stage: str = ""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send. ``security``: ``none``, ``starttls`` (upgrade on port 587 or 25) or ``tls``
    (TLS from the start, port 465). ``username`` empty means no AUTH. ``timeout`` is per SMTP command.
    ``ca_file`` trusts an extra certificate authority (a self-signed server); ``verify_certificates=False``
    trusts any certificate and is for tests only. ``helo_name`` is the name given in EHLO: the sending
    host's public name when Musubi delivers to the world itself (receivers compare it with the reverse DNS
    of the IP). ``max_per_connection`` messages are sent on a connection before it is opened anew."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    security: str = "none"
    timeout: float = 30
    connections: int = 4
    max_per_connection: int = 500
    helo_name: str = "localhost"
    ca_file: str = ""
    verify_certificates: bool = True

    def __post_init__(self) -> None:
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {self.security!r}")
        if self.connections < 1 or self.max_per_connection < 1:
            raise ValueError("connections and max_per_connection must be at least 1")


def classify(code: int) -> Outcome:
    """An SMTP reply code as an outcome: 2xx sent, 5xx failed, anything else (4xx, none) retry."""
    if 200 <= code < 300:
        return Outcome.SENT
    if 500 <= code < 600:
        return Outcome.FAILED
    return Outcome.RETRY


_END = object()  # no more envelopes for this worker
_IDLE = object()  # nothing came for idle_seconds


class _Pool:
    """The asyncio side; everything here runs on the background thread's loop."""

    def __init__(self, server: SmtpServer, results: queue.SimpleQueue[Any], idle_seconds: float) -> None:
        self.server = server
        self.results = results
        self.idle_seconds = idle_seconds
        self.stopping = False
        self.down: SmtpResult | None = None  # set once the server is known to be unreachable
        self.failures_in_row = 0
        # Envelopes come from the caller's thread through a deque (thread-safe append/popleft); the loop is
        # woken only when a worker waits for one, not once per envelope.
        self.waiting: collections.deque[Any] = collections.deque()
        self.hungry = 0
        self.wakeup = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    async def run(self) -> None:
        workers = [asyncio.create_task(self._worker()) for _ in range(self.server.connections)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    # Called from the caller's thread.

    def hand_over(self, envelope: Any) -> None:
        self.waiting.append(envelope)
        if self.hungry:  # read after the append: a worker going to sleep re-checks the deque first
            self.loop.call_soon_threadsafe(self.wakeup.set)

    def finish(self) -> None:
        """No more envelopes: each worker leaves once the deque is empty."""
        for _ in range(self.server.connections):
            self.hand_over(_END)

    def stop(self) -> None:
        """No new message is started; workers finish the one in hand and leave."""
        self.stopping = True
        self.finish()

    # On the loop.

    async def _next(self, idle: float | None) -> Any:
        """The next envelope, or ``_IDLE`` when none came within ``idle`` seconds (None: wait for ever)."""
        while True:
            with contextlib.suppress(IndexError):
                return self.waiting.popleft()
            self.hungry += 1
            try:
                if self.waiting:
                    continue
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), idle)
                except TimeoutError:
                    return _IDLE
            finally:
                self.hungry -= 1

    async def _worker(self) -> None:
        import aiosmtplib

        client: aiosmtplib.SMTP | None = None
        sent_here = 0
        try:
            while True:
                envelope = await self._next(self.idle_seconds if client is not None else None)
                if envelope is _IDLE:
                    await self._quit(client)
                    client = None
                    continue
                if envelope is _END:
                    return
                if self.stopping:
                    continue
                if isinstance(envelope, tuple):  # (envelope, its signature being made on another thread)
                    envelope, signing = envelope
                    data = signing.result() if signing.done() else await asyncio.wrap_future(signing)
                    envelope = Envelope(envelope.key, envelope.mail_from, envelope.rcpt_to, data)
                if self.down is not None:
                    self.results.put(SmtpResult(envelope.key, Outcome.RETRY, self.down.code, self.down.detail,
                                                "connect"))
                    continue
                result, client, sent_here = await self._deliver(envelope, client, sent_here)
                self.results.put(result)
        finally:
            if client is not None:
                await self._quit(client)

    async def _connect(self) -> Any:
        import aiosmtplib

        server = self.server
        context = None
        if server.security != "none":
            context = ssl.create_default_context(cafile=server.ca_file or None)
            if not server.verify_certificates:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=server.timeout,
                                 use_tls=server.security == "tls", start_tls=server.security == "starttls",
                                 tls_context=context, local_hostname=server.helo_name,
                                 username=server.username or None, password=server.password or None)
        await client.connect()
        return client

    async def _quit(self, client: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.quit(), timeout=min(self.server.timeout, 5))
        client.close()

    async def _deliver(self, envelope: Envelope, client: Any, sent_here: int) -> tuple[SmtpResult, Any, int]:
        import aiosmtplib

        key = envelope.key
        for attempt in (1, 2):
            if self.down is not None:
                return SmtpResult(key, Outcome.RETRY, self.down.code, self.down.detail, "connect"), client, sent_here
            if client is not None and (sent_here >= self.server.max_per_connection or not client.is_connected):
                await self._quit(client)
                client = None
            if client is None:
                try:
                    client = await self._connect()
                except aiosmtplib.SMTPAuthenticationError as exc:  # a wrong password will not come right
                    self.down = SmtpResult(key, Outcome.RETRY, exc.code, f"login refused: {exc.message}", "connect")
                    return self.down, None, 0
                except (aiosmtplib.SMTPException, OSError) as exc:
                    code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else 0
                    result = SmtpResult(key, Outcome.RETRY, code, f"cannot connect: {exc}", "connect")
                    self.failures_in_row += 1
                    if self.failures_in_row >= self.server.connections:
                        self.down = result
                    return result, None, 0
                self.failures_in_row = 0
                sent_here = 0
            stage = "mail"
            try:
                await client.mail(envelope.mail_from)
                stage = "rcpt"
                await client.rcpt(envelope.rcpt_to)
                stage = "data"
                response = await client.data(envelope.data)
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421 or not client.is_connected:  # the server is closing this connection
                    await self._quit(client)
                    client = None
                else:
                    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                        await client.rset()
                if stage == "mail" and exc.code >= 500:
                    # The sender itself is refused (530 STARTTLS or AUTH required, 550 not allowed to send as
                    # this address): every message would fail the same way until someone fixes the settings.
                    self.down = SmtpResult(key, Outcome.RETRY, exc.code, f"sender refused: {exc.message}", stage)
                    return self.down, client, sent_here
                return SmtpResult(key, classify(exc.code), exc.code, exc.message, stage), client, sent_here
            except (aiosmtplib.SMTPException, OSError) as exc:
                client.close()
                client = None
                if stage != "data" and attempt == 1:
                    continue  # gone before the content went out: the server has not got it
                return SmtpResult(key, Outcome.RETRY, 0, f"connection lost: {exc}", stage), None, 0
            sent_here += 1
            return SmtpResult(key, classify(response.code), response.code, response.message, "data"), client, sent_here
        raise AssertionError("unreachable")


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class SmtpPool:
    """Connections to one server, kept open across :meth:`send` calls; one caller thread at a time.

    :meth:`send` takes one batch and yields its results; the pool stays ready for the next batch until
    :meth:`close`. A server found down (unreachable, login or sender refused) answers the rest of that batch
    ``RETRY`` at once, and the next batch tries it again."""

    def __init__(self, server: SmtpServer, *, sign_threads: int = 2, idle_seconds: float = 10) -> None:
        if sign_threads < 1:
            raise ValueError("sign_threads must be at least 1")
        self.server = server
        self.closed = False
        self._results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._signing = ThreadPoolExecutor(sign_threads, "musubi-dkim")
        ready = threading.Event()
        holder: dict[str, Any] = {}
        results = self._results

        def loop_thread() -> None:
            async def main() -> None:
                pool = _Pool(server, results, idle_seconds)
                holder["pool"] = pool
                ready.set()
                await pool.run()

            try:
                asyncio.run(main())
            except BaseException as exc:  # noqa: BLE001  -- reported to the caller's thread, which raises it
                results.put(_Failed(exc))
            finally:
                ready.set()
                results.put(_END)

        self._thread = threading.Thread(target=loop_thread, name="musubi-smtp-pool", daemon=True)
        self._thread.start()
        ready.wait()
        self._pool: _Pool = holder["pool"]

    def send(self, envelopes: Iterable[Envelope], *, window: int = 0,
             sign: Callable[[bytes], bytes] | None = None) -> Iterator[SmtpResult]:
        """Send every envelope and yield one :class:`SmtpResult` per envelope as the server answers it (not in
        the input's order). ``envelopes`` is consumed lazily in the caller's thread; at most ``window``
        (default: 16 per connection) are on their way at any moment. Call it from synchronous code: inside a
        running event loop it would block that loop.

        ``sign`` (e.g. ``DkimSigner.sign``) is applied to each envelope's data as it is handed over, on the
        pool's signing threads: RSA signing releases the interpreter lock, so signatures are made on other
        cores, ahead of the connection that will send them, while the caller builds the next messages and the
        loop talks SMTP.

        Closing the returned generator early closes the pool (see the module's docstring)."""
        if self.closed:
            raise RuntimeError("this SMTP pool is closed")
        window = window or 16 * self.server.connections
        pool = self._pool
        # Every worker on the loop is waiting for an envelope now (the last batch was answered in full), so
        # nothing reads these while they are reset: a server that was down is tried again.
        pool.down = None
        pool.failures_in_row = 0
        pending = 0
        finished = False
        try:
            source = iter(envelopes)
            exhausted = False
            while not exhausted or pending:
                while pending:  # hand back every answer already there before reading on
                    try:
                        item = self._results.get_nowait()
                    except queue.Empty:
                        break
                    pending -= 1
                    yield self._take(item)
                if not exhausted and pending < window:
                    envelope = next(source, None)
                    if envelope is None:
                        exhausted = True
                    else:
                        signing = None if sign is None else self._signing.submit(sign, envelope.data)
                        pool.hand_over(envelope if signing is None else (envelope, signing))
                        pending += 1
                    continue
                if pending:
                    item = self._results.get()
                    pending -= 1
                    yield self._take(item)
            finished = True
        finally:
            if not finished:
                self._close(stop=True)

    def close(self) -> None:
        """Say QUIT on every connection and end the pool's threads."""
        self._close(stop=False)

    def _close(self, *, stop: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may have just ended
                if stop:
                    self._pool.stop()
                else:
                    self._pool.finish()
        self._thread.join(self.server.timeout + 10)
        self._signing.shutdown(wait=True, cancel_futures=True)

    def _take(self, item: Any) -> SmtpResult:
        if isinstance(item, _Failed):
            self.closed = True
            raise RuntimeError("the SMTP pool stopped unexpectedly") from item.error
        if item is _END:
            self.closed = True
            raise RuntimeError("the SMTP pool stopped before answering every message")
        return item  # type: ignore[no-any-return]


def send_all(server: SmtpServer, envelopes: Iterable[Envelope], *, window: int = 0,
             sign: Callable[[bytes], bytes] | None = None, sign_threads: int = 2) -> Iterator[SmtpResult]:
    """Send every envelope over a pool of its own, closed when the last is answered: :meth:`SmtpPool.send`
    for one batch."""
    pool = SmtpPool(server, sign_threads=sign_threads)
    try:
        yield from pool.send(envelopes, window=window, sign=sign)
    finally:
        pool.close()
