from django.db import models
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    AD = "ad", _("Advertising")
    AFFILIATE = "affiliate", _("Affiliate")
    NEWSLETTER_AD = "newsletter_ad", _("Ad in another business's newsletter (号外広告)")
    STORE_SPOT = "store_spot", _("A spot in the shop (QR code)")
    WEBSITE = "website", _("Website")
    LINE = "line", _("LINE")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class FieldKind(models.TextChoices):
    """What a question on an opt-in form asks for."""

    TEXT = "text", _("Short answer")
    LONG_TEXT = "long_text", _("Long answer")
    SINGLE = "single", _("One choice")
    MULTIPLE = "multiple", _("Several choices")


class Incentive(models.TextChoices):
    """What the thank-you page gives a person who opted in."""

    NONE = "none", _("Nothing (a thank-you only)")
    COUPON = "coupon", _("A coupon")
    DOWNLOAD = "download", _("A download link")


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for email confirmation")
    CONFIRMED = "confirmed", _("Confirmed")


class SubmittedVia(models.TextChoices):
    PAGE = "page", _("Opt-in page")
    EMBED = "embed", _("Form on another site")
    API = "api", _("API")
    LINE = "line", _("LINE friend-add")
