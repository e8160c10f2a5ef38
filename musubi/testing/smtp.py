"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), collecting what it accepts.

Besides accepting everything, it can be told to answer chosen recipients with a refusal at RCPT
(``rcpt_replies``) or at the end of DATA (``data_replies``), to drop the connection right after accepting
every n-th message (``drop_every``), and to go down (``stop``).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One accepted message exactly as it arrived."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


@dataclass
class Inbox:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    drop_every: int = 0
    controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.data_replies:
                return self.data_replies[rcpt]
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        if self.drop_every and len(self.received) % self.drop_every == 0:
            # Closed once the 250 below is written: the client has its answer, then loses the connection.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 OK"

    def mailers(self) -> dict[str, Any]:
        """The MAILERS setting that sends through this server."""
        return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                            "OPTIONS": {"host": self.host, "port": self.port, "timeout": 5}}}

    def stop(self) -> None:
        """Take the server down: connections are cut and new ones refused."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def free_port() -> int:
    """A port nothing listens on (a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])



@contextmanager
def smtp_server(**options: Any) -> Iterator[Inbox]:
    """Extra keyword arguments go to aiosmtpd's ``Controller`` (e.g. ``authenticator``, ``tls_context``)."""
    inbox = Inbox(host="127.0.0.1", port=free_port())
    inbox.controller = Controller(inbox, hostname=inbox.host, port=inbox.port, **options)
    inbox.controller.start()
    try:
        yield inbox
    finally:
        inbox.stop()
