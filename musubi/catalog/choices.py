"""Fixed sets of the catalog, importable without the ORM."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductKind(models.TextChoices):
    PHYSICAL = "physical", _("Physical goods")
    DIGITAL = "digital", _("Digital product")
    SERVICE = "service", _("Service")
    STORE_VISIT = "store_visit", _("Store visit")


class TaxCategory(models.TextChoices):
    STANDARD = "standard", _("Standard rate (10%)")
    REDUCED = "reduced", _("Reduced rate (8%, food and drink)")


class OfferRole(models.TextChoices):
    FRONT = "front", _("Front-end")
    MIDDLE = "middle", _("Middle")
    BACK = "back", _("Back-end")


class Billing(models.TextChoices):
    ONE_TIME = "one_time", _("One-time")
    RECURRING = "recurring", _("Recurring (subscription)")


class Interval(models.TextChoices):
    WEEK = "week", _("Weekly")
    MONTH = "month", _("Monthly")
    YEAR = "year", _("Yearly")


class OfferStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class PremiumKind(models.TextChoices):
    """What the business says the premium is; ``rules.classify_premium`` decides what the law sees."""

    GIVEAWAY = "giveaway", _("Given to every buyer or visitor (総付景品)")
    LOTTERY = "lottery", _("Lottery (懸賞)")
    JOINT_LOTTERY = "joint_lottery", _("Joint lottery with other businesses (共同懸賞)")
    OPEN_LOTTERY = "open_lottery", _("Open lottery, no purchase or visit needed (オープン懸賞)")
