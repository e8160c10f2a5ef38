"""The economics of a front-end → back-end ladder, designed backward from the back-end. Pure and exact (it
imports only the translation of its messages, never the ORM).

Everything is computed in ``Decimal`` from integer minor units (yen) and decimal rates; money is rounded
half away from zero only in ``round_money`` at the very end, and the break-even price is rounded *up* so
that charging it never loses money. Prices are tax-inclusive, costs tax-exclusive: net = price ÷ (1 + tax).

The definitions (the issue "The product ladder and the back-end-first planner" states them as the contract):
- front margin = front net − unit cost − premium cost
- acquisition cost = ad cost + affiliate rate × front net + affiliate fixed fee
- back value = Σ take rate × (back net − unit cost) × expected cycles, where expected cycles are 1 for a
  one-time offer, (1 − rⁿ)/(1 − r) for retention r < 1 over n cycles, 1/(1 − r) when open-ended, n when r = 1
- customer value = front margin + back value; profit per customer = customer value − acquisition cost
- allowable CPA (限界CPA) = customer value − target profit per customer
- break-even front price: the price at which front margin = acquisition cost
- max affiliate rate = (customer value − ad cost − affiliate fixed − target) ÷ front net, within [0, 1]
- customers needed = ⌈monthly target ÷ profit per customer⌉; leads needed = ⌈customers needed ÷ lead conversion⌉
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

ZERO = Decimal(0)
ONE = Decimal(1)


class PlanInputError(ValueError):
    """An input the formulas cannot accept; ``field`` is its dotted path (``backs.0.retention``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Front:
    price: Decimal
    tax_rate: Decimal
    unit_cost: Decimal
    premium_cost: Decimal = ZERO


@dataclass(frozen=True)
class Acquisition:
    ad_cost: Decimal = ZERO
    affiliate_rate: Decimal = ZERO
    affiliate_fixed: Decimal = ZERO


@dataclass(frozen=True)
class Back:
    name: str
    price: Decimal
    tax_rate: Decimal
    unit_cost: Decimal
    take_rate: Decimal
    recurring: bool = False
    retention: Decimal | None = None
    cycles: int | None = None  # None: open-ended


@dataclass(frozen=True)
class PlanInput:
    front: Front
    acquisition: Acquisition
    backs: tuple[Back, ...] = ()
    target_profit_per_customer: Decimal = ZERO
    monthly_profit_target: Decimal = ZERO
    lead_conversion: Decimal = ONE
    currency: str = "JPY"


@dataclass(frozen=True)
class BackResult:
    name: str
    expected_cycles: Decimal
    value: Decimal  # take rate × margin per delivery × expected cycles


@dataclass(frozen=True)
class PlanResult:
    front_margin: Decimal
    acquisition_cost: Decimal
    back_value: Decimal
    customer_value: Decimal
    profit_per_customer: Decimal
    allowable_cpa: Decimal
    breakeven_front_price: int | None
    max_affiliate_rate: Decimal | None
    customers_needed: int | None
    leads_needed: int | None
    backs: tuple[BackResult, ...]
    notes: dict[str, str] = field(default_factory=dict)


def net_of(price: Decimal, tax_rate: Decimal) -> Decimal:
    return price / (ONE + tax_rate)


def round_money(amount: Decimal) -> int:
    """To the minor unit, half away from zero (Decimal's ROUND_HALF_UP is away from zero for negatives too)."""
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def expected_cycles(back: Back, *, path: str = "back") -> Decimal:
    if not back.recurring:
        return ONE
    r = back.retention
    if r is None:
        raise PlanInputError(f"{path}.retention", _("required when the back-end is recurring"))
    if back.cycles is None:
        if r >= ONE:
            raise PlanInputError(f"{path}.retention",
                                 _("must be below 1 when the back-end is open-ended (cycles null)"))
        return ONE / (ONE - r)
    if r == ONE:
        return Decimal(back.cycles)
    return (ONE - r**back.cycles) / (ONE - r)


def check(plan: PlanInput) -> None:
    """Refuse inputs outside the formulas' domain, naming the field. Types and simple ranges are the caller's
    schema's job; this checks what only makes sense together."""
    for index, back in enumerate(plan.backs):
        expected_cycles(back, path=f"backs.{index}")


def evaluate(plan: PlanInput) -> PlanResult:
    front, acq = plan.front, plan.acquisition
    front_net = net_of(front.price, front.tax_rate)
    front_margin = front_net - front.unit_cost - front.premium_cost
    acquisition_cost = acq.ad_cost + acq.affiliate_rate * front_net + acq.affiliate_fixed

    backs = []
    for index, back in enumerate(plan.backs):
        cycles = expected_cycles(back, path=f"backs.{index}")
        margin = net_of(back.price, back.tax_rate) - back.unit_cost
        backs.append(BackResult(name=back.name, expected_cycles=cycles, value=back.take_rate * margin * cycles))
    back_value = sum((b.value for b in backs), ZERO)

    customer_value = front_margin + back_value
    profit = customer_value - acquisition_cost
    notes: dict[str, str] = {}

    breakeven: int | None = None
    if acq.affiliate_rate == ONE:
        notes["breakeven_front_price"] = _("with an affiliate rate of 1, all of the front price goes to the affiliate")
    else:
        costs = front.unit_cost + front.premium_cost + acq.ad_cost + acq.affiliate_fixed
        needed_net = costs / (ONE - acq.affiliate_rate)
        breakeven = int((needed_net * (ONE + front.tax_rate)).to_integral_value(rounding=ROUND_CEILING))

    max_rate: Decimal | None = None
    if front.price == ZERO:
        notes["max_affiliate_rate"] = _("a free front-end pays no commission as a share of its price")
    else:
        raw = (customer_value - acq.ad_cost - acq.affiliate_fixed - plan.target_profit_per_customer) / front_net
        max_rate = min(max(raw, ZERO), ONE)

    customers: int | None = None
    leads: int | None = None
    if profit <= ZERO:
        notes["customers_needed"] = _("each new customer loses money, so no number of them reaches the target")
        notes["leads_needed"] = notes["customers_needed"]
    else:
        customers = math.ceil(plan.monthly_profit_target / profit)
        leads = math.ceil(Decimal(customers) / plan.lead_conversion)

    return PlanResult(
        front_margin=front_margin,
        acquisition_cost=acquisition_cost,
        back_value=back_value,
        customer_value=customer_value,
        profit_per_customer=profit,
        allowable_cpa=customer_value - plan.target_profit_per_customer,
        breakeven_front_price=breakeven,
        max_affiliate_rate=max_rate,
        customers_needed=customers,
        leads_needed=leads,
        backs=tuple(backs),
        notes=notes,
    )


# --- Inputs by path: what sensitivity and simulation vary -----------------------------------------------

RATE_BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    "take_rate": (ZERO, ONE), "retention": (ZERO, ONE), "affiliate_rate": (ZERO, ONE), "tax_rate": (ZERO, ONE),
}
FRONT_INPUTS = ("price", "unit_cost", "premium_cost")
ACQUISITION_INPUTS = ("ad_cost", "affiliate_rate", "affiliate_fixed")
BACK_INPUTS = ("price", "unit_cost", "take_rate", "retention", "cycles")


