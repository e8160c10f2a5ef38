"""Use cases of coupons: defining one, issuing it to a person, and redeeming it at the counter.

A coupon is how a free front-end offer (a dish for adding the shop on LINE, a sample for a survey) is
claimed. Redeeming it is the front-end conversion: it records the incentive's cost as a fact credited to
the source that brought the person, and makes the person a front-end customer.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from musubi.capture import rules
from musubi.capture.models import Coupon, CouponDefinition, Redemption
from musubi.catalog.models import Offer
from musubi.contacts.choices import Stage
from musubi.contacts.models import Contact
from musubi.contacts.services import advance_stage
from musubi.kernel import clock, tokens
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.kernel.money import Money
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


@dataclass(frozen=True)
class Terms:
    """What a coupon definition promises and for how long."""

    name: str
    benefit: str
    cost: int = 0
    offer_id: int | None = None
    valid_days: int | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    max_redemptions: int = 1


def _check_terms(workspace: Workspace, terms: Terms) -> Offer | None:
    fields: dict[str, str] = {}
    if not terms.name.strip() or len(terms.name) > 200:
        fields["name"] = _("Enter a name of 1–200 characters.")
    if not terms.benefit.strip() or len(terms.benefit) > 200:
        fields["benefit"] = _("Say in 1–200 characters what the coupon gives.")
    if terms.cost < 0:
        fields["cost"] = _("Enter zero or more.")
    if terms.valid_days is not None and not 1 <= terms.valid_days <= 3650:
        fields["valid_days"] = _("Enter 1–3650 days, or leave it empty for no limit.")
    if terms.valid_from and terms.valid_until and terms.valid_until <= terms.valid_from:
        fields["valid_until"] = _("The end must come after the start.")
    if not 1 <= terms.max_redemptions <= 1000:
        fields["max_redemptions"] = _("Enter 1–1000.")
    offer = None
    if terms.offer_id is not None:
        offer = Offer.objects.for_workspace(workspace).filter(pk=terms.offer_id).first()
        if offer is None:
            fields["offer_id"] = _("This workspace has no such offer.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    return offer


@transaction.atomic
def create_definition(*, workspace: Workspace, actor: Actor, terms: Terms) -> CouponDefinition:
    actor.require(Action.MANAGE)
    offer = _check_terms(workspace, terms)
    definition = CouponDefinition.objects.create(
        workspace=workspace, name=terms.name.strip(), benefit=terms.benefit.strip(), offer=offer, cost=terms.cost,
        valid_days=terms.valid_days, valid_from=terms.valid_from, valid_until=terms.valid_until,
        max_redemptions=terms.max_redemptions, created_at=clock.now())
    record_audit(workspace=workspace, actor=actor, action="coupon_definition.created", obj=definition,
                 changes={"name": definition.name})
    return definition


@transaction.atomic
def update_definition(*, workspace: Workspace, actor: Actor, definition_id: int, terms: Terms,
                      active: bool = True) -> CouponDefinition:
    """Change a definition. Coupons already issued keep the expiry they were given."""
    actor.require(Action.MANAGE)
    definition = definition_of(workspace, definition_id)
    offer = _check_terms(workspace, terms)
    for name, value in (("name", terms.name.strip()), ("benefit", terms.benefit.strip()), ("offer", offer),
                        ("cost", terms.cost), ("valid_days", terms.valid_days), ("valid_from", terms.valid_from),
                        ("valid_until", terms.valid_until), ("max_redemptions", terms.max_redemptions),
                        ("active", active)):
        setattr(definition, name, value)
    definition.save()
    record_audit(workspace=workspace, actor=actor, action="coupon_definition.changed", obj=definition,
                 changes={"name": definition.name, "active": active})
    return definition


def definition_of(workspace: Workspace, definition_id: int) -> CouponDefinition:
    found = CouponDefinition.objects.for_workspace(workspace).filter(pk=definition_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such coupon."))
    return found


@transaction.atomic
def issue(*, workspace: Workspace, definition: CouponDefinition, contact: Contact,
          source_id: int | None = None) -> Coupon:
    """The person's coupon of this definition: a new one, or the one they already have (one per person)."""
    survivor = contact.merged_into or contact
    existing = Coupon.objects.for_workspace(workspace).filter(definition=definition, contact=survivor).first()
    if existing is not None:
        return existing
    now = clock.now()
    expires_at = rules.coupon_expiry(issued_at=now, valid_days=definition.valid_days,
                                     valid_until=definition.valid_until)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                coupon = Coupon.objects.create(
                    workspace=workspace, definition=definition, contact=survivor, issued_at=now,
                    expires_at=expires_at, source_id=source_id, code=tokens.readable_code(rules.COUPON_CODE_LENGTH))
            break
        except IntegrityError:
            # Either the code was taken (retry with another) or a concurrent request issued this person's coupon.
            existing = Coupon.objects.for_workspace(workspace).filter(definition=definition, contact=survivor).first()
            if existing is not None:
                return existing
    else:  # pragma: no cover — five code collisions in a row among 8e14
        raise Conflict(_("Could not find a free code; try again."))
    record_fact(workspace_id=workspace.pk, kind="coupon.issued", contact_id=survivor.pk, source_id=source_id,
                subject=("capture.coupon", coupon.pk), data={"definition": definition.pk})
    return coupon


