"""The fixed vocabularies of messaging, with their labels as people read them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    LINE = "line", _("LINE")


class Trigger(models.TextChoices):
    """What starts a sequence for a contact."""

    OPTIN = "optin", _("Opt-in at a form")
    LINE_FOLLOW = "line_follow", _("Added the LINE account as a friend")
    TAG_ADDED = "tag_added", _("Was given a tag")
    PURCHASE = "purchase", _("Bought an offer")
    API = "api", _("Started by the API or by hand")


class Reentry(models.TextChoices):
    NEVER = "never", _("Never: once per person")
    AFTER_FINISH = "after_finish", _("Again after finishing")


class Timing(models.TextChoices):
    AFTER = "after", _("A delay after the previous step")
    DAY_AT = "day_at", _("Day N at a time of day")


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("Receiving steps")
    COMPLETED = "completed", _("Got every step")
    GOAL = "goal", _("Reached the goal")
    STOPPED = "stopped", _("Stopped")
    # Every channel its remaining steps use was refused (unsubscribed, blocked, consent withdrawn).
    UNSUBSCRIBED = "unsubscribed", _("Ended (stopped receiving)")


class Outcome(models.TextChoices):
    """How a delivery ended; empty while it is queued or sending."""

    SENT = "sent", _("Sent")
    SUPPRESSED = "suppressed", _("Not sent: no consent or suppressed")
    SKIPPED = "skipped", _("Skipped by a condition")
    CANCELLED = "cancelled", _("Cancelled")
    BOUNCED = "bounced", _("Bounced")
    FAILED = "failed", _("Failed")


class RunState(models.TextChoices):
    PLANNING = "planning", _("Preparing the recipient list")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    FINISHED = "finished", _("Finished")


class Direction(models.TextChoices):
    IN = "in", _("From the contact")
    OUT = "out", _("To the contact")


class KeywordMatch(models.TextChoices):
    EXACT = "exact", _("The whole message is the keyword")
    CONTAINS = "contains", _("The message contains the keyword")
