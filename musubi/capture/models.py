"""Sources, their costs, tracking links and clicks."""

from __future__ import annotations

from django.db import models

from musubi.capture.choices import Incentive, SourceKind, SubmissionStatus, SubmittedVia
from musubi.kernel.claims import DurableWork
from musubi.kernel.models import WorkspaceOwned, WorkspaceQuerySet
from musubi.kernel.secrets import EncryptedTextField


class Source(WorkspaceOwned):
    """Where people come from: an ad, an affiliate, an ad in another business's newsletter, table 12's QR
    code. Its costs, set against the contacts and sales it brings, give its return."""

    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="source_unique_name")]

    def __str__(self) -> str:
        return self.name


class SourceCost(WorkspaceOwned):
    """Money spent on a source on a day (an ad invoice, printing the table cards), in minor units."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="costs")
    amount = models.PositiveBigIntegerField()
    spent_on = models.DateField()
    note = models.CharField(max_length=200, blank=True, default="")


class TrackingLink(WorkspaceOwned):
    """A short link ``/r/<code>`` that records a click and redirects to ``target_url`` with the source's UTM
    parameters added. The code is global (the URL carries no workspace) and short enough to print."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="links")
    code = models.CharField(max_length=16, unique=True)
    target_url = models.URLField(max_length=2000)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()


class Click(WorkspaceOwned):
    """One click on a tracking link, recorded before the redirect is answered. The IP is kept only as a keyed
    hash; ``is_bot`` marks link previews and crawlers, which are kept but not counted as people."""

    link = models.ForeignKey(TrackingLink, on_delete=models.CASCADE, related_name="clicks")
    at = models.DateTimeField()
    visitor_id = models.CharField(max_length=36)
    ip_hash = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    referrer = models.CharField(max_length=500, blank=True, default="")
    is_bot = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["workspace", "link", "at"], name="click_ws_link_at"),
                   models.Index(fields=["workspace", "visitor_id", "at"], name="click_ws_visitor_at")]


class KnownVisitor(WorkspaceOwned):
    """A browser (its ``mvid`` visitor id) tied to the person who opted in or joined on LINE from it, so the
    clicks it makes later are recorded for that person as they happen. The latest person to identify
    themselves from the browser wins. The unique index serves the tracking-link path's join by visitor."""

    visitor_id = models.CharField(max_length=36)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "visitor_id"], name="knownvisitor_unique")]


class CouponDefinition(WorkspaceOwned):
    """A kind of coupon a business hands out: "one free karaage for adding us on LINE". Each person gets at
    most one coupon of a definition; it is valid for ``valid_days`` after it was issued and, when set, only
    inside the window [``valid_from``, ``valid_until``]. ``cost`` is what one redemption costs the business
    (the dish's cost, not its price), recorded with each redemption as the cost of a front-end conversion."""

    name = models.CharField(max_length=200)
    benefit = models.CharField(max_length=200, help_text="What the coupon gives, as the customer reads it.")
    offer = models.ForeignKey("catalog.Offer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cost = models.PositiveBigIntegerField(default=0)
    valid_days = models.PositiveIntegerField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class Coupon(WorkspaceOwned):
    """One person's coupon. The code is global (the coupon page ``/c/<code>`` carries no workspace) and
    random enough that guessing one is hopeless, yet short enough to read out at the counter."""

    definition = models.ForeignKey(CouponDefinition, on_delete=models.PROTECT, related_name="coupons")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=16, unique=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    redemptions_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["definition", "contact"], name="coupon_one_per_contact")]
        indexes = [models.Index(fields=["workspace", "contact"], name="coupon_ws_contact")]

    def __str__(self) -> str:
        return self.code


