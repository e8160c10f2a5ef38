"""The sales app's durable-work queues: renewals of subscriptions, bank-transfer deadlines, buyers' mail."""

from __future__ import annotations

import smtplib
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage, mailers

from musubi.commerce import notices, order_lifecycle, renewal_run, subscriptions
from musubi.commerce.models import CustomerMail, Order, PaymentDeadline, Renewal
from musubi.kernel.worker import BatchOutcome, WorkQueue, register_queue


def handle_renewals(rows: list[Renewal], outcome: BatchOutcome) -> None:
    renewal_run.run(rows)  # records every row's outcome in the transaction that makes the orders
    outcome.recorded.extend(renewal.pk for renewal in rows)


def handle_renewal_charges(rows: list[Renewal], outcome: BatchOutcome) -> None:
    orders = Order.objects.in_bulk([renewal.order_id for renewal in rows if renewal.order_id])
    for renewal in rows:
        # "later": the charge gave the row back itself, due again in days; it is no longer ours to record.
        if subscriptions.charge(renewal, orders.get(renewal.order_id)) == "done":
            outcome.done.append(renewal.pk)


def handle_deadlines(rows: list[PaymentDeadline], outcome: BatchOutcome) -> None:
    for deadline in rows:
        order_lifecycle.handle_deadline(deadline)
        outcome.done.append(deadline.pk)


def handle_mail(rows: list[CustomerMail], outcome: BatchOutcome) -> None:
    shops = dict(CustomerMail.objects.filter(pk__in=[m.pk for m in rows]).values_list("pk", "workspace__name"))
    with mailers.default as connection:  # one SMTP session for the batch
        for mail in rows:
            sender = formataddr((shops.get(mail.pk, ""), settings.DEFAULT_FROM_EMAIL))
            subject, body = notices.written(mail)
            try:
                connection.send_messages([EmailMessage(subject=subject, body=body, from_email=sender, to=[mail.to])])
            except smtplib.SMTPRecipientsRefused as exc:
                outcome.failed[mail.pk] = f"refused: {exc.recipients}"
                continue
            outcome.done.append(mail.pk)


def register() -> None:
    register_queue(WorkQueue(name="commerce.renewals", rows=subscriptions.due_renewals, handle=handle_renewals,
                             batch_size=1000, lease_seconds=300))
    register_queue(WorkQueue(name="commerce.renewal_charges", rows=subscriptions.due_charges,
                             handle=handle_renewal_charges, batch_size=20, lease_seconds=300))
    register_queue(WorkQueue(name="commerce.deadlines", rows=lambda: PaymentDeadline.objects.all(),
                             handle=handle_deadlines, batch_size=100, lease_seconds=120))
    register_queue(WorkQueue(name="commerce.mail", rows=lambda: CustomerMail.objects.all(), handle=handle_mail,
                             batch_size=50, lease_seconds=300))