def find(*, workspace: Workspace, code: str) -> Coupon:
    """The coupon a code names in this workspace. A code of another workspace is answered exactly like a code
    that does not exist, so the counter of one shop learns nothing about another's."""
    parsed = rules.parse_coupon_code(code)
    found = (Coupon.objects.for_workspace(workspace).select_related("definition", "contact", "workspace")
             .filter(code=parsed).first() if parsed else None)
    if found is None:
        raise NotFound(_("No coupon has this code. Check the letters and try again."), code="coupon_unknown")
    return found


def state(coupon: Coupon, *, now: dt.datetime | None = None) -> rules.CouponState:
    definition = coupon.definition
    return rules.coupon_state(now=now or clock.now(), expires_at=coupon.expires_at, valid_from=definition.valid_from,
                              valid_until=definition.valid_until, redemptions=coupon.redemptions_count,
                              max_redemptions=definition.max_redemptions, active=definition.active)


def _when(value: dt.datetime, workspace: Workspace) -> str:
    return formats.date_format(timezone.localtime(value, zoneinfo.ZoneInfo(workspace.timezone)), "DATETIME_FORMAT")


def refusal(coupon: Coupon, reason: str) -> str:
    """Why the coupon cannot be used, in the words the person at the counter says to the customer, with times
    in the shop's time zone."""
    workspace = coupon.workspace
    if reason == "used_up":
        last = coupon.redemptions.order_by("-at").first()
        when = _when(last.at, workspace) if last else ""
        return _("This coupon was already used (%(when)s).") % {"when": when}
    if reason == "expired":
        end = min(t for t in (coupon.expires_at, coupon.definition.valid_until) if t is not None)
        return _("This coupon expired on %(date)s.") % {"date": _when(end, workspace)}
    if reason == "not_yet_valid" and coupon.definition.valid_from is not None:
        return _("This coupon can be used from %(date)s.") % {"date": _when(coupon.definition.valid_from, workspace)}
    return _("This coupon is no longer offered.")


@transaction.atomic
def redeem(*, workspace: Workspace, actor: Actor, code: str) -> Redemption:
    """Use a coupon once at the counter. Two taps, two staff members or two devices at the same moment
    redeem it once: the coupon row is locked and each use has its own number."""
    actor.require(Action.OPERATE)
    found = find(workspace=workspace, code=code)
    coupon = Coupon.objects.select_for_update(of=("self",)).select_related("definition", "contact", "workspace").get(
        pk=found.pk)
    verdict = state(coupon)
    if not verdict.usable:
        raise Conflict(refusal(coupon, verdict.reason), code=f"coupon_{verdict.reason}")
    now = clock.now()
    coupon.redemptions_count += 1
    coupon.save(update_fields=["redemptions_count"])
    redemption = Redemption.objects.create(workspace=workspace, coupon=coupon, number=coupon.redemptions_count,
                                           at=now, redeemed_by=actor.user)
    definition = coupon.definition
    record_fact(workspace_id=workspace.pk, kind="coupon.redeemed", contact_id=coupon.contact_id,
                source_id=coupon.source_id, amount=Money(definition.cost, workspace.currency),
                subject=("capture.redemption", redemption.pk),
                data={"coupon": coupon.pk, "definition": definition.pk, "offer": definition.offer_id})
    advance_stage(workspace=workspace, contact=coupon.contact, stage=Stage.FRONT_CUSTOMER)
    record_audit(workspace=workspace, actor=actor, action="coupon.redeemed", obj=coupon,
                 changes={"code": coupon.code, "number": redemption.number})
    return redemption
