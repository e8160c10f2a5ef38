"""The planner's input, exactly as ``POST /api/v1/planner/evaluate`` takes it and as a saved plan stores it.

Amounts are integers in the currency's minor unit; rates are decimal strings or JSON numbers, read from
their decimal text (the API parses JSON numbers as ``Decimal``, so 0.1 stays 0.1). Types and ranges are
checked here; what only makes sense together (a recurring back-end needs a retention; an open-ended one
needs it below 1; a simulation range must name an input of this plan) is checked by ``to_plan``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from musubi.kernel.money import CURRENCY_EXPONENTS
from musubi.kernel.schema_types import MAX_AMOUNT, Amount, Rate, _no_bool
from musubi.planner import rules

MAX_DRAWS = 20_000


Bound = Annotated[Decimal, BeforeValidator(_no_bool), Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]


class Strict_(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrontIn(Strict_):
    price: Amount
    tax_rate: Rate
    unit_cost: Amount
    premium_cost: Amount = 0


class AcquisitionIn(Strict_):
    ad_cost: Amount = 0
    affiliate_rate: Rate = Decimal(0)
    affiliate_fixed: Amount = 0


class BackIn(Strict_):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
    price: Amount
    tax_rate: Rate
    unit_cost: Amount
    take_rate: Rate
    recurring: bool = False
    retention: Rate | None = Field(default=None, description="Required when recurring; ignored otherwise.")
    cycles: Annotated[int, Strict(), Field(ge=1, le=1200)] | None = Field(
        default=None, description="Number of deliveries; null for open-ended. Ignored when not recurring.")


class UncertaintyIn(Strict_):
    draws: Annotated[int, Strict(), Field(ge=1, le=MAX_DRAWS)] = 10_000
    seed: Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)] = 0
    ranges: dict[str, tuple[Bound, Bound]] = Field(
        description='Input path → [low, high], e.g. {"backs.0.take_rate": ["0.15", "0.35"]}.')


class PlanIn(Strict_):
    currency: str = Field(default="JPY", pattern="^(" + "|".join(sorted(CURRENCY_EXPONENTS)) + ")$")
    front: FrontIn
    acquisition: AcquisitionIn = AcquisitionIn()
    backs: list[BackIn] = Field(default_factory=list, max_length=20)
    target_profit_per_customer: Amount = 0
    monthly_profit_target: Amount = 0
    lead_conversion: Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, le=1, allow_inf_nan=False)] = Decimal(1)
    uncertainty: UncertaintyIn | None = None


def to_plan(data: PlanIn) -> rules.PlanInput:
    """The rules' input from a validated schema; raises ``rules.PlanInputError`` naming a field for what only
    makes sense together."""
    backs = tuple(
        rules.Back(name=b.name, price=Decimal(b.price), tax_rate=b.tax_rate, unit_cost=Decimal(b.unit_cost),
                   take_rate=b.take_rate, recurring=b.recurring,
                   retention=b.retention if b.recurring else None, cycles=b.cycles if b.recurring else None)
        for b in data.backs
    )
    plan = rules.PlanInput(
        front=rules.Front(price=Decimal(data.front.price), tax_rate=data.front.tax_rate,
                          unit_cost=Decimal(data.front.unit_cost), premium_cost=Decimal(data.front.premium_cost)),
        acquisition=rules.Acquisition(ad_cost=Decimal(data.acquisition.ad_cost),
                                      affiliate_rate=data.acquisition.affiliate_rate,
                                      affiliate_fixed=Decimal(data.acquisition.affiliate_fixed)),
        backs=backs,
        target_profit_per_customer=Decimal(data.target_profit_per_customer),
        monthly_profit_target=Decimal(data.monthly_profit_target),
        lead_conversion=data.lead_conversion,
        currency=data.currency,
    )
    rules.check(plan)
    if data.uncertainty is not None:
        for path, (low, high) in data.uncertainty.ranges.items():
            rules.check_range(plan, path, low, high)
    return plan
