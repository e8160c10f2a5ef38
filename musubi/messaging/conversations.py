"""Conversations: what contacts write (LINE messages and postbacks, inbound mail), keyword auto-replies, and
the answers staff write from the inbox.

Answers are ``Answer`` rows sent by the ``messaging.answers`` queue: on LINE through the reply token while it
is fresh (free of the monthly quota) and otherwise by a push with a saved retry key; by mail through the
system mailer from the workspace's sender. A reply to what a person asked is not advertising, so it is not
held back by the marketing consent that step mails and broadcasts need — but a person who blocked the account
cannot be reached on LINE, and that is said instead of tried.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from email.utils import formataddr, make_msgid
from typing import Any

from django.core.mail import EmailMessage, mailers
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from musubi.capture.events import LineMessageReceived
from musubi.capture.models import LineChannel
from musubi.contacts import services as contacts
from musubi.contacts.models import Contact, Identity, Suppression
from musubi.integrations import line as line_api
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.kernel.worker import BatchOutcome
from musubi.messaging import composing, line_images, line_messages, rendering
from musubi.messaging.choices import Direction, KeywordMatch, MessageChannel
from musubi.messaging.models import Answer, AutoReply, InboxMessage, SenderProfile
from musubi.workspaces.models import User, Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

REPLY_TOKEN_LIFETIME = dt.timedelta(seconds=50)  # LINE keeps reply tokens valid briefly; stay well inside


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def matching_rule(rules: list[AutoReply], text: str) -> AutoReply | None:
    said = _plain(text)
    for rule in rules:
        for keyword in rule.keywords:
            word = _plain(keyword)
            if word and (said == word if rule.match == KeywordMatch.EXACT else word in said):
                return rule
    return None


def on_line_message(event: LineMessageReceived) -> None:
    """Keep the message in the contact's conversation and answer a keyword at once."""
    try:
        with transaction.atomic():
            incoming = InboxMessage.objects.create(
                workspace_id=event.workspace_id, contact_id=event.contact_id, channel=MessageChannel.LINE,
                direction=Direction.IN, text=event.text, line_channel_id=event.line_channel_id,
                external_id=event.message_id, postback=event.postback, at=event.at)
    except IntegrityError:
        return  # the same message again
    record_fact(workspace_id=event.workspace_id, kind="line.postback" if event.postback else "line.message",
                contact_id=event.contact_id, subject=("messaging.inboxmessage", incoming.pk),
                data={"text": event.text[:200]})
    rules = list(AutoReply.objects.filter(workspace_id=event.workspace_id, active=True).filter(
        Q(line_channel=None) | Q(line_channel_id=event.line_channel_id)))
    rule = matching_rule(rules, event.text)
    if rule is None:
        return
    contact = Contact.objects.select_related("workspace").get(pk=event.contact_id)
    workspace = contact.workspace
    compiled = rendering.Compiled.of(line=line_messages.compile_messages(rule.messages))
    rendered = composing.compose_line(compiled, composing.Recipient(delivery_id=0, address=event.user_id,
                                                                    name=contact.name, fields=contact.fields),
                                      delivery_id=None, workspace_name=workspace.name, tz=workspace.timezone)
    _queue_answer(workspace=workspace, contact=contact, channel=MessageChannel.LINE,
                  text=line_messages.summary(rendered, rule.messages), line_messages=rendered,
                  line_channel_id=event.line_channel_id, auto_reply=rule, reply_token=event.reply_token,
                  received_at=event.at)
    if rule.tag:
        contacts.tag(workspace=workspace, contact=contact, names=[rule.tag])


def _queue_answer(*, workspace: Workspace, contact: Contact, channel: str, text: str, subject: str = "",
                  line_channel_id: int | None = None, auto_reply: AutoReply | None = None, author: User | None = None,
                  reply_token: str = "", received_at: dt.datetime | None = None,
                  line_messages: list[dict[str, Any]] | None = None) -> InboxMessage:
    now = clock.now()
    message = InboxMessage.objects.create(
        workspace=workspace, contact=contact, channel=channel, direction=Direction.OUT, subject=subject, text=text,
        line_channel_id=line_channel_id, at=now, author=author, auto_reply=auto_reply, read_at=now)
    Answer.objects.create(workspace=workspace, message=message, reply_token=reply_token,
                          line_messages=line_messages or [],
                          reply_until=(received_at or now) + REPLY_TOKEN_LIFETIME if reply_token else None,
                          due_at=now, next_attempt_at=now)
    return message


