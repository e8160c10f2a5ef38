"""Discount codes (クーポンコード): staff make and disable them; the checkout checks one the buyer typed, the
order claims one of its uses under the code's row lock, and a cancelled or expired unpaid order gives it back.

Every refusal names why in the buyer's words (unknown, not yet valid, expired, used up, already used by
them, not for this offer) and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from musubi.catalog.models import Offer
from musubi.commerce import rules
from musubi.commerce.models import DiscountCode, DiscountUse, Order
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")
FIELD = "discount_code"


def normalise(code: str) -> str:
    """The form a code is kept and compared in: upper-case, without surrounding or full-width spaces."""
    return unicodedata.normalize("NFKC", code or "").strip().upper()


# --- Staff ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeInput:
    code: str
    kind: str
    value: int
    offer_ids: tuple[int, ...] = ()  # empty: every offer
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    max_uses: int | None = None
    once_per_buyer: bool = True
    every_delivery: bool = False


def _check(workspace: Workspace, data: CodeInput) -> tuple[str, list[Offer]]:
    fields: dict[str, str] = {}
    code = normalise(data.code)
    if not CODE_PATTERN.match(code):
        fields["code"] = _("Use 3 to 40 letters, digits, hyphens or underscores.")
    elif DiscountCode.objects.for_workspace(workspace).filter(code=code).exists():
        fields["code"] = _("This workspace already has this code.")
    if data.kind not in (DiscountCode.PERCENT, DiscountCode.AMOUNT):
        fields["kind"] = _("Choose percent or yen off.")
    elif isinstance(data.value, bool) or not isinstance(data.value, int) or data.value < 1:
        fields["value"] = _("Enter a whole number of 1 or more.")
    elif data.kind == DiscountCode.PERCENT and data.value > 100:
        fields["value"] = _("A percentage is at most 100.")
    offers = list(Offer.objects.for_workspace(workspace).filter(pk__in=list(data.offer_ids)))
    if len(offers) != len(set(data.offer_ids)):
        fields["offer_ids"] = _("Choose offers of this workspace.")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        fields["valid_until"] = _("The end must be after the start.")
    if data.max_uses is not None and (isinstance(data.max_uses, bool) or not isinstance(data.max_uses, int)
                                      or data.max_uses < 1):
        fields["max_uses"] = _("Enter 1 or more, or leave it empty for no limit.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    return code, offers


@transaction.atomic
def create_code(*, workspace: Workspace, actor: Actor, data: CodeInput) -> DiscountCode:
    actor.require(Action.MANAGE)
    code, offers = _check(workspace, data)
    try:
        with transaction.atomic():
            found = DiscountCode.objects.create(
                workspace=workspace, code=code, kind=data.kind, value=data.value, valid_from=data.valid_from,
                valid_until=data.valid_until, max_uses=data.max_uses, once_per_buyer=data.once_per_buyer,
                every_delivery=data.every_delivery, created_at=clock.now())
    except IntegrityError as exc:  # the same code saved at the same moment by someone else
        raise InvalidInput(_("Some fields need attention."),
                           fields={"code": _("This workspace already has this code.")}) from exc
    found.offers.set(offers)
    record_audit(workspace=workspace, actor=actor, action="discount_code.created", obj=found,
                 changes={"code": code, "kind": data.kind, "value": data.value})
    return found


def codes(workspace: Workspace) -> QuerySet[DiscountCode]:
    return DiscountCode.objects.for_workspace(workspace).prefetch_related("offers").order_by("-created_at", "-id")


def code_of(workspace: Workspace, code_id: int) -> DiscountCode:
    found = codes(workspace).filter(pk=code_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such discount code."))
    return found


@transaction.atomic
def set_active(*, workspace: Workspace, actor: Actor, code_id: int, active: bool) -> DiscountCode:
    """Disable a code (no new orders may use it; subscriptions already using it keep their discount) or
    enable it again."""
    actor.require(Action.MANAGE)
    found = DiscountCode.objects.for_workspace(workspace).select_for_update().filter(pk=code_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such discount code."))
    if found.active != active:
        found.active = active
        found.save(update_fields=["active"])
        record_audit(workspace=workspace, actor=actor, action="discount_code.enabled" if active
                     else "discount_code.disabled", obj=found)
    return code_of(workspace, code_id)


@transaction.atomic
def delete_code(*, workspace: Workspace, actor: Actor, code_id: int) -> None:
    """Delete a code no order has used; a used one is kept (orders point at it) and can be disabled."""
    actor.require(Action.MANAGE)
    found = code_of(workspace, code_id)
    if DiscountUse.objects.filter(discount_code=found).exists():
        raise Conflict(_("Orders used this code; disable it instead."), code="in_use")
    record_audit(workspace=workspace, actor=actor, action="discount_code.deleted", changes={"code": found.code})
    found.delete()


# --- The checkout ---------------------------------------------------------------------------------------------

def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, fields={FIELD: message}, code="discount_code_refused")


def _why_not(found: DiscountCode, *, offer: Offer, email: str, now: dt.datetime) -> str | None:
    if not found.active:
        return _("The code %(code)s is no longer valid.") % {"code": found.code}
    if found.valid_from and now < found.valid_from:
        return _("The code %(code)s is not valid yet.") % {"code": found.code}
    if found.valid_until and now >= found.valid_until:
        return _("The code %(code)s has expired.") % {"code": found.code}
    chosen = list(found.offers.values_list("pk", flat=True))
    if chosen and offer.pk not in chosen:
        return _("The code %(code)s cannot be used for this item.") % {"code": found.code}
    if found.max_uses is not None and found.uses >= found.max_uses:
        return _("The code %(code)s has been used up.") % {"code": found.code}
    if found.once_per_buyer and email and DiscountUse.objects.filter(
            discount_code=found, email=email, released_at__isnull=True).exists():
        return _("You have already used the code %(code)s.") % {"code": found.code}
    return None


def applicable(*, offer: Offer, code: str, email: str) -> rules.Discount:
    """The discount ``code`` gives this buyer on ``offer`` now; InvalidInput naming why not otherwise."""
    normalised = normalise(code)
    found = DiscountCode.objects.for_workspace(offer.workspace).filter(code=normalised).first()
    if found is None:
        raise _refuse(_("There is no discount code %(code)s.") % {"code": normalised})
    if why := _why_not(found, offer=offer, email=email, now=clock.now()):
        raise _refuse(why)
    return terms_of(found)


def terms_of(found: DiscountCode) -> rules.Discount:
    return rules.Discount(code=found.code, kind=found.kind, value=found.value, every_delivery=found.every_delivery)


def claim(*, order: Order, discount: rules.Discount, amount: int) -> DiscountUse:
    """Take one use of the code for ``order``, inside the order's transaction. The code's row is locked, then
    everything is checked again, so of two buyers racing for the last use one gets it and the other is told
    it is used up (and their order is not written)."""
    found = DiscountCode.objects.for_workspace(order.workspace_id).select_for_update().filter(
        code=discount.code).first()
    if found is None:
        raise _refuse(_("There is no discount code %(code)s.") % {"code": discount.code})
    if why := _why_not(found, offer=order.offer, email=order.email, now=clock.now()):
        raise _refuse(why)
    if terms_of(found) != discount:
        raise _refuse(_("The code %(code)s was changed. Please enter your order again.") % {"code": found.code})
    # Conditional on room being left, so the count can never pass the limit whatever the isolation level.
    counted = DiscountCode.objects.filter(pk=found.pk, active=True).filter(
        Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))).update(uses=F("uses") + 1)
    if not counted:
        raise _refuse(_("The code %(code)s has been used up.") % {"code": found.code})
    return DiscountUse.objects.create(workspace_id=order.workspace_id, discount_code=found, order=order,
                                      email=order.email, amount=amount, at=clock.now())


def release(order: Order) -> bool:
    """Give back the use of a cancelled or expired unpaid order, once. Returns whether one was given back."""
    with transaction.atomic():
        use = DiscountUse.objects.select_for_update().filter(order=order, released_at__isnull=True).first()
        if use is None:
            return False
        DiscountUse.objects.filter(pk=use.pk).update(released_at=clock.now())
        DiscountCode.objects.filter(pk=use.discount_code_id, uses__gt=0).update(uses=F("uses") - 1)
        return True


def retake(order: Order) -> bool:
    """A voided order that Stripe says was paid after all keeps the discount it was charged with: its use
    counts again (even past the limit: the money was taken at that price)."""
    with transaction.atomic():
        use = DiscountUse.objects.select_for_update().filter(order=order, released_at__isnull=False).first()
        if use is None:
            return False
        DiscountUse.objects.filter(pk=use.pk).update(released_at=None)
        DiscountCode.objects.filter(pk=use.discount_code_id).update(uses=F("uses") + 1)
        return True
