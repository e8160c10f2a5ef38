"""Who may do what in a workspace: pure decisions on a role."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum

from musubi.workspaces.choices import Role


class Action(StrEnum):
    VIEW = "view"  # read anything in the workspace
    OPERATE = "operate"  # day-to-day work: redeem a coupon, record a payment, reply to a customer
    MANAGE = "manage"  # change the workspace's design: offers, pages, sequences, settings
    ADMINISTER = "administer"  # members, roles, API keys, the workspace itself


_ALLOWED: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.STAFF: frozenset({Action.VIEW, Action.OPERATE}),
    Role.VIEWER: frozenset({Action.VIEW}),
}


def role_allows(role: str, action: Action) -> bool:
    return action in _ALLOWED.get(role, frozenset())


def may_create_workspaces(*, is_superuser: bool, roles: Iterable[str]) -> bool:
    """Owners (and the installation's administrators) may open more workspaces, and so may a new person with
    no workspace yet; someone who is only staff or viewer somewhere — the counter staff — may not."""
    held = set(roles)
    return is_superuser or not held or Role.OWNER in held


# The seller's particulars (特定商取引法 Art. 11); the optional ones last.
REQUIRED_LEGAL_FIELDS = ("seller_name", "responsible_person", "address", "phone", "email", "price_note",
                         "payment_methods", "payment_timing", "delivery_timing", "returns_policy",
                         "subscription_cancellation")
OPTIONAL_LEGAL_FIELDS = ("application_period", "invoice_registration_number")
LEGAL_FIELDS = REQUIRED_LEGAL_FIELDS + OPTIONAL_LEGAL_FIELDS
INVOICE_NUMBER_PATTERN = re.compile(r"T[0-9]{13}")  # ASCII digits only: \d would take full-width ones too


def missing_legal_fields(values: Mapping[str, str]) -> list[str]:
    """The required particulars that are empty (or only blanks), in the order the page shows them."""
    return [name for name in REQUIRED_LEGAL_FIELDS if not str(values.get(name) or "").strip()]


def invoice_number_is_valid(value: str) -> bool:
    """A qualified-invoice registration number (適格請求書発行事業者登録番号) is ``T`` and 13 digits."""
    return bool(INVOICE_NUMBER_PATTERN.fullmatch(value))
