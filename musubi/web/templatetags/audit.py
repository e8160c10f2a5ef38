"""Audit entries in words: the stored action codes stay stable, people read a sentence in their language."""

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from musubi.contacts.choices import LegalBasis
from musubi.imports.choices import Encoding
from musubi.web.catalog_forms import OfferForm, PremiumForm, ProductForm
from musubi.web.order_pages import PaymentSettingsForm
from musubi.workspaces.choices import LEGAL_FIELD_LABELS, Role

register = template.Library()

ACTION_LABELS = {
    "workspace.created": _("Workspace created"),
    "workspace.updated": _("Workspace settings changed"),
    "member.added": _("Member added"),
    "member.role_changed": _("Member's role changed"),
    "member.removed": _("Member removed"),
    "api_key.created": _("API key created"),
    "api_key.revoked": _("API key revoked"),
    "product.created": _("Product added"), "product.updated": _("Product changed"),
    "product.deleted": _("Product deleted"), "offer.created": _("Offer added"), "offer.updated": _("Offer changed"),
    "offer.deleted": _("Offer deleted"), "offer.published": _("Offer published"),
    "offer.unpublished": _("Offer back to draft"), "offer.premium_set": _("Premium set"),
    "offer.premium_removed": _("Premium removed"), "offer.file_added": _("File for buyers added"),
    "offer.file_removed": _("File for buyers removed"), "ladder.created": _("Ladder created"),
    "ladder.updated": _("Ladder changed"), "ladder.deleted": _("Ladder deleted"),
    "ladder.step_added": _("Ladder step added"), "ladder.step_removed": _("Ladder step removed"),
    "plan.created": _("Plan created"), "plan.updated": _("Plan changed"),
    "plan.refreshed": _("Plan refreshed from the ladder"),
    "plan.deleted": _("Plan deleted"), "contact.erased": _("Contact erased"),
    "contact.consents_deleted": _("Consent records deleted"), "source.created": _("Source created"),
    "source.cost_added": _("Source cost added"), "link.created": _("Tracking link created"),
    "segment.created": _("Segment created"), "segment.updated": _("Segment changed"),
    "segment.deleted": _("Segment deleted"),
    "capture_point.created": _("Opt-in form created"), "capture_point.changed": _("Opt-in form changed"),
    "coupon_definition.created": _("Coupon created"), "coupon_definition.changed": _("Coupon changed"),
    "coupon.redeemed": _("Coupon redeemed"), "contacts.exported": _("Contacts exported as CSV"),
    "import.uploaded": _("CSV file uploaded"), "import.configured": _("Import set up"),
    "import.started": _("Import started"), "line.connected": _("LINE account connected"),
    "line.changed": _("LINE account changed"),
    "line.checked": _("LINE account checked with LINE"), "line.removed": _("LINE account removed"),
    "contact.time_zone": _("Contact's time zone set"), "legal_profile.saved": _("Legal particulars saved"),
    "payment_settings.saved": _("Payment settings saved"), "webhook.set": _("Webhook address set"),
    "webhook.removed": _("Webhook address removed"), "offer.invitation_only": _("Offer's invitation rule changed"),
    "discount_code.created": _("Discount code created"), "discount_code.deleted": _("Discount code deleted"),
    "discount_code.enabled": _("Discount code switched on"), "discount_code.disabled": _("Discount code switched off"),
    "order.marked_paid": _("Order marked as paid"), "order.shipped": _("Order shipped"),
    "order.delivered": _("Order delivered"), "order.cancelled": _("Order cancelled"),
    "order.refunded": _("Order refunded"), "order.document_issued": _("Receipt or invoice issued"),
    "order.document_copied": _("Receipt or invoice issued again (再発行)"),
    "subscription.cancelled": _("Subscription cancelled"), "subscription.paused": _("Subscription paused"),
    "subscription.resumed": _("Subscription resumed"), "subscription.skipped": _("Next delivery skipped"),
    "subscription.rescheduled": _("Next delivery moved"),
    "messaging.sender_saved": _("Sender details saved"), "messaging.dkim_key_created": _("DKIM key made"),
    "messaging.template_created": _("Message template created"),
    "messaging.template_changed": _("Message template changed"),
    "messaging.sequence_created": _("Sequence created"), "messaging.sequence_changed": _("Sequence changed"),
    "messaging.step_added": _("Sequence step added"), "messaging.step_changed": _("Sequence step changed"),
    "messaging.step_removed": _("Sequence step removed"), "messaging.broadcast_created": _("Broadcast created"),
    "messaging.broadcast_changed": _("Broadcast changed"), "messaging.broadcast_sent": _("Broadcast sent"),
    "messaging.broadcast_paused": _("Broadcast paused"), "messaging.broadcast_resumed": _("Broadcast resumed"),
    "messaging.broadcast_cancelled": _("Broadcast cancelled"), "messaging.auto_reply_saved": _("Keyword reply saved"),
    "messaging.auto_reply_deleted": _("Keyword reply deleted"), "messaging.answered": _("Answered in the inbox"),
    "richmenu.created": _("Rich menu created"), "richmenu.updated": _("Rich menu changed"),
    "richmenu.deleted": _("Rich menu deleted"), "richmenu.published": _("Rich menu published"),
    "richmenu.unpublished": _("Rich menu taken down"),
}


