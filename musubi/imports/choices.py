"""Fixed sets of the imports app, importable without the ORM."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Phase(models.TextChoices):
    """Where an import stands, as its owner sees it."""

    UPLOADED = "uploaded", _("Waiting for the column mapping")
    CHECKING = "checking", _("Checking the rows")
    CHECKED = "checked", _("Checked (dry run)")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    REFUSED = "refused", _("Not imported: some rows have errors")
    FAILED = "failed", _("Failed")


class Target(models.TextChoices):
    """What a column of the file becomes."""

    EMAIL = "email", _("Email address")
    NAME = "name", _("Name")
    PHONE = "phone", _("Phone number")
    LINE_USER_ID = "line_user_id", _("LINE user ID")
    TAGS = "tags", _("Tags")
    FIELD = "field", _("Custom field")
    IGNORE = "ignore", _("Ignore")


class Encoding(models.TextChoices):
    """How the file's text is written. Japanese Excel saves "CSV" in Shift_JIS — precisely Microsoft's CP932,
    which adds the NEC and IBM characters (①, 髙, 﨑) plain Shift_JIS lacks."""

    UTF8 = "utf-8", _("UTF-8")
    CP932 = "cp932", _("Shift_JIS (Excel in Japanese)")