@transaction.atomic
def answer(*, workspace: Workspace, actor: Actor, contact_id: int, channel: str, text: str,
           subject: str = "") -> InboxMessage:
    """Staff answer a contact from the inbox, on LINE or by mail."""
    actor.require(Action.OPERATE)
    contact = Contact.objects.for_workspace(workspace).filter(pk=contact_id, erased_at=None).first()
    if contact is None:
        raise NotFound(_("No such contact."))
    contact = contact.merged_into or contact
    errors: dict[str, str] = {}
    if not text.strip():
        errors["text"] = _("Write the answer.")
    elif channel == MessageChannel.LINE and len(text) > 5000:
        errors["text"] = _("A LINE message has at most 5,000 characters.")
    line_channel_id = None
    if channel == MessageChannel.LINE:
        user_id = _address(workspace, contact, "line")
        latest = (InboxMessage.objects.for_workspace(workspace).filter(contact=contact, channel=MessageChannel.LINE)
                  .exclude(line_channel=None).order_by("-at").values_list("line_channel_id", flat=True).first())
        line_channel_id = latest or LineChannel.objects.for_workspace(workspace).filter(active=True).values_list(
            "pk", flat=True).first()
        if not user_id:
            errors["channel"] = _("This person has no LINE account on the list.")
        elif Suppression.objects.for_workspace(workspace).filter(channel="line", value=user_id,
                                                                  reason="blocked").exists():
            errors["channel"] = _("This person has blocked the LINE account; LINE will not deliver to them.")
        elif line_channel_id is None:
            errors["channel"] = _("No LINE account is connected.")
    elif channel == MessageChannel.EMAIL:
        if not _address(workspace, contact, "email"):
            errors["channel"] = _("This person has no email address on the list.")
        composing_missing = composing.missing_sender_fields(SenderProfile.objects.filter(workspace=workspace).first())
        if "from_address" in composing_missing or "from_name" in composing_missing:
            errors["channel"] = _("Set the sender's name and address first.")
    else:
        errors["channel"] = _("Choose email or LINE.")
    if errors:
        raise InvalidInput(_("Some fields need attention."), fields=errors)
    message = _queue_answer(workspace=workspace, contact=contact, channel=channel, text=text.strip(),
                            subject=subject.strip()[:300], line_channel_id=line_channel_id, author=actor.user)
    record_audit(workspace=workspace, actor=actor, action="messaging.answered", obj=message)
    return message


def _address(workspace: Workspace, contact: Contact, kind: str) -> str:
    return (Identity.objects.for_workspace(workspace).filter(contact=contact, kind=kind).order_by("created_at")
            .values_list("value", flat=True).first()) or ""


def mark_read(*, workspace: Workspace, contact_id: int) -> int:
    return InboxMessage.objects.for_workspace(workspace).filter(
        contact_id=contact_id, direction=Direction.IN, read_at=None).update(read_at=clock.now())


def send_answers(batch: list[Answer], outcome: BatchOutcome) -> None:
    """The ``messaging.answers`` queue."""
    for answer_row in Answer.objects.select_related("message__contact", "message__line_channel", "workspace").filter(
            pk__in=[a.pk for a in batch]):
        message = answer_row.message
        try:
            if message.channel == MessageChannel.LINE:
                _send_line(answer_row)
            else:
                _send_mail(answer_row)
        except line_api.LineError as exc:
            detail = f"LINE {exc.status}: {exc.body}"
            (outcome.failed if exc.permanent else outcome.retry)[answer_row.pk] = detail
            continue
        except OSError as exc:
            outcome.retry[answer_row.pk] = f"{type(exc).__name__}: {exc}"
            continue
        outcome.done.append(answer_row.pk)


def _send_line(answer_row: Answer) -> None:
    message = answer_row.message
    channel = message.line_channel
    user_id = _address(answer_row.workspace, message.contact, "line")
    if channel is None or not user_id:
        raise line_api.LineError(status=400, body="no LINE account to answer on")
    texts = [part for part in message.text.split("\n\n") if part.strip()][:5] or [message.text]
    messages: list[dict[str, Any] | str] = [*answer_row.line_messages] or [*texts]
    if answer_row.reply_token and answer_row.reply_until and clock.now() < answer_row.reply_until:
        token, answer_row.reply_token = answer_row.reply_token, ""
        Answer.objects.filter(pk=answer_row.pk).update(reply_token="")  # a reply token works once, tried once
        try:
            line_api.reply_messages(access_token=channel.access_token, reply_token=token, messages=messages)
            return
        except line_api.LineError as exc:
            if exc.status != 400:
                raise
    line_api.push_messages(access_token=channel.access_token, user_id=user_id, messages=messages,
                           retry_key=str(answer_row.retry_key))


