"""Messaging tables: who sends, what is said, when (sequences and broadcasts), and one row per message sent.

``Delivery`` is the unit of outbound work: one row per (enrollment, step) or per (broadcast run, contact),
unique, so a message can be queued only once, and claimed by workers with a lease (``kernel.claims``). LINE
messages travel in ``LineRequest`` rows — a push to one friend or a multicast to up to 500 — whose members,
messages and retry key are saved before the first attempt, so a retried request is the identical request and
LINE delivers it once.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from musubi.capture.models import LineChannel
from musubi.contacts.models import Contact, Segment
from musubi.kernel.claims import DurableWork, WorkStatus
from musubi.kernel.models import WorkspaceOwned
from musubi.kernel.secrets import EncryptedTextField
from musubi.messaging.choices import (
    Direction,
    EnrollmentStatus,
    KeywordMatch,
    MessageChannel,
    Outcome,
    Reentry,
    RunState,
    Timing,
    Trigger,
)
from musubi.messaging.richmenu_rules import WIDTH, Height, JobAction, MenuState


class SenderProfile(WorkspaceOwned):
    """Who a workspace's mail comes from, and the footer the law requires on every advertising mail
    (特定電子メール法: the sender's name, an address, a contact point, a way to refuse). Sending is refused
    while a required item is empty; the footer is added by the system, never left to a template."""

    from_name = models.CharField(_("sender name"), max_length=100, blank=True, default="")
    from_address = models.EmailField(_("sender address"), blank=True, default="")
    reply_to = models.EmailField(_("reply-to address"), blank=True, default="")
    legal_name = models.CharField(_("sender's legal name"), max_length=200, blank=True, default="")
    postal_address = models.CharField(_("postal address"), max_length=300, blank=True, default="")
    dkim_selector = models.CharField(max_length=63, blank=True, default="")
    dkim_private_key = EncryptedTextField(blank=True, default="", help_text="PEM; never shown.")
    contact_info = models.CharField(_("contact point"), max_length=300, blank=True, default="",
                                    help_text="A telephone number, address or page where people can reach the sender.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="senderprofile_one_per_workspace")]

    def __str__(self) -> str:
        return f"{self.from_name} <{self.from_address}>"


class Template(WorkspaceOwned):
    """What a message says on one channel. Text is written in a sandboxed template language
    (``messaging.rendering``) that can read the contact's name and fields, the coupon and offer links — and
    nothing else."""

    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=MessageChannel.choices)
    subject = models.CharField(max_length=300, blank=True, default="")
    html = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="", help_text="Plain text; derived from the HTML when empty.")
    line_messages = models.JSONField(default=list, blank=True,
                                     help_text="Up to five LINE messages (messaging.line_messages).")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "channel", "name"], name="template_ws_channel_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def first_words(self) -> str:
        """What lists show of a LINE template: its first message's text (or alternative text)."""
        return _first_words(self.line_messages)


def _first_words(messages: list[dict[str, str]]) -> str:
    first = messages[0] if messages else {}
    return str(first.get("text") or first.get("alt_text") or "")


class Sequence(WorkspaceOwned):
    """Step messages started by an event, ended by a goal. ``trigger_ref`` narrows the trigger to one
    capture point, LINE channel or offer (their ids; empty means any)."""

    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    trigger_ref = models.BigIntegerField(null=True, blank=True)
    trigger_tag = models.CharField(max_length=100, blank=True, default="")
    goal_tag = models.CharField(max_length=100, blank=True, default="")
    goal_event = models.CharField(max_length=64, blank=True, default="",
                                  help_text="A fact kind (e.g. order.paid) that ends the sequence for the contact.")
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.NEVER)
    quiet_start = models.TimeField(default=dt.time(21, 0))
    quiet_end = models.TimeField(default=dt.time(8, 0))
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "trigger", "active"], name="sequence_ws_trigger")]

    def __str__(self) -> str:
        return self.name