class Redemption(WorkspaceOwned):
    """A coupon used at the counter, by whom and when; ``number`` counts the coupon's uses from 1, so a
    double tap cannot record the same use twice."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    redeemed_by = models.ForeignKey("workspaces.User", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["coupon", "number"], name="redemption_unique_number")]
        indexes = [models.Index(fields=["workspace", "at"], name="redemption_ws_at")]


class CapturePoint(WorkspaceOwned):
    """A way to opt in for a front-end offer: a hosted page ``/p/<code>``, the same form embedded on another
    site, and the API. What a person reads lives in ``CapturePointVersion``: changing the wording makes a new
    version, and each consent record names the version the person saw. Settings that are not wording (the
    incentive, double opt-in, whether it is open) live here."""

    name = models.CharField(max_length=200)
    code = models.CharField(max_length=16, unique=True)
    offer = models.ForeignKey("catalog.Offer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="Credited when no tracking link brought the person.")
    double_opt_in = models.BooleanField(default=False)
    consent_required = models.BooleanField(default=True)
    incentive = models.CharField(max_length=16, choices=Incentive.choices, default=Incentive.NONE)
    coupon = models.ForeignKey(CouponDefinition, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    download_url = models.URLField(max_length=2000, blank=True, default="")
    tags = models.JSONField(default=list, blank=True, help_text="Tags given to everyone who opts in.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class CapturePointVersion(WorkspaceOwned):
    """The wording of a capture point as people saw it, never changed once made. ``questions`` is a list
    of ``{"key", "label", "kind", "required", "options"}`` (see ``rules.clean_questions``); ``wording_hash``
    is the SHA-256 of everything shown, kept with each consent record as proof of what was agreed to."""

    capture_point = models.ForeignKey(CapturePoint, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    headline = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    image = models.FileField(upload_to="capture/", blank=True, default="")
    ask_email = models.BooleanField(default=True)
    ask_name = models.BooleanField(default=True)
    ask_phone = models.BooleanField(default=False)
    questions = models.JSONField(default=list, blank=True)
    consent_text = models.CharField(max_length=500)
    purpose_text = models.TextField()
    sender_name = models.CharField(max_length=200, help_text="The sender's legal name (特定電子メール法).")
    privacy_url = models.URLField(max_length=2000, blank=True, default="")
    tokushoho_url = models.URLField(max_length=2000, blank=True, default="")
    button_label = models.CharField(max_length=50, blank=True, default="")
    thanks_text = models.TextField(blank=True, default="")
    wording_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["capture_point", "number"], name="cpversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.capture_point_id} v{self.number}"


class Submission(WorkspaceOwned):
    """One opt-in: who, through which version and channel, credited to which source, with their answers.
    With double opt-in it waits (``pending``) until the person follows the link in the confirmation mail;
    until then no consent is recorded and no incentive is given."""

    capture_point = models.ForeignKey(CapturePoint, on_delete=models.PROTECT, related_name="submissions")
    version = models.ForeignKey(CapturePointVersion, on_delete=models.PROTECT, related_name="submissions")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=SubmissionStatus.choices)
    via = models.CharField(max_length=8, choices=SubmittedVia.choices)
    at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=254, blank=True, default="", help_text="Normalised; where mail may go.")
    consented = models.BooleanField(help_text="Whether the person ticked the consent box.")
    answers = models.JSONField(default=dict, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    visitor_id = models.CharField(max_length=36, blank=True, default="")
    ip_address = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=500, blank=True, default="")
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["workspace", "capture_point", "at"], name="submission_ws_cp_at")]


class ConfirmationMail(DurableWork, WorkspaceOwned):
    """The mail asking a person to confirm a double opt-in, as a row the worker claims: a dead worker or a
    mail server that is down delays it, never loses it."""

    submission = models.OneToOneField(Submission, on_delete=models.CASCADE, related_name="confirmation_mail")

    class Meta(DurableWork.Meta):
        pass


class LiveLineChannels(models.Manager.from_queryset(WorkspaceQuerySet)):  # type: ignore[misc]
    """Connections that have not been removed: every lookup by people, webhooks and senders goes through it.
    A removed one is still reached from the history that points at it (Django follows foreign keys with the
    base manager)."""

    def get_queryset(self) -> WorkspaceQuerySet:
        return super().get_queryset().filter(removed_at=None)  # type: ignore[no-any-return]


class LineChannel(WorkspaceOwned):
    """A connected LINE Official Account. Its webhook URL carries ``channel_id``, so the right secret is known
    before a byte of the body is parsed. The secret and the access token are never shown again once saved."""

    name = models.CharField(max_length=200)
    channel_id = models.CharField(max_length=20)
    channel_secret = EncryptedTextField()
    access_token = EncryptedTextField()
    greeting = models.TextField(blank=True, default="")
    coupon = models.ForeignKey(CouponDefinition, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+",
                               help_text="Credited for friends added directly, not through a Musubi link.")
    basic_id = models.CharField(max_length=40, blank=True, default="", help_text="The account's @ID.")
    login_channel_id = models.CharField(max_length=20, blank=True, default="",
                                        help_text="A LINE Login channel linked to the account, to learn who came "
                                                  "from which link.")
    login_channel_secret = EncryptedTextField(blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    bot_name = models.CharField(max_length=200, blank=True, default="",
                                help_text="The account's name as LINE gave it when the token was last checked.")
    checked_at = models.DateTimeField(null=True, blank=True, help_text="When LINE last accepted the token.")
    removed_at = models.DateTimeField(null=True, blank=True,
                                      help_text="Removed: credentials erased, kept only for the history sent "
                                                "and received through it.")

    objects = LiveLineChannels()  # type: ignore[misc]
    with_removed = WorkspaceQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel_id"], condition=models.Q(removed_at=None),
                                               name="linechannel_one_live_channel_id")]

    def __str__(self) -> str:
        return self.name


class LineEvent(WorkspaceOwned):
    """A webhook event received, kept by its ``webhookEventId`` so a redelivered event is applied once — or, when
    it was refused (``error``), not at all."""

    channel = models.ForeignKey(LineChannel, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    user_id = models.CharField(max_length=40, blank=True, default="")
    received_at = models.DateTimeField()
    redelivered = models.BooleanField(default=False)
    error = models.CharField(max_length=200, blank=True, default="",
                             help_text="Why the event was not applied (no or a malformed user id); empty if it was.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "event_id"], name="lineevent_unique_id")]
        indexes = [models.Index(fields=["workspace", "received_at"], name="lineevent_ws_received")]


class LineMessage(DurableWork, WorkspaceOwned):
    """Messages to push to one LINE user, as a row the worker claims. ``retry_key`` is fixed when the row is
    made and sent with every attempt, so LINE delivers the messages once however often the push is retried."""

    channel = models.ForeignKey(LineChannel, on_delete=models.CASCADE, related_name="messages")
    user_id = models.CharField(max_length=40)
    texts = models.JSONField()
    retry_key = models.UUIDField(unique=True)
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")

    class Meta(DurableWork.Meta):
        pass


class LineVisit(WorkspaceOwned):
    """Someone who came to add the account through a Musubi link and signed in with LINE Login on the way, so
    their follow is credited to the spot (the table, the flyer) they came from."""

    channel = models.ForeignKey(LineChannel, on_delete=models.CASCADE, related_name="visits")
    user_id = models.CharField(max_length=40)
    visitor_id = models.CharField(max_length=36, blank=True, default="")
    source_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "channel", "user_id", "at"], name="linevisit_ws_user")]