def _send_mail(answer_row: Answer) -> None:
    message = answer_row.message
    profile = SenderProfile.objects.get(workspace=answer_row.workspace)
    address = _address(answer_row.workspace, message.contact, "email")
    last_in = (InboxMessage.objects.filter(contact=message.contact, channel=MessageChannel.EMAIL,
                                           direction=Direction.IN).order_by("-at").first())
    subject = message.subject or (f"Re: {last_in.subject}" if last_in and last_in.subject else profile.from_name)
    headers = {"Message-ID": make_msgid(domain=profile.from_address.rpartition("@")[2] or None)}
    if last_in is not None and last_in.external_id:
        headers["In-Reply-To"] = headers["References"] = last_in.external_id
    mail = EmailMessage(subject=subject, body=message.text, from_email=formataddr((profile.from_name,
                                                                                    profile.from_address)),
                        to=[address], reply_to=[profile.reply_to] if profile.reply_to else None, headers=headers)
    with mailers.default as connection:
        connection.send_messages([mail])


# --- keyword rules ------------------------------------------------------------------------------------------

def save_auto_reply(*, workspace: Workspace, actor: Actor, name: str, keywords: list[str],
                    messages: list[dict[str, Any]] | None = None, texts: list[str] | None = None,
                    match: str = KeywordMatch.EXACT, tag: str = "", line_channel_id: int | None = None,
                    active: bool = True, rule_id: int | None = None) -> AutoReply:
    """Make or change a keyword rule; every bad field is named and nothing is written. The answer is
    ``messages`` (``messaging.line_messages``), or plain ``texts``."""
    actor.require(Action.MANAGE)
    keywords = [k.strip() for k in keywords if k.strip()]
    raw = messages if messages is not None else line_messages.from_texts(texts or [])
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = _("Give the rule a name.")
    if not keywords:
        errors["keywords"] = _("Give at least one keyword.")
    elif any(len(k) > 100 for k in keywords) or len(keywords) > 50:
        errors["keywords"] = _("At most 50 keywords of up to 100 characters.")
    if match not in KeywordMatch.values:
        errors["match"] = _("Choose how the keyword must match.")
    cleaned: list[dict[str, Any]] = []
    try:
        cleaned = line_messages.clean(raw, field="messages", known_images=line_images.known_keys(
            workspace, line_messages.image_keys(m for m in raw if isinstance(m, dict))))
    except InvalidInput as exc:
        # Plain texts were given as one field: their problems are named on it.
        errors.update(exc.fields if messages is not None else {"texts": " ".join(dict.fromkeys(exc.fields.values()))})
    if line_channel_id is not None and not LineChannel.objects.for_workspace(workspace).filter(
            pk=line_channel_id).exists():
        errors["line_channel_id"] = _("This workspace has no such LINE account.")
    rule = None
    if rule_id is not None:
        rule = AutoReply.objects.for_workspace(workspace).filter(pk=rule_id).first()
        if rule is None:
            raise NotFound(_("No such rule."))
    if errors:
        raise InvalidInput(_("Some fields need attention."), fields=errors)
    with transaction.atomic():
        if rule is None:
            rule = AutoReply(workspace=workspace, created_at=clock.now(),
                             position=AutoReply.objects.for_workspace(workspace).count() + 1)
        rule.name, rule.keywords, rule.messages, rule.match = name.strip()[:200], keywords, cleaned, match
        rule.tag, rule.line_channel_id, rule.active = tag.strip()[:100], line_channel_id, active
        rule.save()
        record_audit(workspace=workspace, actor=actor, action="messaging.auto_reply_saved", obj=rule)
    return rule


def delete_auto_reply(*, workspace: Workspace, actor: Actor, rule_id: int) -> None:
    actor.require(Action.MANAGE)
    rule = AutoReply.objects.for_workspace(workspace).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("No such rule."))
    with transaction.atomic():
        record_audit(workspace=workspace, actor=actor, action="messaging.auto_reply_deleted", obj=rule)
        rule.delete()


# --- reading the inbox ---------------------------------------------------------------------------------------

def conversations(workspace: Workspace) -> QuerySet[Contact]:
    """Contacts who wrote or were written to, the latest conversation first, with their unread count."""
    latest = InboxMessage.objects.filter(workspace=workspace, contact=OuterRef("pk")).order_by("-at")
    return (Contact.objects.for_workspace(workspace)
            .annotate(last_at=Subquery(latest.values("at")[:1]),
                      last_text=Subquery(latest.values("text")[:1]),
                      last_channel=Subquery(latest.values("channel")[:1]))
            .filter(last_at__isnull=False)
            .annotate(unread=Subquery(InboxMessage.objects.filter(
                workspace=workspace, contact=OuterRef("pk"), direction=Direction.IN, read_at=None)
                .values("contact").annotate(n=Count("pk")).values("n")[:1]))
            .order_by("-last_at"))


def thread(workspace: Workspace, contact: Contact) -> QuerySet[InboxMessage]:
    return InboxMessage.objects.for_workspace(workspace).filter(contact=contact).select_related(
        "author", "auto_reply", "sending").order_by("at", "pk")