@register.filter
def audit_action(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


@register.filter
def audit_actor(entry: object) -> str:
    label = getattr(entry, "actor_label", "")
    return str(_("System")) if label == "system" else label


FIELD_LABELS = {
    "name": _("Name"), "slug": _("Short name for URLs"), "timezone": _("Time zone"), "role": _("Role"),
    "email": _("Email address"), "prefix": _("Key starts with"), "price": _("Price"), "premium": _("Premium"),
    "legal_value": _("Normal price"), "take_rate": _("Take rate"), "front": _("Front-end"), "back": _("Back-end"),
    "definition": _("Conditions"), "code": _("Code"), "number": _("Use"), "new_version": _("New version"),
    "channel_id": _("Channel ID"), "rows": _("Rows"), "encoding": _("Encoding"), "basis": _("Legal basis"),
    "dry_run": _("Dry run"), "skip_invalid": _("Skip bad rows"), "active": _("Open"),
    "secret_replaced": _("Secret replaced"), "token_replaced": _("Token replaced"),
    "amount": _("Amount"), "spent_on": _("Spent on"), "note": _("Note"), "tags": _("Tags"),
    "bot_name": _("Bot name"), "basic_id": _("LINE ID"), "changed": _("Changed fields"), "deleted": _("Deleted"),
    "file": _("File"), "file_name": _("File name"), "size": _("Size (bytes)"), "kind": _("Kind"),
    "invitation_only": _("Invitation only"), "replaced": _("Replaced"), "segment": _("Segment"),
    "selector": _("Selector"), "time_zone": _("Time zone"), "tracking_number": _("Tracking number"),
    "url": _("URL"), "value": _("Value"), "at": _("When"), "next": _("Next delivery"),
    "before_minimum": _("Before the minimum number of deliveries"), "deliveries": _("Deliveries so far"),
    "run": pgettext_lazy("broadcast run", "Run"),
}

# A change to an object edited through a form is named as that form names the field, so the log and the form
# use one wording.
_FORMS_OF_OBJECTS: dict[str, Any] = {"catalog.product": ProductForm, "catalog.offer": OfferForm,
                                     "catalog.premium": PremiumForm, "commerce.paymentsettings": PaymentSettingsForm}

# Where the same key means different things for different actions.
_ACTION_FIELD_LABELS = {
    ("order.document_issued", "number"): _("Document number"),
    ("order.document_copied", "number"): _("Document number"),
}


def field_label(entry: Any, field: str) -> str:
    """The words for a changed ``field`` of an audit entry: the editing form's label, then the action's own, then
    the shared list; the code itself only if nothing names it."""
    action, object_type = getattr(entry, "action", ""), getattr(entry, "object_type", "")
    form = _FORMS_OF_OBJECTS.get(object_type)
    if form is not None and field in form.base_fields:
        return str(form.base_fields[field].label)
    if object_type == "workspaces.legalprofile" and field in LEGAL_FIELD_LABELS:
        return str(LEGAL_FIELD_LABELS[field])
    label = _ACTION_FIELD_LABELS.get((action, field)) or FIELD_LABELS.get(field)
    return str(label) if label is not None else field


# Stored codes of shared choices, shown by their labels wherever the key appears.
_CHOICES_OF_KEYS: dict[str, Any] = {"basis": LegalBasis, "encoding": Encoding}


def _choice_label(entry: Any, field: str, value: Any) -> str | None:
    """The label of a stored choice: from the editing form's choices (an offer's role, a product's kind), then
    from the shared choices named by the key."""
    form = _FORMS_OF_OBJECTS.get(getattr(entry, "object_type", ""))
    choices = getattr(form.base_fields.get(field), "choices", None) if form is not None else None
    if choices:
        found = {str(code): label for code, label in choices}.get(str(value))
        if found is not None:
            return str(found)
    if field in _CHOICES_OF_KEYS and value in _CHOICES_OF_KEYS[field].values:
        return str(_CHOICES_OF_KEYS[field](value).label)
    if field == "role" and value in Role.values:  # a member's role in the workspace
        return str(Role(value).label)
    return None


def _readable(entry: Any, field: str, value: Any) -> str:
    if field == "changed" and isinstance(value, list):  # the names of the fields that changed
        return "、".join(field_label(entry, name) for name in value)
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):  # tags and the like
        return "、".join(str(item) for item in value)
    label = _choice_label(entry, field, value)
    return label if label is not None else str(value)


@register.filter
def audit_changes(entry: Any) -> list[tuple[str, str]]:
    """``{"role": ["staff", "viewer"]}`` → ``[("役割", "スタッフ → 閲覧のみ")]``."""
    rows = []
    for field, value in (getattr(entry, "changes", None) or {}).items():
        if field == "definition":  # a segment's conditions: that they changed, not their JSON
            rows.append((field_label(entry, field), str(_("(changed)"))))
            continue
        if isinstance(value, list) and len(value) == 2 and field not in ("changed", "tags"):  # [before, after]
            text = f"{_readable(entry, field, value[0])} → {_readable(entry, field, value[1])}"
        else:
            text = _readable(entry, field, value)
        rows.append((field_label(entry, field), text))
    return rows
