"""Where composed mail goes: an SMTP server, an email service through a Django mail backend
(django-anymail), or the outbox (the demo, where nothing leaves the machine).

Each transport takes composed mails lazily and yields one ``Sent`` per mail as soon as its fate is known, so
the caller can record it at once: over SMTP, the time between the server's acceptance and that record is the
only window in which a crash repeats a message.
"""

from __future__ import annotations

import atexit
import smtplib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers

from musubi.integrations import mime, smtp_pool
from musubi.integrations.dkim import DkimSigner
from musubi.kernel import clock
from musubi.kernel.ahead import ahead
from musubi.messaging import rules
from musubi.messaging.composing import ComposedMail
from musubi.messaging.models import OutboxMessage


@dataclass(frozen=True)
class Sent:
    delivery_id: int
    outcome: str  # "sent", "retry", "failed", "bounced"
    detail: str = ""


def _django_message(mail: ComposedMail, connection: object) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject=mail.subject, body=mail.text, from_email=mail.sender,
                                     to=[mail.recipient], reply_to=[mail.reply_to] if mail.reply_to else None,
                                     headers=mail.headers, connection=connection)  # type: ignore[arg-type]
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    # Email services reached through django-anymail echo this in their bounce and complaint webhooks.
    message.metadata = {"musubi_delivery": str(mail.delivery_id)}  # type: ignore[attr-defined]
    return message


def send_with_django(mails: Iterable[ComposedMail], *, mailer: str = "default") -> Iterator[Sent]:
    """Through a Django mail backend: Django's SMTP backend, or an email service's anymail backend. One
    connection for the batch; a connection failure gives every mail not yet sent back for a later retry."""
    pending = iter(mails)
    try:
        with mailers[mailer] as connection:
            for mail in pending:
                try:
                    connection.send_messages([_django_message(mail, connection)])
                except smtplib.SMTPRecipientsRefused as exc:
                    code, reason = next(iter(exc.recipients.values()), (550, b""))
                    detail = f"{code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason}"
                    yield Sent(mail.delivery_id, _refusal(code, detail), detail)
                    continue
                except smtplib.SMTPResponseException as exc:
                    error = exc.smtp_error
                    detail = f"{exc.smtp_code} {error.decode(errors='replace') if isinstance(error, bytes) else error}"
                    if 400 <= exc.smtp_code < 500:
                        yield Sent(mail.delivery_id, "retry", detail)
                        raise _ConnectionLost(detail) from exc
                    yield Sent(mail.delivery_id, _refusal(exc.smtp_code, detail), detail)
                    continue
                except (smtplib.SMTPException, OSError) as exc:
                    yield Sent(mail.delivery_id, "retry", f"{type(exc).__name__}: {exc}")
                    raise _ConnectionLost(str(exc)) from exc
                yield Sent(mail.delivery_id, "sent")
    except (TimeoutError, _ConnectionLost, smtplib.SMTPException, OSError) as exc:
        for mail in pending:
            yield Sent(mail.delivery_id, "retry", f"not sent: the mail server could not be reached ({exc})")


class _ConnectionLost(Exception):
    pass


def _refusal(code: int, detail: str) -> str:
    if 400 <= code < 500:
        return "retry"
    return "bounced" if rules.smtp_bounce_is_hard(code, detail) else "failed"


def keep_in_outbox(mails: Iterable[ComposedMail], *, workspace_id: int) -> Iterator[Sent]:
    """The demo's transport: each mail is kept, readable on the outbox page, and counts as sent."""
    for mail in mails:
        message = _django_message(mail, connection=None)
        OutboxMessage.objects.create(workspace_id=workspace_id, delivery_id=mail.delivery_id,
                                     recipient=mail.recipient, subject=mail.subject,
                                     raw=message.message().as_string(), at=clock.now())
        yield Sent(mail.delivery_id, "sent")


def smtp_server() -> smtp_pool.SmtpServer | None:
    """The mail server of the installation's default mailer, when it is Django's SMTP backend."""
    mailer: dict[str, Any] = dict(settings.MAILERS.get("default", {}))
    if mailer.get("BACKEND") != "django.core.mail.backends.smtp.EmailBackend":
        return None
    options: dict[str, Any] = dict(mailer.get("OPTIONS", {}))
    security = "tls" if options.get("use_ssl") else "starttls" if options.get("use_tls") else "none"
    return smtp_pool.SmtpServer(host=options.get("host", "127.0.0.1"), port=int(options.get("port", 25)),
                                username=options.get("username") or "", password=options.get("password") or "",
                                security=security, timeout=float(options.get("timeout") or 30),
                                connections=settings.MUSUBI_SMTP_CONNECTIONS)


