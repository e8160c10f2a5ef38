"""Who may do what in a workspace: pure decisions on a role."""

from __future__ import annotations

from collections.abc import Iterable
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
