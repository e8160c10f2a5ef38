"""Pure decisions about offers and ladders: what the law allows a premium to be worth, and what is wrong
with a ladder. No ORM, no I/O.

The premium limits come from the Premiums and Representations Act (景品表示法) as the Consumer Affairs
Agency explains it:
- 総付景品 (given to every buyer or visitor): at most 200 yen when the transaction value is under 1,000 yen,
  else 20% of it. For a visit without a purchase the transaction value is 100 yen, unless the cheapest thing
  normally bought in the shop costs more, in which case it is that (CAA Q&A 110–111).
- 一般懸賞 (a lottery tied to a purchase or visit): each prize at most 20× the transaction value below
  5,000 yen, else 100,000 yen; all prizes together at most 2% of the expected sales of the campaign.
- 共同懸賞 (a joint lottery of several businesses): each prize at most 300,000 yen; in total at most 3%.
- オープン懸賞 (needs neither a purchase nor a visit): no limit. A lottery that does need one is 一般懸賞,
  whatever it is called.
A premium is valued at its normal tax-inclusive selling price, not at what it costs the business.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

from musubi.catalog.choices import PremiumKind


@dataclass(frozen=True)
class PremiumFacts:
    kind: str
    legal_value: int
    purchase_required: bool
    visit_required: bool
    cheapest_normal_purchase: int | None
    offer_price: int  # what the first purchase of the offer costs, tax-inclusive


@dataclass(frozen=True)
class PremiumLimit:
    classification: str  # the kind the law sees
    transaction_value: int | None
    limit: int | None  # None: no limit
    explanation: str

    def allows(self, legal_value: int) -> bool:
        return self.limit is None or legal_value <= self.limit


def classify_premium(kind: str, *, purchase_required: bool, visit_required: bool) -> str:
    """What the law sees: an "open" lottery that needs a purchase or visit is an ordinary lottery."""
    tied = purchase_required or visit_required
    if kind == PremiumKind.OPEN_LOTTERY and tied:
        return PremiumKind.LOTTERY
    if kind in (PremiumKind.LOTTERY, PremiumKind.JOINT_LOTTERY) and not tied:
        return PremiumKind.OPEN_LOTTERY
    return kind


def transaction_value(facts: PremiumFacts) -> int:
    if facts.purchase_required:
        return facts.offer_price
    # A visit without a purchase: 100 yen, or the cheapest normal purchase when that is higher.
    return max(100, facts.cheapest_normal_purchase or 0)


def premium_limit(facts: PremiumFacts) -> PremiumLimit:
    kind = classify_premium(facts.kind, purchase_required=facts.purchase_required, visit_required=facts.visit_required)
    if kind == PremiumKind.GIVEAWAY and not (facts.purchase_required or facts.visit_required):
        return PremiumLimit(kind, None, None, _("Given to anyone without a purchase or visit, it is not a premium "
                                                 "under the Act, so no limit applies."))
    if kind == PremiumKind.OPEN_LOTTERY:
        return PremiumLimit(kind, None, None, _("An open lottery needs neither a purchase nor a visit, so no limit "
                                                 "applies."))
    value = transaction_value(facts)
    basis = (_("the price of the purchase, %(value)s yen") if facts.purchase_required
             else _("%(value)s yen for a visit without a purchase (100 yen, or the cheapest normal purchase if "
                    "higher)")) % {"value": f"{value:,}"}
    if kind == PremiumKind.GIVEAWAY:
        if value < 1000:
            limit = 200
            rule = _("under 1,000 yen, so the limit is 200 yen")
        else:
            limit = int((Decimal(value) * Decimal("0.2")).to_integral_value(rounding=ROUND_DOWN))
            rule = _("1,000 yen or more, so the limit is 20%% of it: %(limit)s yen") % {"limit": f"{limit:,}"}
        text = _("Giveaway premium (総付景品): the transaction value is %(basis)s, %(rule)s.")
        return PremiumLimit(kind, value, limit, text % {"basis": basis, "rule": rule})
    if kind == PremiumKind.JOINT_LOTTERY:
        text = _("Joint lottery (共同懸賞): each prize may be worth at most 300,000 yen, and all prizes together "
                 "at most 3%% of the campaign's expected sales.") % {}  # formatted like the others: "%%" is one "%"
        return PremiumLimit(kind, value, 300_000, text)
    limit = value * 20 if value < 5000 else 100_000
    text = _("Lottery (一般懸賞): the transaction value is %(basis)s; each prize may be worth at most "
             "%(limit)s yen (20 times the value below 5,000 yen, else 100,000 yen), and all prizes together at "
             "most 2%% of the campaign's expected sales.")
    return PremiumLimit(kind, value, limit, text % {"basis": basis, "limit": f"{limit:,}"})


def premium_refusal(facts: PremiumFacts) -> str | None:
    """Why an offer with this premium cannot be published, or None when it can."""
    limit = premium_limit(facts)
    if limit.allows(facts.legal_value):
        return None
    return _("The premium is worth %(value)s yen at its normal price, over the limit of %(limit)s yen. "
             "%(explanation)s") % {"value": f"{facts.legal_value:,}", "limit": f"{limit.limit:,}",
                                   "explanation": limit.explanation}


# --- The ladder --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OfferFacts:
    id: int
    name: str
    role: str
    entry_price: int  # the price of the first purchase (the discounted first delivery if any)
    price: int  # the regular price (of each delivery for a subscription)
    premium_refusal: str | None = None
    published: bool = True


@dataclass(frozen=True)
class StepFacts:
    front_id: int
    back_id: int


def ladder_problems(offers: list[OfferFacts], steps: list[StepFacts]) -> list[str]:
    """What is wrong with a ladder, in words an owner reads: front-ends that lead nowhere, back-ends not
    priced above their front-end, premiums over their limit."""
    by_id = {offer.id: offer for offer in offers}
    problems = []
    if not steps:
        problems.append(_("This ladder has no steps yet: link a front-end to the back-end it leads to."))
    fronts = [offer for offer in offers if offer.role == "front"]
    led = {step.front_id for step in steps}
    for offer in fronts:
        if offer.id not in led:
            problems.append(_("The front-end “%(name)s” leads to no back-end: it wins customers the business "
                              "never sells to again.") % {"name": offer.name})
    for step in steps:
        front, back = by_id[step.front_id], by_id[step.back_id]
        if back.price <= front.entry_price:
            problems.append(_("The back-end “%(back)s” (%(back_price)s yen) is not priced above its front-end "
                              "“%(front)s” (%(front_price)s yen).") % {
                "back": back.name, "back_price": f"{back.price:,}", "front": front.name,
                "front_price": f"{front.entry_price:,}"})
    for offer in offers:
        if offer.premium_refusal:
            problems.append(_("“%(name)s”: %(why)s") % {"name": offer.name, "why": offer.premium_refusal})
        elif not offer.published:
            problems.append(_("“%(name)s” is still a draft: publish it before customers can buy it.")
                            % {"name": offer.name})
    return problems
