"""Who may do what in a workspace: pure decisions on a role."""

from __future__ import annotations

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
