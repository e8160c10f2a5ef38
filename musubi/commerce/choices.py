"""Fixed sets of the sales app, importable without the ORM."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OrderStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", pgettext_lazy("order status", "Delivered")  # "Delivered" alone is a plan's interval
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired unpaid")
    REFUNDED = "refunded", _("Refunded")
    PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")


class PaymentMethod(models.TextChoices):
    FREE = "free", _("No payment (free)")
    CARD = "card", _("Credit card")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer (銀行振込)")
    CASH_ON_DELIVERY = "cod", _("Cash on delivery (代金引換)")
    KONBINI = "konbini", _("Convenience store (コンビニ決済)")


# Stripe's limits for a konbini payment (yen, inclusive) and for how long its slip can be paid (days).
KONBINI_MIN_AMOUNT = 120
KONBINI_MAX_AMOUNT = 300_000
KONBINI_MAX_DAYS = 60


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")


class RenewalOutcome(models.TextChoices):
    PENDING = "", _("Not yet")
    ORDERED = "ordered", _("Order created")
    SKIPPED = "skipped", _("Skipped by the customer")


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt (領収書)")
    INVOICE = "invoice", _("Invoice (請求書)")
    REFUND_NOTE = "refund_note", _("Refund note (返金明細書)")