class Step(WorkspaceOwned):
    """One message of a sequence. Steps are archived rather than deleted, so what was sent keeps its step."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="+")
    line_channel = models.ForeignKey(LineChannel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    timing = models.CharField(max_length=8, choices=Timing.choices, default=Timing.AFTER)
    delay_minutes = models.PositiveIntegerField(default=0)
    day = models.PositiveIntegerField(default=0, help_text="Days after entering (0 = the day they entered).")
    at_time = models.TimeField(null=True, blank=True)
    only_if_tag = models.CharField(max_length=100, blank=True, default="")
    skip_if_tag = models.CharField(max_length=100, blank=True, default="")
    only_if_segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    only_if_clicked = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                        help_text="Send only to people who clicked a link in this earlier step.")
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["workspace", "sequence", "position"], name="step_ws_sequence_pos")]

    def __str__(self) -> str:
        return f"{self.sequence_id}#{self.position}"

    @property
    def channel(self) -> str:
        return self.template.channel


class Enrollment(WorkspaceOwned):
    """A contact going through a sequence. ``last_position`` is the position of the last step handled, so
    steps added or reordered later never resend one the contact already got; ``next_due_at`` is when the
    scheduler next looks at it (null once finished)."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    round = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE)
    entered_at = models.DateTimeField()
    last_position = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sequence", "contact", "round"],
                                               name="enrollment_unique_round")]
        indexes = [
            # The scheduler's only question: which active enrollments are due. Partial, so finished ones cost nothing.
            models.Index(fields=["next_due_at"], condition=Q(status="active"), name="enrollment_due"),
            models.Index(fields=["workspace", "sequence", "status"], name="enrollment_ws_seq_status"),
            models.Index(fields=["workspace", "contact"], name="enrollment_ws_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.sequence_id}"


class Broadcast(WorkspaceOwned):
    """One message to a saved segment on one channel — now, at a set time, or each time the API says so."""

    name = models.CharField(max_length=200)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="+")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="Empty: every contact who may receive marketing on the channel.")
    line_channel = models.ForeignKey(LineChannel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    schedule_started = models.BooleanField(default=False, help_text="The scheduled run has been started.")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="broadcast_ws_created"),
                   models.Index(fields=["scheduled_at"], name="broadcast_schedule_due",
                                condition=Q(schedule_started=False, scheduled_at__isnull=False))]

    def __str__(self) -> str:
        return self.name

    @property
    def channel(self) -> str:
        return self.template.channel


class BroadcastRun(WorkspaceOwned, DurableWork):
    """One sending of a broadcast. As durable work, the run is first *planned*: a worker walks the segment in
    id order and writes a delivery per recipient, saving ``cursor`` with each chunk, so a killed worker
    resumes the walk. ``state`` is what people see and control (pause, resume, cancel)."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.PLANNING)
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    cursor = models.BigIntegerField(default=0, help_text="The last contact id planned.")
    planned = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When it finished or was cancelled.")

    class Meta(DurableWork.Meta):
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "number"], name="broadcastrun_unique_number"),
            models.UniqueConstraint(fields=["broadcast", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="broadcastrun_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id} run {self.number}"


class LineRequest(WorkspaceOwned, DurableWork):
    """One request to LINE: a push (one friend) or a multicast (up to 500). On the first attempt the members
    who may still receive it and the rendered messages are saved (``fixed``); every attempt after that sends
    exactly that, with the same retry key."""

    line_channel = models.ForeignKey(LineChannel, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("BroadcastRun", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    retry_key = models.UUIDField(default=uuid.uuid4)
    fixed = models.BooleanField(default=False)
    user_ids = models.JSONField(default=list, blank=True)
    messages = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"LINE request {self.retry_key}"


class Delivery(WorkspaceOwned, DurableWork):
    """One message to one contact from one step or one broadcast run; see the module docstring."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=MessageChannel.choices)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries")
    run = models.ForeignKey(BroadcastRun, null=True, blank=True, on_delete=models.CASCADE,
                            related_name="deliveries")
    line_request = models.ForeignKey(LineRequest, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="deliveries")
    address = models.CharField(max_length=254, blank=True, default="",
                               help_text="Where it went: the email address or LINE user id used.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableWork.Meta):
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], condition=Q(enrollment__isnull=False),
                                    name="delivery_unique_step"),
            models.UniqueConstraint(fields=["run", "contact"], condition=Q(run__isnull=False),
                                    name="delivery_unique_run_contact"),
        ]
        indexes = [
            *DurableWork.Meta.indexes,
            models.Index(fields=["workspace", "run", "status"], name="delivery_ws_run_status"),
            models.Index(fields=["workspace", "step", "outcome"], name="delivery_ws_step_outcome"),
            models.Index(fields=["workspace", "contact"], name="delivery_ws_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.contact_id}"

    @property
    def state(self) -> str:
        """What people read: queued, sending, or how it ended."""
        if self.status == WorkStatus.PENDING:
            return str(_("Queued"))
        if self.status == WorkStatus.CLAIMED:
            return str(_("Sending"))
        return str(Outcome(self.outcome).label) if self.outcome else str(WorkStatus(self.status).label)


class OutboxMessage(WorkspaceOwned):
    """A mail kept instead of sent, when the installation's mail transport is the outbox (the demo): the
    owner reads exactly what would have gone out."""

    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    raw = models.TextField()
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "at"], name="outbox_ws_at")]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.subject}"


