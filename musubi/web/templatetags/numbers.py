"""Numbers as a Japanese reader expects them: ¥1,980 and 25.0%."""

from decimal import Decimal
from typing import Any

from django import template

from musubi.capture.rules import format_coupon_code
from musubi.contacts.rules import written_phone

register = template.Library()


@register.filter
def yen(value: Any) -> str:
    if value is None or value == "":
        return "—"
    amount = int(value)
    return f"−¥{-amount:,}" if amount < 0 else f"¥{amount:,}"  # a true minus sign, as in −¥1,500


@register.filter
def percent(value: Any, places: int = 1) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.{int(places)}f}%"


@register.filter
def count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


@register.filter
def negative(value: Any) -> Any:
    return None if value is None else -int(value)


@register.filter
def coupon_code(code: str) -> str:
    """A coupon code in the two groups of five people read aloud."""
    return format_coupon_code(code)


@register.filter
def address(identity: Any) -> str:
    """An identity as people read it: phone numbers written the national way."""
    return written_phone(identity.value) if identity.kind == "phone" else str(identity.value)
