"""``{% order_downloads order %}``: the files of a paid order, each with a download link made for this buyer
now. A tag rather than view context so every page a buyer reaches (members' page, order page) lists them
with one line."""

from __future__ import annotations

from typing import Any

from django import template

from musubi.commerce import downloads
from musubi.commerce.models import Order

register = template.Library()


@register.inclusion_tag("commerce/_downloads.html")
def order_downloads(order: Order) -> dict[str, Any]:
    return {"links": downloads.links_for(order)}
