"""A plan's results as plain data for the API and the pages: money in whole minor units (rounded once, at
the end), rates as numbers with six decimals, and each null with its reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from musubi.planner import rules

RATE_PLACES = Decimal("0.000001")


def rate(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(RATE_PLACES))


def histogram(profits: tuple[Decimal, ...], *, bins: int = 20) -> list[dict[str, int]]:
    low, high = min(profits), max(profits)
    if low == high:
        return [{"from": rules.round_money(low), "to": rules.round_money(high), "count": len(profits)}]
    width = (high - low) / bins
    counts = [0] * bins
    for profit in profits:
        counts[min(int((profit - low) / width), bins - 1)] += 1
    return [{"from": rules.round_money(low + width * i), "to": rules.round_money(low + width * (i + 1)),
             "count": count} for i, count in enumerate(counts)]


def present(plan: rules.PlanInput, *, uncertainty: dict[str, Any] | None = None) -> dict[str, Any]:
    result = rules.evaluate(plan)
    money = rules.round_money
    answer: dict[str, Any] = {
        "currency": plan.currency,
        "front_margin": money(result.front_margin),
        "acquisition_cost": money(result.acquisition_cost),
        "back_value": money(result.back_value),
        "customer_value": money(result.customer_value),
        "profit_per_customer": money(result.profit_per_customer),
        "allowable_cpa": money(result.allowable_cpa),
        "breakeven_front_price": result.breakeven_front_price,
        "max_affiliate_rate": rate(result.max_affiliate_rate),
        "customers_needed": result.customers_needed,
        "leads_needed": result.leads_needed,
        "backs": [{"name": b.name, "expected_cycles": rate(b.expected_cycles), "value": money(b.value)}
                  for b in result.backs],
        "notes": result.notes,
        "sensitivity": [
            {"input": s.path, "value": float(s.base_value), "low": money(s.low_profit), "high": money(s.high_profit),
             "sensitive": s.sensitive}
            for s in rules.sensitivity(plan)
        ],
    }
    if uncertainty is not None:
        simulation = rules.simulate(plan, ranges=uncertainty["ranges"], draws=uncertainty["draws"],
                                    seed=uncertainty["seed"])
        answer["uncertainty"] = {
            "draws": simulation.draws, "seed": uncertainty["seed"], "p_loss": rate(simulation.p_loss),
            "p10": money(simulation.p10), "p50": money(simulation.p50), "p90": money(simulation.p90),
            "histogram": histogram(simulation.profits),
        }
    return answer
