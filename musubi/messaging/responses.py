"""What recipients do with a message: open it, click a link, unsubscribe or choose what they receive.

Opens and clicks are facts (``email.opened``, ``email.clicked``, ``line.clicked``) and stamp the delivery the
first time; a fetch by a mail scanner or link prefetcher is marked as such and counted for nothing. An
unsubscribe suppresses the address at once, which every sequence and broadcast on that channel asks before
each send, and records the withdrawal in the consent ledger.
"""

from __future__ import annotations

from django.db import transaction

from musubi.capture.rules import looks_like_bot
from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel, LegalBasis, SuppressionReason
from musubi.contacts.models import Identity, Suppression
from musubi.kernel import clock
from musubi.kernel.facts import record_fact
from musubi.messaging.choices import MessageChannel
from musubi.messaging.models import Delivery


def record_open(*, delivery_id: int, user_agent: str) -> bool:
    """Count an open of an email; returns whether it counted (a prefetcher's does not)."""
    delivery = Delivery.objects.filter(pk=delivery_id, channel=MessageChannel.EMAIL).first()
    if delivery is None:
        return False
    if looks_like_bot(user_agent):
        record_fact(workspace_id=delivery.workspace_id, kind="email.prefetched", contact_id=delivery.contact_id,
                    subject=("messaging.delivery", delivery.pk), data={"user_agent": user_agent[:200]})
        return False
    now = clock.now()
    first = Delivery.objects.filter(pk=delivery.pk, opened_at=None).update(opened_at=now)
    if first:  # one open fact per delivery: segments ask "opened", not how often
        record_fact(workspace_id=delivery.workspace_id, kind="email.opened", contact_id=delivery.contact_id,
                    subject=("messaging.delivery", delivery.pk), occurred_at=now,
                    data={"step": delivery.step_id, "run": delivery.run_id})
    return True


def record_click(*, delivery_id: int, url: str, user_agent: str) -> bool:
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return False
    if looks_like_bot(user_agent):
        return False
    now = clock.now()
    Delivery.objects.filter(pk=delivery.pk, clicked_at=None).update(clicked_at=now)
    # A click proves the mail was opened even when images were blocked.
    if delivery.channel == MessageChannel.EMAIL and Delivery.objects.filter(pk=delivery.pk, opened_at=None).update(
            opened_at=now):
        record_fact(workspace_id=delivery.workspace_id, kind="email.opened", contact_id=delivery.contact_id,
                    subject=("messaging.delivery", delivery.pk), occurred_at=now, data={"by_click": True})
    record_fact(workspace_id=delivery.workspace_id, kind=f"{delivery.channel}.clicked",
                contact_id=delivery.contact_id, subject=("messaging.delivery", delivery.pk), occurred_at=now,
                data={"url": url[:500], "step": delivery.step_id, "run": delivery.run_id})
    return True


def addresses_of(delivery: Delivery) -> dict[str, str]:
    """The contact's address on each channel, for the preference page."""
    contact = delivery.contact.merged_into or delivery.contact
    found: dict[str, str] = {}
    for kind, value in Identity.objects.filter(workspace_id=delivery.workspace_id, contact=contact).order_by(
            "created_at").values_list("kind", "value"):
        if kind in (Channel.EMAIL, Channel.LINE):
            found.setdefault(kind, value)
    if delivery.channel == MessageChannel.EMAIL and delivery.address:
        found[Channel.EMAIL] = delivery.address
    return found


def stopped_channels(delivery: Delivery) -> set[str]:
    addresses = addresses_of(delivery)
    return {channel for channel, value in addresses.items()
            if Suppression.objects.filter(workspace_id=delivery.workspace_id, channel=channel, value=value).exists()}


@transaction.atomic
def unsubscribe(*, delivery: Delivery, channels: set[str], ip_address: str = "", user_agent: str = "",
                via: str = "link") -> list[str]:
    """Stop advertising to this person on ``channels`` at once; returns the channels stopped now."""
    stopped = []
    addresses = addresses_of(delivery)
    for channel in sorted(channels & set(addresses)):
        address = addresses[channel]
        contacts.suppress(workspace=delivery.workspace, channel=channel, value=address,
                          reason=SuppressionReason.UNSUBSCRIBED, note=f"{via}: delivery {delivery.pk}")
        contacts.record_consent(workspace=delivery.workspace, contact=delivery.contact, channel=channel,
                                address=address, basis=LegalBasis.CONSENT, granted=False, ip_address=ip_address,
                                user_agent=user_agent, wording=f"unsubscribe ({via})")
        stopped.append(channel)
    return stopped
