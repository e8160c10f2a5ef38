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


# --- Segments ----------------------------------------------------------------------------------------------

class Match(models.TextChoices):
    """How a segment or a group combines its conditions."""

    ALL = "all", _("All of these")
    ANY = "any", _("Any of these")


class EventKind(models.TextChoices):
    """Kinds of facts a segment may ask about. Each is a fact kind some app records; the email and order kinds
    come with messaging and commerce and simply match nothing until those write them."""

    LINK_CLICKED = "link.clicked", _("Clicked a tracking link")
    OPTIN_SUBMITTED = "optin.submitted", _("Sent an opt-in form")
    OPTIN_CONFIRMED = "optin.confirmed", _("Completed an opt-in")
    COUPON_ISSUED = "coupon.issued", _("Received a coupon")
    COUPON_REDEEMED = "coupon.redeemed", _("Used a coupon")
    LINE_FOLLOWED = "line.followed", _("Added the shop as a LINE friend")
    LINE_UNFOLLOWED = "line.unfollowed", _("Blocked the shop on LINE")
    CONTACT_TAGGED = "contact.tagged", _("Was given a tag")
    CONSENT_GRANTED = "consent.granted", _("Agreed to receive messages")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("Withdrew their agreement")
    EMAIL_OPENED = "email.opened", _("Opened an email")
    EMAIL_CLICKED = "email.clicked", _("Clicked a link in an email")
    ORDER_PAID = "order.paid", _("Paid for an order")


# Labels of the other facts a person's timeline shows.
TIMELINE_LABELS = {
    "contact.created": _("Joined the list"),
    "contact.merged": _("Found to be the same person as another record; merged"),
    "contact.stage_changed": _("Moved to a new stage"),
    "suppression.added": _("Stopped receiving messages on a channel"),
    "suppression.lifted": _("Receives messages on a channel again"),
    "line.attributed": _("LINE friend-add credited to the link they came through"),
    "file.downloaded": _("Downloaded a file they bought"),
    "order.placed": _("Placed an order"), "order.expired": _("An unpaid order expired"),
    "order.refunded": _("Was refunded"), "order.disputed": _("Disputed a card payment"),
    "order.delivered": _("Received their delivery"),
    "subscription.started": _("Started a subscription"), "subscription.renewed": _("Subscription renewed"),
    "subscription.cancelled": _("Cancelled a subscription"), "subscription.paused": _("Subscription paused"),
    "subscription.resumed": _("Subscription resumed"), "subscription.skipped": _("Skipped a delivery"),
    "subscription.rescheduled": _("Moved a delivery"),
    "sequence.entered": _("Entered a sequence"), "message.sent": _("Was sent a message"),
    "email.prefetched": _("An email was fetched by a mail scanner"), "email.received": _("Wrote an email"),
    "line.message": _("Wrote to the shop on LINE"), "line.postback": _("Tapped a button in LINE"),
    "line.clicked": _("Clicked a link in LINE"),
    **{kind.value: kind.label for kind in EventKind},
}


class TagOp(models.TextChoices):
    HAS = "has", _("has the tag")
    HAS_NOT = "has_not", _("does not have the tag")


class FieldOp(models.TextChoices):
    """Tests on a custom field or survey answer. Text and single-choice answers are strings; multiple-choice
    answers are lists of the chosen option values, which ``includes`` looks into."""

    EQUALS = "equals", _("equals")
    CONTAINS = "contains", _("contains")
    INCLUDES = "includes", _("includes the choice")
    IS_SET = "is_set", _("is answered")
    IS_NOT_SET = "is_not_set", _("is not answered")


class IsOp(models.TextChoices):
    IS = "is", _("is")
    IS_NOT = "is_not", _("is not")


class SourceSide(models.TextChoices):
    FIRST = "first", _("First source")
    LAST = "last", _("Last source")


class ConsentOp(models.TextChoices):
    MAY_RECEIVE = "may_receive", _("may receive marketing now")
    MAY_NOT_RECEIVE = "may_not_receive", _("may not receive marketing now")


class EventOp(models.TextChoices):
    WITHIN = "within", _("within the last … days")
    NOT_WITHIN = "not_within", _("not within the last … days")
    EVER = "ever", _("ever")
    NEVER = "never", _("never")
