"""How a workspace is paid: the methods it takes, its fees and deadlines, its Stripe keys."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.commerce.choices import (
    KONBINI_MAX_DAYS,
)
from musubi.commerce.models import (
    PaymentSettings,
)
from musubi.kernel.errors import InvalidInput
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


def payment_settings(workspace: Workspace) -> PaymentSettings:
    return PaymentSettings.objects.for_workspace(workspace).first() or PaymentSettings(workspace=workspace)


@transaction.atomic
def save_payment_settings(*, workspace: Workspace, actor: Actor, **values: Any) -> PaymentSettings:
    """Change how the workspace is paid. Empty secret fields keep the saved secret (they are never shown)."""
    actor.require(Action.MANAGE)
    current = PaymentSettings.objects.for_workspace(workspace).select_for_update().first() or PaymentSettings(
        workspace=workspace)
    fields: dict[str, str] = {}
    for name in ("cod_fee", "shipping_fee", "bank_transfer_days", "konbini_days"):
        if name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)
                               or values[name] < 0):
            fields[name] = _("Enter a whole number of 0 or more.")
    if "konbini_days" not in fields and not 1 <= values.get("konbini_days", current.konbini_days) <= KONBINI_MAX_DAYS:
        fields["konbini_days"] = _("Enter from 1 to %(n)s days.") % {"n": KONBINI_MAX_DAYS}
    if values.get("bank_transfer_enabled") and not (values.get("bank_account") or current.bank_account).strip():
        fields["bank_account"] = _("Enter the account a transfer goes to.")
    secret = values.get("stripe_secret_key") or ""
    if secret and not secret.startswith(("sk_", "rk_")):
        fields["stripe_secret_key"] = _("A Stripe secret key starts with sk_ (or rk_ for a restricted key).")
    if values.get("card_enabled") and not (secret or current.stripe_secret_key):
        fields["stripe_secret_key"] = _("Enter the Stripe secret key to take cards.")
    if values.get("konbini_enabled") and not (secret or current.stripe_secret_key):
        fields["stripe_secret_key"] = _("Enter the Stripe secret key to take convenience store payments.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    changed = []
    for name, value in values.items():
        if name in ("stripe_secret_key", "stripe_webhook_secret") and not value:
            continue
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed.append(name)
    if changed or current.pk is None:
        current.save()
        # The audit names what changed, never a secret's value.
        record_audit(workspace=workspace, actor=actor, action="payment_settings.saved", obj=current,
                     changes={"changed": sorted(changed)})
    return current
