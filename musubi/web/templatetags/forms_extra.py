"""Template helpers for laying a long form out in sections."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def fields_named(form: Any, names: str) -> list[Any]:
    """The bound fields called ``names`` (space-separated), in that order, skipping any the form lacks."""
    return [form[name] for name in names.split() if name in form.fields]
