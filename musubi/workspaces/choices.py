"""Fixed sets of the workspaces app, importable without the ORM (rules use them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")
    VIEWER = "viewer", _("Viewer")


class Language(models.TextChoices):
    """The languages of the interface, each named in itself."""

    JAPANESE = "ja", "日本語"
    ENGLISH = "en", "English"


# How each particular of the seller's legal profile is titled on the 特商法 page and its settings form.
LEGAL_FIELD_LABELS = {
    "seller_name": _("Seller (販売業者)"),
    "responsible_person": _("Person responsible (運営統括責任者)"),
    "address": _("Address (所在地)"),
    "phone": _("Phone number (電話番号)"),
    "email": _("Email address (メールアドレス)"),
    "price_note": _("Prices, shipping and other fees (販売価格・送料・その他の費用)"),
    "payment_methods": _("Payment methods (支払方法)"),
    "payment_timing": _("When payment is due (支払時期)"),
    "delivery_timing": _("When the goods are delivered (引渡時期)"),
    "returns_policy": _("Returns and exchanges (返品・交換)"),
    "subscription_cancellation": _("Cancelling a subscription (定期購入の解約)"),
    "application_period": _("Application period (申込期間)"),
    "invoice_registration_number": _("Qualified invoice registration number (登録番号)"),
}
