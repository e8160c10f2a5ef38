"""Outgoing webhooks: the sales events posted, signed, to the address a workspace sets.

Each event becomes a ``WebhookDelivery`` row in the transaction that published it, and the
``commerce.webhooks`` queue posts it. The body is JSON; ``Musubi-Signature: t=<unix time>,v1=<hex>`` is the
HMAC-SHA256 of ``"<t>.<body>"`` with the endpoint's secret (the scheme Stripe uses, so receivers know it),
and ``Musubi-Event-Id`` lets the receiver apply a redelivery once. A 2xx answer is done; 4xx other than 408
and 429 fails for good; anything else is retried with backoff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.commerce import events as sales
from musubi.commerce.models import WebhookDelivery, WebhookEndpoint
from musubi.kernel import clock, tokens
from musubi.kernel import events as bus
from musubi.kernel.errors import InvalidInput
from musubi.kernel.worker import BatchOutcome, WorkQueue, register_queue
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

EVENT_TYPES: dict[type[bus.Event], str] = {
    sales.OrderPaid: "order.paid", sales.OrderRefunded: "order.refunded",
    sales.SubscriptionStarted: "subscription.started", sales.SubscriptionRenewed: "subscription.renewed",
    sales.SubscriptionCancelled: "subscription.cancelled",
}
TIMEOUT_SECONDS = 10


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@transaction.atomic
def set_endpoint(*, workspace: Workspace, actor: Actor, url: str) -> str | None:
    """Save (or with an empty ``url``, remove) the workspace's endpoint; returns the new signing secret, which
    is shown once, when the address changes."""
    actor.require(Action.ADMINISTER)
    url = url.strip()
    current = WebhookEndpoint.objects.for_workspace(workspace).first()
    if not url:
        WebhookEndpoint.objects.for_workspace(workspace).delete()
        record_audit(workspace=workspace, actor=actor, action="webhook.removed")
        return None
    if not url.startswith(("https://", "http://")) or len(url) > 500:
        message = _("Enter an address starting with https://.")
        raise InvalidInput(message, fields={"webhook_url": message})
    if current is not None and current.url == url:
        return None
    secret = tokens.new_secret("mwh", nbytes=24)
    if current is None:
        current = WebhookEndpoint.objects.create(workspace=workspace, url=url, secret=secret, created_at=clock.now())
    else:
        current.url, current.secret = url, secret
        current.save(update_fields=["url", "secret"])
    record_audit(workspace=workspace, actor=actor, action="webhook.set", obj=current, changes={"url": url})
    return secret


def _queue_events(published: list[bus.Event]) -> None:
    """One delivery per event for workspaces with an endpoint: one query for a whole renewal run's events."""
    endpoints = {e.workspace_id: e for e in WebhookEndpoint.objects.filter(
        workspace_id__in={event.workspace_id for event in published})}
    if not endpoints:
        return
    now = clock.now()
    deliveries = []
    for event in published:
        endpoint = endpoints.get(event.workspace_id)
        if endpoint is None:
            continue
        event_id = f"evt_{uuid.uuid4().hex}"
        kind = EVENT_TYPES[type(event)]
        data = {k: v for k, v in dataclasses.asdict(event).items() if k != "workspace_id"}
        deliveries.append(WebhookDelivery(
            workspace_id=event.workspace_id, endpoint=endpoint, event_id=event_id, event_type=kind,
            payload={"id": event_id, "type": kind, "created": now.isoformat(), "data": data},
            due_at=now, next_attempt_at=now))
    WebhookDelivery.objects.bulk_create(deliveries)


def _post(delivery: WebhookDelivery) -> int:
    body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
    # set_endpoint admits only http(s) addresses, so no file: or custom scheme reaches urlopen.
    request = urllib.request.Request(delivery.endpoint.url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "User-Agent": "Musubi-Webhooks/1",
        "Musubi-Event-Id": delivery.event_id,
        "Musubi-Signature": signature(delivery.endpoint.secret, body, int(time.time()))})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def handle(rows: list[WebhookDelivery], outcome: BatchOutcome) -> None:
    found = {d.pk: d for d in WebhookDelivery.objects.select_related("endpoint").filter(pk__in=[r.pk for r in rows])}
    for row in rows:
        delivery = found[row.pk]
        try:
            status = _post(delivery)
        except (urllib.error.URLError, OSError) as exc:
            outcome.retry[row.pk] = f"unreachable: {exc}"
            continue
        WebhookDelivery.objects.filter(pk=row.pk).update(response_status=status)
        if 200 <= status < 300:
            outcome.done.append(row.pk)
        elif 400 <= status < 500 and status not in (408, 429):
            outcome.failed[row.pk] = f"refused with {status}"
        else:
            outcome.retry[row.pk] = f"answered {status}"


def register() -> None:
    for event_type in EVENT_TYPES:
        bus.subscribe_batches(event_type, _queue_events)
    register_queue(WorkQueue(name="commerce.webhooks", rows=lambda: WebhookDelivery.objects.all(), handle=handle,
                             batch_size=50, lease_seconds=600))
