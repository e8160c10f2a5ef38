"""Messaging's reactions to facts published by lower apps: events start sequences.

Handlers run inside the publisher's transaction, so an enrollment exists exactly when the opt-in, friend-add
or tag that caused it does. They only write rows; the worker's scheduler pass sends.
"""

from __future__ import annotations

from musubi.capture.events import LineFriendAdded, LineMessageReceived, OptInCompleted
from musubi.commerce.events import OrderPaid
from musubi.contacts.events import ContactTagged
from musubi.contacts.models import Contact
from musubi.kernel.events import subscribe
from musubi.messaging import conversations, enrollments
from musubi.messaging.choices import Trigger


def _enroll_all(workspace_id: int, contact_id: int, trigger: str, *, ref: int | None = None, tag: str = "") -> None:
    sequences = enrollments.sequences_for(workspace_id=workspace_id, trigger=trigger, ref=ref, tag=tag)
    if not sequences:
        return
    contact = Contact.objects.get(pk=contact_id, workspace_id=workspace_id)
    for sequence in sequences:
        enrollments.enroll(sequence=sequence, contact=contact)


def on_optin(event: OptInCompleted) -> None:
    _enroll_all(event.workspace_id, event.contact_id, Trigger.OPTIN, ref=event.capture_point_id)


def on_line_follow(event: LineFriendAdded) -> None:
    _enroll_all(event.workspace_id, event.contact_id, Trigger.LINE_FOLLOW, ref=event.line_channel_id)


def on_tagged(event: ContactTagged) -> None:
    _enroll_all(event.workspace_id, event.contact_id, Trigger.TAG_ADDED, tag=event.tag)


def on_paid(event: OrderPaid) -> None:
    """A paid order starts the sequences that follow a purchase (of that offer, or of any); the goal of a
    sequence that waits for a purchase (``goal_event`` order.paid) is met through the fact it leaves."""
    _enroll_all(event.workspace_id, event.contact_id, Trigger.PURCHASE, ref=event.offer_id)


def subscribe_all() -> None:
    subscribe(OptInCompleted, on_optin)
    subscribe(LineFriendAdded, on_line_follow)
    subscribe(ContactTagged, on_tagged)
    subscribe(LineMessageReceived, conversations.on_line_message)
    subscribe(OrderPaid, on_paid)