def varying_paths(plan: PlanInput) -> list[str]:
    """The inputs whose change moves profit per customer, as dotted paths."""
    paths = [f"front.{name}" for name in FRONT_INPUTS] + [f"acquisition.{name}" for name in ACQUISITION_INPUTS]
    for index, back in enumerate(plan.backs):
        for name in BACK_INPUTS:
            if name in ("retention", "cycles") and not back.recurring:
                continue
            if name == "cycles" and back.cycles is None:
                continue
            paths.append(f"backs.{index}.{name}")
    return paths


def value_at(plan: PlanInput, path: str) -> Decimal:
    part, *rest = path.split(".")
    if part == "backs":
        value = getattr(plan.backs[int(rest[0])], rest[1])
    else:
        value = getattr(getattr(plan, part), rest[0])
    return Decimal(value) if value is not None else ZERO


def with_value(plan: PlanInput, path: str, value: Decimal) -> PlanInput:
    part, *rest = path.split(".")
    if part == "backs":
        index, name = int(rest[0]), rest[1]
        coerced: Any = max(1, round_money(value)) if name == "cycles" else value
        backs = list(plan.backs)
        backs[index] = replace(backs[index], **{name: coerced})
        return replace(plan, backs=tuple(backs))
    return replace(plan, **{part: replace(getattr(plan, part), **{rest[0]: value})})


