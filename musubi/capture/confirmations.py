"""The ``capture.confirmations`` queue: mails that ask a person to confirm a double opt-in.

Each mail is a ``ConfirmationMail`` row claimed by a worker; a batch shares one SMTP connection. A mail the
server refused for good fails the row (the person can fill in the form again); a server that is down or
slow retries with backoff. As with any SMTP send, a worker killed between the server's acceptance and the
recorded outcome can repeat that one mail.
"""

from __future__ import annotations

import smtplib
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.template.loader import render_to_string
from django.utils.translation import override

from musubi.capture.models import ConfirmationMail
from musubi.capture.points import confirmation_link
from musubi.kernel.worker import BatchOutcome, WorkQueue, register_queue


def build_message(mail: ConfirmationMail) -> EmailMessage:
    submission = mail.submission
    version = submission.version
    context = {"version": version, "link": confirmation_link(submission),
               "name": submission.contact.name, "workspace": submission.workspace}
    with override("ja"):
        subject = render_to_string("capture/email/confirm_subject.txt", context).strip()
        body = render_to_string("capture/email/confirm_body.txt", context)
    sender = formataddr((version.sender_name, settings.DEFAULT_FROM_EMAIL))
    return EmailMessage(subject=subject, body=body, from_email=sender, to=[submission.email])


def handle(mails: list[ConfirmationMail], outcome: BatchOutcome) -> None:
    rows = {m.pk: m for m in ConfirmationMail.objects.select_related(
        "submission__version", "submission__capture_point", "submission__contact", "submission__workspace",
    ).filter(pk__in=[m.pk for m in mails])}
    with mailers.default as connection:  # one SMTP session for the batch
        for mail in mails:
            try:
                connection.send_messages([build_message(rows[mail.pk])])
            except smtplib.SMTPRecipientsRefused as exc:
                outcome.failed[mail.pk] = f"refused: {exc.recipients}"
                continue
            outcome.done.append(mail.pk)


def register() -> None:
    register_queue(WorkQueue(name="capture.confirmations", rows=lambda: ConfirmationMail.objects.all(),
                             handle=handle, batch_size=50, lease_seconds=300))
