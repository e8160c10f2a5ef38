"""Fixed sets of the contacts app, importable without the ORM."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentityKind(models.TextChoices):
    EMAIL = "email", _("Email address")
    LINE = "line", _("LINE user")
    PHONE = "phone", _("Phone number")


class Channel(models.TextChoices):
    """A way of reaching a person; consent and suppression are kept per channel."""

    EMAIL = "email", _("Email")
    LINE = "line", _("LINE")
    SMS = "sms", _("SMS")


class LegalBasis(models.TextChoices):
    """Why a business may send advertising to a person (特定電子メール法 Art. 3-1)."""

    CONSENT = "consent", _("Consent (opt-in)")
    WRITTEN_NOTICE = "written_notice", _("Gave the address in writing (e.g. a business card)")
    TRANSACTION = "transaction", _("Existing business relationship")
    PUBLISHED = "published", _("Address published for business use")


class Stage(models.TextChoices):
    LEAD = "lead", _("Lead")
    FRONT_CUSTOMER = "front_customer", _("Front-end customer")
    BACK_CUSTOMER = "back_customer", _("Back-end customer")


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Marked as spam")
    BLOCKED = "blocked", _("Blocked on LINE")
    MANUAL = "manual", _("Added by hand")
