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
