"""Outgoing webhooks: the sales events posted, signed, to the address a workspace sets.

Each event becomes a ``WebhookDelivery`` row in the transaction that published it, and the
``commerce.webhooks`` queue posts it. The body is JSON; ``Musubi-Signature: t=<unix time>,v1=<hex>`` is the
HMAC-SHA256 of ``"<t>.<body>"`` with the endpoint's secret (the scheme Stripe uses, so receivers know it),
and ``Musubi-Event-Id`` lets the receiver apply a redelivery once. A 2xx answer is done; 4xx other than 408
and 429 fails for good, and so does a redirect (never followed) or an address that now leads to a private
network (``integrations.safe_http`` checks it again at every delivery); anything else is retried with backoff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.commerce import events as sales
from musubi.commerce.models import WebhookDelivery, WebhookEndpoint
from musubi.integrations import safe_http
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


def set_endpoint(*, workspace: Workspace, actor: Actor, url: str) -> str | None:
    """Save (or with an empty ``url``, remove) the workspace's endpoint; returns the new signing secret, which
    is shown once, when the address changes."""
    actor.require(Action.ADMINISTER)
    url = url.strip()
    if url:
        _check_address(url)  # asks DNS: before the transaction, which on SQLite holds the write lock
    with transaction.atomic():
        return _save_endpoint(workspace=workspace, actor=actor, url=url)


def _save_endpoint(*, workspace: Workspace, actor: Actor, url: str) -> str | None:
    current = WebhookEndpoint.objects.for_workspace(workspace).first()
    if not url:
        WebhookEndpoint.objects.for_workspace(workspace).delete()
        record_audit(workspace=workspace, actor=actor, action="webhook.removed")
        return None
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


def _check_address(url: str) -> None:
    """Refuse, with the reason in words, an address the webhook may not post to (see integrations.safe_http)."""
    if len(url) > 500:
        message = _("The address is too long (at most 500 characters).")
        raise InvalidInput(message, fields={"webhook_url": message})
    try:
        safe_http.check_url(url)
    except safe_http.UnsafeAddress as exc:
        messages = {
            "scheme": _("Enter an address starting with https://."),
            "malformed": _("This is not a valid web address (a host name is needed, and no user name or "
                           "password)."),
            "unresolvable": _("The host name of this address could not be found in DNS."),
            "internal": _("This address leads to %(address)s, a private or local network address. Webhooks "
                          "are only sent to public addresses on the internet.") % {"address": exc.address},
        }
        message = messages.get(exc.reason, str(exc))
        raise InvalidInput(message, fields={"webhook_url": message}) from exc


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
    return safe_http.post(delivery.endpoint.url, body=body, timeout=TIMEOUT_SECONDS, headers={
        "Content-Type": "application/json", "User-Agent": "Musubi-Webhooks/1",
        "Musubi-Event-Id": delivery.event_id,
        "Musubi-Signature": signature(delivery.endpoint.secret, body, int(time.time()))})


def handle(rows: list[WebhookDelivery], outcome: BatchOutcome) -> None:
    found = {d.pk: d for d in WebhookDelivery.objects.select_related("endpoint").filter(pk__in=[r.pk for r in rows])}
    for row in rows:
        delivery = found[row.pk]
        try:
            status = _post(delivery)
        except safe_http.UnsafeAddress as exc:
            # Checked again at every delivery: the name may now lead somewhere it did not when it was saved.
            outcome.failed[row.pk] = f"refused: {exc}"
            continue
        except OSError as exc:
            outcome.retry[row.pk] = f"unreachable: {exc}"
            continue
        WebhookDelivery.objects.filter(pk=row.pk).update(response_status=status)
        if 200 <= status < 300:
            outcome.done.append(row.pk)
        elif 300 <= status < 400:
            outcome.failed[row.pk] = f"answered {status}: redirects are not followed"
        elif 400 <= status < 500 and status not in (408, 429):
            outcome.failed[row.pk] = f"refused with {status}"
        else:
            outcome.retry[row.pk] = f"answered {status}"


def register() -> None:
    for event_type in EVENT_TYPES:
        bus.subscribe_batches(event_type, _queue_events)
    register_queue(WorkQueue(name="commerce.webhooks", rows=lambda: WebhookDelivery.objects.all(), handle=handle,
                             batch_size=50, lease_seconds=600))
