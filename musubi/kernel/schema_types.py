"""Field types for request schemas (pydantic), shared by every app that takes input: amounts and rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict

MAX_AMOUNT = 10**12


def _whole_number(value: Any) -> Any:
    """An amount is a whole number of minor units. JSON's 980.0 is the integer 980 (as JSON Schema says);
    980.5, "980" and true are not amounts."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a rate is a number, not true or false")
    return value


Amount = Annotated[int, BeforeValidator(_whole_number), Strict(), Field(ge=0, le=MAX_AMOUNT)]
Rate = Annotated[Decimal, BeforeValidator(_no_bool), Field(ge=0, le=1, allow_inf_nan=False)]