_pool_lock = threading.Lock()
_open_pool: smtp_pool.SmtpPool | None = None


def _pool_for(server: smtp_pool.SmtpServer) -> smtp_pool.SmtpPool:
    """The process's pool for ``server``, opened on first use and kept for the batches after it (a worker
    sends batch after batch to the same server; connecting anew for each cost more than the batch's mail).
    One pool at a time: a different server (the settings changed) closes the old one."""
    global _open_pool
    with _pool_lock:
        if _open_pool is not None and (_open_pool.closed or _open_pool.server != server):
            _open_pool.close()
            _open_pool = None
        if _open_pool is None:
            _open_pool = smtp_pool.SmtpPool(server)
        return _open_pool


@atexit.register
def close_pool() -> None:
    """Say QUIT to the mail server (at the process's exit, or when a test is done with its server)."""
    global _open_pool
    with _pool_lock:
        if _open_pool is not None:
            _open_pool.close()
            _open_pool = None


_skeletons: dict[tuple[str, str, str], mime.MailSkeleton] = {}


def send_pooled(mails: Iterable[ComposedMail], *, server: smtp_pool.SmtpServer,
                signer: DkimSigner | None = None) -> Iterator[Sent]:
    """Bulk mail over pooled SMTP connections kept open across batches: each message's bytes built from one
    skeleton per sender (no ``EmailMessage`` per recipient), DKIM-signed on other threads, results as the
    server answers. ``mails`` is read on a thread of its own, so it must not use the database."""
    skeletons = _skeletons

    def envelopes() -> Iterator[smtp_pool.Envelope]:
        for mail in mails:
            key = (mail.envelope_from, mail.sender_name, mail.reply_to)
            skeleton = skeletons.get(key)
            if skeleton is None:
                if len(skeletons) > 100:  # senders of many workspaces: keep only recent ones
                    skeletons.clear()
                skeleton = skeletons[key] = mime.MailSkeleton(from_address=mail.envelope_from,
                                                              from_name=mail.sender_name, reply_to=mail.reply_to)
            data = skeleton.render(to_address=mail.recipient, subject=mail.subject, text=mail.text, html=mail.html,
                                   unsubscribe_url=mail.unsubscribe_url, message_id=f"d{mail.delivery_id}")
            yield smtp_pool.Envelope(key=mail.delivery_id, mail_from=mail.envelope_from, rcpt_to=mail.recipient,
                                     data=data)

    # Composing and building a mail is pure Python; done on a thread of its own it goes on while this thread
    # waits for the database to record the mails before it.
    pool = _pool_for(server)
    for result in pool.send(ahead(envelopes(), items=16 * server.connections, name="musubi-compose"),
                            sign=signer.sign if signer else None):
        if result.outcome == smtp_pool.Outcome.SENT:
            yield Sent(result.key, "sent")
        elif result.outcome == smtp_pool.Outcome.RETRY:
            yield Sent(result.key, "retry", f"{result.code} {result.detail}".strip())
        else:
            detail = f"{result.code} {result.detail}".strip()
            hard = result.stage in ("rcpt", "data") and rules.smtp_bounce_is_hard(result.code, detail)
            yield Sent(result.key, "bounced" if hard else "failed", detail)


def send(mails: Iterable[ComposedMail], *, workspace_id: int, signer: DkimSigner | None = None) -> Iterator[Sent]:
    """Send through the installation's marketing transport (``MUSUBI_MARKETING_MAIL``): the outbox; an
    email service's backend when a mailer named "marketing" is set; else pooled SMTP to the default mailer's
    server (or that mailer itself when it is not SMTP, e.g. the console)."""
    if settings.MUSUBI_MARKETING_MAIL == "outbox":
        return keep_in_outbox(mails, workspace_id=workspace_id)
    if "marketing" in settings.MAILERS:
        return send_with_django(mails, mailer="marketing")
    server = smtp_server()
    if server is None:
        return send_with_django(mails, mailer="default")
    return send_pooled(mails, server=server, signer=signer)