def _clamp(plan: PlanInput, path: str, value: Decimal) -> Decimal:
    name = path.rsplit(".", 1)[-1]
    if name in RATE_BOUNDS:
        low, high = RATE_BOUNDS[name]
        value = min(max(value, low), high)
        if name == "retention" and value >= ONE:
            back = plan.backs[int(path.split(".")[1])]
            if back.cycles is None:  # open-ended needs r < 1
                value = Decimal("0.9999")
        return value
    return max(value, ZERO)


@dataclass(frozen=True)
class Swing:
    path: str
    base_value: Decimal
    low_profit: Decimal  # profit per customer with the input at −20%
    high_profit: Decimal  # … and at +20%
    sensitive: bool

    @property
    def spread(self) -> Decimal:
        return abs(self.high_profit - self.low_profit)


def sensitivity(plan: PlanInput, *, step: Decimal = Decimal("0.2")) -> list[Swing]:
    """Profit per customer with each input moved by ±``step``, widest swing first (a tornado chart)."""
    base_profit = evaluate(plan).profit_per_customer
    swings = []
    for path in varying_paths(plan):
        current = value_at(plan, path)
        if current == ZERO:
            swings.append(Swing(path, current, base_profit, base_profit, sensitive=False))
            continue
        low = evaluate(with_value(plan, path, _clamp(plan, path, current * (ONE - step)))).profit_per_customer
        high = evaluate(with_value(plan, path, _clamp(plan, path, current * (ONE + step)))).profit_per_customer
        swings.append(Swing(path, current, low, high, sensitive=low != high))
    return sorted(swings, key=lambda s: (-s.spread, s.path))


@dataclass(frozen=True)
class Simulation:
    draws: int
    p_loss: Decimal
    p10: Decimal
    p50: Decimal
    p90: Decimal
    profits: tuple[Decimal, ...] = dataclasses.field(repr=False)


def simulate(plan: PlanInput, *, ranges: dict[str, tuple[Decimal, Decimal]], draws: int, seed: int) -> Simulation:
    """Draw each ranged input uniformly (the same seed gives the same answer) and summarise profit per customer.

    Quantiles are nearest-rank: the p-th is the value at position ⌈p × draws⌉ in ascending order.
    """
    rng = random.Random(seed)  # noqa: S311 — a reproducible simulation, not a secret
    paths = sorted(ranges)
    profits = []
    for _draw in range(draws):
        drawn = plan
        for path in paths:
            low, high = ranges[path]
            # A uniform fraction with 15 exact decimal digits, so the draw itself stays in Decimal.
            fraction = Decimal(rng.randrange(10**15)) / Decimal(10**15)
            drawn = with_value(drawn, path, low + (high - low) * fraction)
        profits.append(evaluate(drawn).profit_per_customer)
    ordered = sorted(profits)

    def quantile(p: Decimal) -> Decimal:
        return ordered[max(math.ceil(p * draws) - 1, 0)]

    losses = sum(1 for profit in profits if profit < ZERO)
    return Simulation(draws=draws, p_loss=Decimal(losses) / draws, p10=quantile(Decimal("0.1")),
                      p50=quantile(Decimal("0.5")), p90=quantile(Decimal("0.9")), profits=tuple(profits))


def check_range(plan: PlanInput, path: str, low: Decimal, high: Decimal) -> None:
    """A simulation range must name a varying input of this plan and stay within that input's valid values."""
    if path not in varying_paths(plan):
        raise PlanInputError(f"uncertainty.ranges.{path}", _("not an input of this plan that can vary"))
    if low > high:
        raise PlanInputError(f"uncertainty.ranges.{path}", _("the low end is above the high end"))
    name = path.rsplit(".", 1)[-1]
    bounds = RATE_BOUNDS.get(name, (ZERO, None))
    if low < bounds[0] or (bounds[1] is not None and high > bounds[1]):
        raise PlanInputError(f"uncertainty.ranges.{path}",
                             _("must stay within %(low)s–%(high)s") % {"low": bounds[0], "high": bounds[1]})
    if name == "cycles" and low < ONE:
        raise PlanInputError(f"uncertainty.ranges.{path}", _("cycles are at least 1"))
    if name == "retention" and high >= ONE and plan.backs[int(path.split(".")[1])].cycles is None:
        raise PlanInputError(f"uncertainty.ranges.{path}", _("must stay below 1 when the back-end is open-ended"))