# --- Conversations: messages people send the business, answers, and keyword auto-replies --------------------

class AutoReply(WorkspaceOwned):
    """A keyword rule on LINE: a friend's message that matches gets these texts back at once (through the
    free reply API), and optionally a tag — how Japanese shops answer 「予約」「メニュー」「クーポン」."""

    name = models.CharField(max_length=200)
    line_channel = models.ForeignKey(LineChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                     help_text="Empty: every connected account of the workspace.")
    keywords = models.JSONField(default=list)
    match = models.CharField(max_length=8, choices=KeywordMatch.choices, default=KeywordMatch.EXACT)
    messages = models.JSONField(default=list, help_text="Up to five LINE messages (messaging.line_messages).")
    tag = models.CharField(max_length=100, blank=True, default="", help_text="A tag given to whoever matches.")
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["workspace", "active", "position"], name="autoreply_ws_active")]

    def __str__(self) -> str:
        return self.name

    @property
    def first_words(self) -> str:
        return _first_words(self.messages)


class InboxMessage(WorkspaceOwned):
    """One message of a conversation with a contact: what they wrote (``in``) or what the business answered
    (``out``, by a person or an auto-reply). ``external_id`` is the provider's id of an incoming message, so a
    message delivered twice is kept once."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=MessageChannel.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    subject = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField()
    line_channel = models.ForeignKey(LineChannel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(max_length=200, blank=True, default="")
    postback = models.BooleanField(default=False)
    at = models.DateTimeField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    auto_reply = models.ForeignKey(AutoReply, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "channel", "external_id"],
                                               condition=~Q(external_id=""), name="inbox_unique_external")]
        indexes = [models.Index(fields=["workspace", "contact", "at"], name="inbox_ws_contact_at"),
                   models.Index(fields=["workspace", "at"], name="inbox_ws_at")]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} {self.contact_id}"


class Answer(WorkspaceOwned, DurableWork):
    """An answer on its way out. On LINE it uses the reply token while it is fresh (free of the monthly
    quota) and otherwise a push with a retry key saved here, so a retried push is delivered once."""

    message = models.OneToOneField(InboxMessage, on_delete=models.CASCADE, related_name="sending")
    reply_token = models.CharField(max_length=200, blank=True, default="")
    reply_until = models.DateTimeField(null=True, blank=True)
    retry_key = models.UUIDField(default=uuid.uuid4)
    line_messages = models.JSONField(default=list, blank=True,
                                     help_text="The LINE messages to send (an auto-reply's); empty: the text.")

    def __str__(self) -> str:
        return f"answer {self.message_id}"


class LineImage(WorkspaceOwned):
    """A picture a LINE message shows (an image message, or the top of a buttons card). LINE fetches it from
    our own address (``/li/<key>``), so the key is random and unguessable; the file is never changed."""

    key = models.UUIDField(default=uuid.uuid4, unique=True)
    file = models.FileField(upload_to="line-images/")
    content_type = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True, default="", help_text="The uploaded file's name.")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name or self.key} ({self.width}×{self.height})"


# === Rich menus (LINE) ========================================================================================
# The menus at the bottom of a LINE chat: a default one per account and one per segment, switched as friends
# move between segments. See ``messaging.richmenus``.

class RichMenu(WorkspaceOwned):
    """A rich menu of one LINE account: its image, tappable areas and who sees it. Without a segment it is the
    account's default menu; with one, friends in the segment get it (the highest ``priority`` wins for friends
    in several). LINE's menus cannot be changed once made, so a menu is edited only as a draft; publishing
    makes it at LINE (``line_id``) and unpublishing deletes it there."""

    line_channel = models.ForeignKey(LineChannel, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=300)
    chat_bar_text = models.CharField(max_length=14)
    height = models.PositiveIntegerField(choices=Height.choices, default=Height.LARGE)
    image = models.FileField(upload_to="richmenus/", blank=True, default="")
    image_type = models.CharField(max_length=16, blank=True, default="")
    areas = models.JSONField(default=list, blank=True, help_text="LINE's area objects: bounds and action.")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="Empty: the account's default menu.")
    priority = models.IntegerField(default=0)
    state = models.CharField(max_length=16, choices=MenuState.choices, default=MenuState.DRAFT)
    line_id = models.CharField(max_length=64, blank=True, default="")
    image_uploaded = models.BooleanField(default=False)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # One default menu at a time per account: LINE shows only one.
            models.UniqueConstraint(fields=["line_channel"], name="richmenu_one_live_default",
                                    condition=Q(segment__isnull=True, state__in=["publishing", "published"])),
        ]
        indexes = [models.Index(fields=["workspace", "line_channel", "state"], name="richmenu_ws_channel_state")]

    def __str__(self) -> str:
        return self.name

    @property
    def width(self) -> int:
        return WIDTH


class RichMenuJob(WorkspaceOwned, DurableWork):
    """Publishing or unpublishing a menu at LINE, as a row a worker claims (never an HTTP call in a request)."""

    rich_menu = models.ForeignKey(RichMenu, on_delete=models.CASCADE, related_name="jobs")
    action = models.CharField(max_length=12, choices=JobAction.choices)

    class Meta(DurableWork.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.action} {self.rich_menu_id}"


class RichMenuLink(WorkspaceOwned):
    """The menu LINE has linked to one friend, written only after LINE accepted the link. No row: the friend
    sees the default menu."""

    line_channel = models.ForeignKey(LineChannel, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=40)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rich_menu = models.ForeignKey(RichMenu, on_delete=models.CASCADE, related_name="links")
    linked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["line_channel", "user_id"], name="richmenulink_unique_user")]
        indexes = [models.Index(fields=["workspace", "rich_menu"], name="richmenulink_ws_menu")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.rich_menu_id}"


class RichMenuSwitch(WorkspaceOwned, DurableWork):
    """One bulk request to LINE: link ``rich_menu`` to up to 500 friends, or (no menu) unlink theirs so they
    see the default. ``members`` holds [contact id, user id] pairs, fixed when the row is made; the links are
    recorded when LINE accepts the request."""

    line_channel = models.ForeignKey(LineChannel, on_delete=models.CASCADE, related_name="+")
    rich_menu = models.ForeignKey(RichMenu, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    members = models.JSONField(default=list)

    class Meta(DurableWork.Meta):
        pass

    def __str__(self) -> str:
        return f"{'link' if self.rich_menu_id else 'unlink'} {len(self.members)} on {self.line_channel_id}"


class RichMenuCheck(WorkspaceOwned):
    """When the switching pass next compares an account's friends with their menus; taken by a conditional
    update, so several workers never compare the same account at once."""

    line_channel = models.OneToOneField(LineChannel, on_delete=models.CASCADE, related_name="+")
    next_check_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.line_channel_id} at {self.next_check_at:%Y-%m-%d %H:%M}"
