"""Who may open what: the member page of a digital product or a course (its buyers only, from a signed link
without a password) and invitations to offers sold only to existing customers.

Both are signed tokens (``kernel.tokens``) scoped by purpose, so a member link cannot serve as an invitation
and an invitation names the one offer and the one contact it was made for.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from musubi.catalog.choices import ProductKind
from musubi.catalog.models import LadderStep, Offer
from musubi.commerce.choices import OrderStatus
from musubi.commerce.models import InvitationOnly, Order
from musubi.contacts.models import Contact
from musubi.kernel import clock, tokens
from musubi.kernel.errors import Forbidden, NotFound
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

MEMBER = "member"
INVITATION = "invitation"
INVITATION_DAYS = 30
HAS_BOUGHT = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTLY_REFUNDED)


def member_url(order: Order) -> str:
    token = tokens.sign({"o": order.pk, "w": order.workspace_id}, purpose=MEMBER)
    return settings.MUSUBI_BASE_URL + reverse("member_page", args=[token])


def delivers_access(order: Order) -> bool:
    """Whether what was bought is opened on a member page rather than shipped."""
    return order.offer.product.kind in (ProductKind.DIGITAL, ProductKind.SERVICE)


def member_order(token: str) -> Order:
    """The paid order a member link opens; NotFound for a forged link or an order refunded or never paid."""
    try:
        value = tokens.unsign(token, purpose=MEMBER)
    except signing.BadSignature as exc:
        raise NotFound(_("This link is not valid.")) from exc
    order = Order.objects.select_related("offer__product", "workspace", "contact").filter(
        pk=value.get("o"), workspace_id=value.get("w")).first()
    if order is None or not delivers_access(order):
        raise NotFound(_("This link is not valid."))
    if order.status not in HAS_BOUGHT:
        raise Forbidden(_("This page opens once the order is paid."))
    return order


def is_invitation_only(offer: Offer) -> bool:
    return InvitationOnly.objects.filter(offer=offer).exists()


@transaction.atomic
def set_invitation_only(*, workspace: Workspace, actor: Actor, offer_id: int, invitation_only: bool) -> None:
    actor.require(Action.MANAGE)
    offer = Offer.objects.for_workspace(workspace).filter(pk=offer_id).first()
    if offer is None:
        raise NotFound(_("This workspace has no such offer."))
    if invitation_only:
        InvitationOnly.objects.get_or_create(workspace=workspace, offer=offer, defaults={"created_at": clock.now()})
    else:
        InvitationOnly.objects.filter(offer=offer).delete()
    record_audit(workspace=workspace, actor=actor, action="offer.invitation_only", obj=offer,
                 changes={"invitation_only": invitation_only})


def invitation(offer: Offer, contact: Contact) -> str:
    return tokens.sign({"offer": offer.pk, "c": contact.pk, "w": offer.workspace_id}, purpose=INVITATION)


def check_invitation(offer: Offer, token: str) -> Contact:
    """The invited contact, or Forbidden naming what is wrong: no invitation, a forged or expired one, or one
    for another offer."""
    if not token:
        raise Forbidden(_("This offer is for invited customers only. Please use the link in your invitation."))
    try:
        value: dict[str, Any] = tokens.unsign(token, purpose=INVITATION, max_age_seconds=INVITATION_DAYS * 86400)
    except signing.SignatureExpired as exc:
        raise Forbidden(_("This invitation has expired.")) from exc
    except signing.BadSignature as exc:
        raise Forbidden(_("This invitation is not valid.")) from exc
    if value.get("offer") != offer.pk or value.get("w") != offer.workspace_id:
        raise Forbidden(_("This invitation is for another offer."))
    contact = Contact.objects.for_workspace(offer.workspace).filter(pk=int(value.get("c") or 0),
                                                                    erased_at__isnull=True).first()
    if contact is None:
        raise Forbidden(_("This invitation is not valid."))
    return contact


def next_offers(order: Order) -> list[tuple[Offer, str]]:
    """The offers the ladder leads to from what this buyer bought, each with its checkout link (an invitation
    for those sold only to invited customers)."""
    steps = LadderStep.objects.for_workspace(order.workspace).filter(front=order.offer).select_related("back")
    found = []
    for step in steps:
        back = step.back
        if back.pk == order.offer_id or back.status != "published":
            continue
        url = reverse("checkout", args=[back.pk])
        if is_invitation_only(back):
            url += "?invite=" + invitation(back, order.contact)
        found.append((back, url))
    return found
