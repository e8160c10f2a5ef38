"""The ``capture.line`` queue: pushes of LINE messages (the greeting and coupon after a follow).

Each row's retry key was saved with the row, so a push retried after a crash, a timeout or a 5xx is the same
request to LINE, which delivers it once. A 4xx other than 429 fails the row for good; the rest retry with
backoff. Before the first push the friend's display name is fetched for the contact if they still have none.
"""

from __future__ import annotations

from musubi.capture.line import name_from_profile
from musubi.capture.models import LineMessage
from musubi.integrations import line as line_api
from musubi.kernel.worker import BatchOutcome, WorkQueue, register_queue


def handle(messages: list[LineMessage], outcome: BatchOutcome) -> None:
    rows = {m.pk: m for m in LineMessage.objects.select_related("channel__workspace", "contact", "workspace")
            .filter(pk__in=[m.pk for m in messages])}
    for message in messages:
        row = rows[message.pk]
        token = row.channel.access_token
        if row.contact is not None and not row.contact.name:  # the follow's own fetch failed: once more
            name_from_profile(row.channel, row.contact, row.user_id)
        try:
            line_api.push_texts(access_token=token, user_id=row.user_id, texts=row.texts,
                                retry_key=str(row.retry_key))
        except line_api.LineError as exc:
            (outcome.failed if exc.permanent else outcome.retry)[message.pk] = f"LINE {exc.status}: {exc.body}"
            continue
        outcome.done.append(message.pk)


def register() -> None:
    register_queue(WorkQueue(name="capture.line", rows=lambda: LineMessage.objects.all(), handle=handle,
                             batch_size=50, lease_seconds=300))
