"""What an email service tells us through its webhooks (django-anymail): bounces and spam complaints suppress
the address; inbound mail lands in the sender's inbox.

Anymail checks each webhook's credentials (``ANYMAIL["WEBHOOK_SECRET"]``, and the service's signature where it
has one) before the body is parsed; its signals then reach the handlers here. Each event is applied once: a
fact with a key made from the event is written first, so a webhook delivered twice finds it and stops.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction

from musubi.contacts import services as contacts
from musubi.contacts.choices import SuppressionReason
from musubi.contacts.models import Identity
from musubi.kernel import clock
from musubi.kernel.facts import record_fact
from musubi.messaging.choices import Direction, MessageChannel, Outcome
from musubi.messaging.models import Delivery, InboxMessage, SenderProfile

SUPPRESSING = {"bounced": SuppressionReason.BOUNCED, "complained": SuppressionReason.COMPLAINED,
               "unsubscribed": SuppressionReason.UNSUBSCRIBED}
METADATA_KEY = "musubi_delivery"


def _delivery_for(event: Any) -> Delivery | None:
    metadata = getattr(event, "metadata", None) or {}
    if str(metadata.get(METADATA_KEY, "")).isdigit():
        return Delivery.objects.select_related("workspace").filter(pk=int(metadata[METADATA_KEY])).first()
    recipient = (getattr(event, "recipient", "") or "").strip().lower()
    if not recipient:
        return None
    # A service that does not echo metadata: the latest mail to that address is the one it speaks of.
    return (Delivery.objects.select_related("workspace").filter(channel=MessageChannel.EMAIL, address=recipient)
            .exclude(sent_at=None).order_by("-sent_at").first())


def _key(esp_name: str, event: Any) -> str:
    raw = "|".join(str(part) for part in (esp_name, event.event_type, getattr(event, "event_id", ""),
                                          getattr(event, "message_id", ""), getattr(event, "recipient", ""),
                                          getattr(event, "timestamp", "")))
    return "esp:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def on_tracking(sender: Any, event: Any, esp_name: str, **_: Any) -> None:
    reason = SUPPRESSING.get(event.event_type)
    if reason is None:
        return
    delivery = _delivery_for(event)
    if delivery is None or not delivery.address:
        return
    with transaction.atomic():
        _fact, new = record_fact(workspace_id=delivery.workspace_id, kind=f"email.{event.event_type}",
                                 contact_id=delivery.contact_id, subject=("messaging.delivery", delivery.pk),
                                 data={"esp": esp_name, "description": str(getattr(event, "description", ""))[:200]},
                                 dedupe_key=_key(esp_name, event))
        if not new:
            return
        contacts.suppress(workspace=delivery.workspace, channel="email", value=delivery.address, reason=reason,
                          note=f"{esp_name}: {event.event_type}")
        if event.event_type == "bounced":
            Delivery.objects.filter(pk=delivery.pk).update(outcome=Outcome.BOUNCED, status="failed")


def on_inbound(sender: Any, event: Any, esp_name: str, **_: Any) -> None:
    message = event.message
    to = {address.addr_spec.lower() for address in (message.to or [])}
    if getattr(message, "envelope_recipient", None):
        to.add(str(message.envelope_recipient).lower())
    profile = (SenderProfile.objects.select_related("workspace").filter(reply_to__in=to).first()
               or SenderProfile.objects.select_related("workspace").filter(from_address__in=to).first())
    sender_address = message.from_email.addr_spec.lower() if message.from_email else ""
    if profile is None or not sender_address:
        return  # not for any workspace here
    workspace = profile.workspace
    identity = Identity.objects.for_workspace(workspace).filter(kind="email", value=sender_address).select_related(
        "contact").first()
    if identity is not None:
        contact = identity.contact.merged_into or identity.contact
    else:
        contact, _created = contacts.find_or_create_contact(
            workspace=workspace, addresses=contacts.normalise(email=sender_address),
            name=message.from_email.display_name or "")
    message_id = (message.get("Message-ID") or getattr(event, "event_id", "") or "").strip()[:200]
    try:
        with transaction.atomic():
            kept = InboxMessage.objects.create(
                workspace=workspace, contact=contact, channel=MessageChannel.EMAIL, direction=Direction.IN,
                subject=(message.subject or "")[:300], text=(message.text or message.html or "").strip()[:50_000],
                external_id=message_id, at=clock.now())
    except IntegrityError:
        return  # the same mail again
    record_fact(workspace_id=workspace.pk, kind="email.received", contact_id=contact.pk,
                subject=("messaging.inboxmessage", kept.pk), data={"esp": esp_name})


def connect() -> None:
    from anymail.signals import inbound, tracking

    tracking.connect(on_tracking, dispatch_uid="musubi.messaging.tracking")
    inbound.connect(on_inbound, dispatch_uid="musubi.messaging.inbound")
