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
