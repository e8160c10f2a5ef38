"""LINE friend-add: connecting an Official Account, and what its webhook's follow and unfollow events do.

A follow is an opt-in on the LINE channel: the person is found or created by their LINE user id (and named from
their LINE profile when they have no name), LINE consent is recorded with the source credited, and the
greeting with the incentive (a coupon) is queued as a durable push. An unfollow (a block) suppresses LINE for
that user at once; adding the account again restores it. Events are applied once each, however often LINE
redelivers them. An event about a person (a follow, an unfollow, a message) whose ``source.userId`` is missing
or is not a LINE user id is refused on its own: logged with the reason and kept with it, so a redelivery is not
applied either, while the rest of the body is.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

from django.conf import settings
from django.core.signing import BadSignature
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from musubi.capture import coupons, rules, visitors
from musubi.capture.choices import SourceKind
from musubi.capture.events import LineFriendAdded, LineMessageReceived
from musubi.capture.models import CouponDefinition, LineChannel, LineEvent, LineMessage, LineVisit, Source
from musubi.capture.services import attributed_source
from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel, LegalBasis, SuppressionReason
from musubi.contacts.models import Contact
from musubi.integrations import line as line_api
from musubi.integrations import line_login
from musubi.kernel import clock, events, tokens
from musubi.kernel.errors import Conflict, InvalidInput, MusubiError, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

DIRECT_SOURCE_NAME = "LINE（経路不明）"
logger = logging.getLogger(__name__)


class InvalidSignature(MusubiError):
    code = "invalid_signature"
    status = 400


class NoJoinLink(Conflict):
    """The account is connected, but the owner has not yet saved how to add it (its ID or a LINE Login
    channel): there is nowhere to send a guest."""

    code = "no_join_link"

    def __init__(self, channel: LineChannel):
        super().__init__(_("This account has no add-friend link yet."))
        self.channel = channel


def _direct_source(workspace: Workspace) -> Source:
    source, _created = Source.objects.get_or_create(
        workspace=workspace, name=DIRECT_SOURCE_NAME, defaults={"kind": SourceKind.LINE, "created_at": clock.now()})
    return source


def _check(workspace: Workspace, *, name: str, channel_id: str, channel_secret: str | None,
           access_token: str | None, coupon_id: int | None) -> CouponDefinition | None:
    fields: dict[str, str] = {}
    if not name.strip() or len(name) > 200:
        fields["name"] = _("Enter a name of 1–200 characters.")
    if not channel_id.isdigit() or not 6 <= len(channel_id) <= 20:
        fields["channel_id"] = _("The channel ID is the number shown in the LINE Developers console.")
    if channel_secret is not None and not (len(channel_secret) == 32 and all(c in "0123456789abcdef"
                                                                            for c in channel_secret)):
        fields["channel_secret"] = _("The channel secret is 32 characters of 0–9 and a–f.")
    if access_token is not None and not 20 <= len(access_token.strip()) <= 1000:
        fields["access_token"] = _("Paste the long-lived channel access token.")
    coupon = None
    if coupon_id is not None:
        coupon = CouponDefinition.objects.for_workspace(workspace).filter(pk=coupon_id).first()
        if coupon is None:
            fields["coupon_id"] = _("This workspace has no such coupon.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    return coupon


def _check_login(login_channel_id: str, login_channel_secret: str, basic_id: str, *, secret_saved: bool) -> None:
    fields: dict[str, str] = {}
    login_channel_id, login_channel_secret = login_channel_id.strip(), login_channel_secret.strip()
    if login_channel_id and (not login_channel_id.isdigit() or not 6 <= len(login_channel_id) <= 20):
        fields["login_channel_id"] = _("The channel ID is the number shown in the LINE Developers console.")
    if login_channel_id and not login_channel_secret and not secret_saved:
        fields["login_channel_secret"] = _("Paste the LINE Login channel's secret too.")
    if login_channel_secret and not (len(login_channel_secret) == 32
                                     and all(c in "0123456789abcdef" for c in login_channel_secret)):
        fields["login_channel_secret"] = _("The channel secret is 32 characters of 0–9 and a–f.")
    if basic_id.strip() and not re.fullmatch(r"@[0-9a-z._-]{3,30}", basic_id.strip()):
        fields["basic_id"] = _("The account's ID starts with @, e.g. @123abcde.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)


@transaction.atomic
def connect_channel(*, workspace: Workspace, actor: Actor, name: str, channel_id: str, channel_secret: str,
                    access_token: str, greeting: str = "", coupon_id: int | None = None, basic_id: str = "",
                    login_channel_id: str = "", login_channel_secret: str = "") -> LineChannel:
    actor.require(Action.MANAGE)
    channel_id = channel_id.strip()
    coupon = _check(workspace, name=name, channel_id=channel_id, channel_secret=channel_secret.strip(),
                    access_token=access_token, coupon_id=coupon_id)
    _check_login(login_channel_id, login_channel_secret, basic_id, secret_saved=False)
    if LineChannel.objects.filter(channel_id=channel_id).exists():
        raise Conflict(_("This LINE channel is already connected."), fields={"channel_id": _("Already connected.")})
    channel = LineChannel.objects.create(
        workspace=workspace, name=name.strip(), channel_id=channel_id, channel_secret=channel_secret.strip(),
        access_token=access_token.strip(), greeting=greeting.strip()[:2000], coupon=coupon,
        source=_direct_source(workspace), created_at=clock.now(), basic_id=basic_id.strip(),
        login_channel_id=login_channel_id.strip(), login_channel_secret=login_channel_secret.strip())
    record_audit(workspace=workspace, actor=actor, action="line.connected", obj=channel,
                 changes={"channel_id": channel_id})  # never the secrets
    return channel


@transaction.atomic
def update_channel(*, workspace: Workspace, actor: Actor, line_channel_id: int, name: str, greeting: str,
                   coupon_id: int | None, channel_secret: str = "", access_token: str = "", basic_id: str = "",
                   login_channel_id: str = "", login_channel_secret: str = "", active: bool = True) -> LineChannel:
    """Change a connection; an empty secret or token keeps the saved one (they are never shown back)."""
    actor.require(Action.MANAGE)
    channel = channel_of(workspace, line_channel_id)
    coupon = _check(workspace, name=name, channel_id=channel.channel_id,
                    channel_secret=channel_secret.strip() or None, access_token=access_token or None,
                    coupon_id=coupon_id)
    same_login = login_channel_id.strip() == channel.login_channel_id
    _check_login(login_channel_id, login_channel_secret, basic_id,
                 secret_saved=bool(channel.login_channel_secret) and same_login)
    channel.basic_id, channel.login_channel_id = basic_id.strip(), login_channel_id.strip()
    if login_channel_secret.strip() or not channel.login_channel_id:
        channel.login_channel_secret = login_channel_secret.strip()
    channel.name, channel.greeting = name.strip(), greeting.strip()[:2000]
    channel.coupon, channel.active = coupon, active
    if channel_secret.strip():
        channel.channel_secret = channel_secret.strip()
    if access_token.strip():
        channel.access_token = access_token.strip()
    channel.save()
    record_audit(workspace=workspace, actor=actor, action="line.changed", obj=channel,
                 changes={"secret_replaced": bool(channel_secret.strip()),
                          "token_replaced": bool(access_token.strip())})
    return channel


def channel_of(workspace: Workspace, line_channel_id: int) -> LineChannel:
    found = LineChannel.objects.for_workspace(workspace).filter(pk=line_channel_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such LINE channel."))
    return found


def webhook_url(channel: LineChannel) -> str:
    return settings.MUSUBI_BASE_URL + reverse("line_webhook", args=[channel.channel_id])


# --- The webhook --------------------------------------------------------------------------------------------

def receive(*, channel_id: str, body: bytes, signature: str) -> int:
    """Verify and apply one webhook request; returns how many events were new. A bad signature raises
    ``InvalidSignature`` before anything is parsed or written."""
    channel = (LineChannel.objects.select_related("workspace", "coupon", "source")
               .filter(channel_id=channel_id, active=True).first() if channel_id.isdigit() else None)
    if channel is None:
        raise NotFound(_("No LINE channel is connected here."))
    try:
        text = body.decode("utf-8")
        payload = line_api.parse_webhook(channel_secret=channel.channel_secret, body=text, signature=signature)
    except (UnicodeDecodeError, line_api.BadSignature) as exc:
        raise InvalidSignature(_("The request is not signed with this channel's secret.")) from exc
    applied = 0
    new_friends: list[tuple[Contact, str]] = []  # named from their LINE profile once their follow is committed
    for event in payload.events or []:
        event_id = getattr(event, "webhook_event_id", None)
        source = getattr(event, "source", None)
        user_id = str(getattr(source, "user_id", None) or "")
        if not event_id:
            continue
        kind = str(getattr(event, "type", ""))
        problem = _user_problem(kind, user_id)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    LineEvent.objects.create(
                        workspace=channel.workspace, channel=channel, event_id=event_id[:64], kind=kind[:32],
                        user_id=user_id[:40], received_at=clock.now(), error=problem,
                        redelivered=bool(getattr(getattr(event, "delivery_context", None), "is_redelivery", False)))
            except IntegrityError:
                continue  # seen before: LINE redelivered it
            if problem:
                # Kept with its error, so a redelivery is recognised and not applied either; the rest of the
                # body is applied as usual.
                logger.warning("LINE event %s (%s) on channel %s refused: %s", event_id, kind, channel.channel_id,
                               problem)
                continue
            if kind == "follow":
                contact = _on_follow(channel, user_id, unblocked=bool(getattr(event.follow, "is_unblocked", False)))
                if not contact.name:
                    new_friends.append((contact, user_id))
            elif kind == "unfollow":
                _on_unfollow(channel, user_id)
            elif kind in ("message", "postback"):
                _on_message(channel, user_id, event)
            applied += 1
    # Outside the events' transactions: a slow LINE must not hold the database while the profile is fetched.
    for contact, user_id in new_friends:
        name_from_profile(channel, contact, user_id)
    return applied


def name_from_profile(channel: LineChannel, contact: Contact, user_id: str) -> None:
    """Give an unnamed contact their LINE display name. A fetch that fails is logged and leaves them unnamed:
    the follow itself stands, and the greeting's push tries again."""
    try:
        name = line_api.profile_name(access_token=channel.access_token, user_id=user_id)
    except line_api.LineError as exc:
        logger.warning("LINE profile of %s on channel %s not fetched (LINE %s: %s); the contact stays unnamed",
                       user_id, channel.channel_id, exc.status, exc.body)
        return
    contacts.name_if_unnamed(workspace=channel.workspace, contact=contact, name=name)


# Events about a person: without a user id LINE would send, there is nobody to apply them to.
PERSONAL_EVENTS = frozenset({"follow", "unfollow", "message", "postback"})
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


def _user_problem(kind: str, user_id: str) -> str:
    """Why an event cannot be applied to a person, or "" when it can (or is not about one)."""
    if kind not in PERSONAL_EVENTS:
        return ""
    if not user_id:
        return "the event's source has no userId"
    if not LINE_USER_ID.fullmatch(user_id):
        return f"the source's userId {user_id[:40]!r} is not U followed by 32 lowercase hex digits"
    return ""


def _on_follow(channel: LineChannel, user_id: str, *, unblocked: bool) -> Contact:
    workspace = channel.workspace
    visits = (LineVisit.objects.for_workspace(workspace)
              .filter(channel=channel, user_id=user_id, at__gte=clock.now() - JOIN_WINDOW).order_by("-at"))
    visit = visits.exclude(source_id=None).first()
    source_id = visit.source_id if visit is not None else channel.source_id
    contact, _created = contacts.find_or_create_contact(
        workspace=workspace, addresses=contacts.normalise(line_user_id=user_id), source_id=source_id)
    browser = visits.exclude(visitor_id="").values_list("visitor_id", flat=True).first()
    if browser:
        visitors.identify(workspace_id=workspace.pk, visitor_id=browser, contact_id=contact.pk)
    contacts.lift_suppression(workspace=workspace, channel=Channel.LINE, value=user_id,
                              reason=SuppressionReason.BLOCKED)
    contacts.record_consent(workspace=workspace, contact=contact, channel=Channel.LINE, address=user_id,
                            basis=LegalBasis.CONSENT, source_id=source_id,
                            wording=f"LINE friend-add: {channel.name} ({channel.channel_id})")
    record_fact(workspace_id=workspace.pk, kind="line.followed", contact_id=contact.pk, source_id=source_id,
                data={"channel": channel.channel_id, "unblocked": unblocked})
    events.publish(LineFriendAdded(workspace_id=workspace.pk, contact_id=contact.pk, line_channel_id=channel.pk,
                                   unblocked=unblocked))
    texts = [channel.greeting] if channel.greeting else []
    if channel.coupon is not None and channel.coupon.active:
        coupon = coupons.issue(workspace=workspace, definition=channel.coupon, contact=contact, source_id=source_id)
        url = settings.MUSUBI_BASE_URL + reverse("coupon_page", args=[coupon.code])
        texts.append(_("🎁 %(benefit)s\nShow this coupon at the counter:\n%(url)s\nCode: %(code)s") % {
            "benefit": channel.coupon.benefit, "url": url, "code": rules.format_coupon_code(coupon.code)})
    if texts:
        now = clock.now()
        LineMessage.objects.create(workspace=workspace, channel=channel, user_id=user_id, texts=texts,
                                   retry_key=uuid.uuid4(), contact=contact, due_at=now, next_attempt_at=now)
    return contact


def _on_message(channel: LineChannel, user_id: str, event: Any) -> None:
    """A friend wrote to the account (or tapped a button that posts back): published for messaging, which keeps
    the conversation and answers keywords. Messages other than text are kept as their kind ("[image]")."""
    workspace = channel.workspace
    contact = contacts.find_by_identity(workspace=workspace, kind="line", value=user_id)
    if contact is None:
        contact, _created = contacts.find_or_create_contact(
            workspace=workspace, addresses=contacts.normalise(line_user_id=user_id), source_id=channel.source_id)
    if event.type == "postback":
        text, message_id = str(getattr(event.postback, "data", "") or ""), ""
    else:
        message = event.message
        text = str(getattr(message, "text", "") or f"[{getattr(message, 'type', 'message')}]")
        message_id = str(getattr(message, "id", "") or "")
    timestamp = getattr(event, "timestamp", None)
    at = dt.datetime.fromtimestamp(timestamp / 1000, tz=dt.UTC) if timestamp else clock.now()
    events.publish(LineMessageReceived(
        workspace_id=workspace.pk, contact_id=contact.pk, line_channel_id=channel.pk, user_id=user_id,
        text=text[:5000], message_id=message_id[:64], reply_token=str(getattr(event, "reply_token", "") or ""),
        postback=event.type == "postback", at=at))


def _on_unfollow(channel: LineChannel, user_id: str) -> None:
    workspace = channel.workspace
    contacts.suppress(workspace=workspace, channel=Channel.LINE, value=user_id, reason=SuppressionReason.BLOCKED)
    identity_contact = contacts.find_by_identity(workspace=workspace, kind="line", value=user_id)
    if identity_contact is not None:
        contacts.record_consent(workspace=workspace, contact=identity_contact, channel=Channel.LINE, address=user_id,
                                basis=LegalBasis.CONSENT, granted=False,
                                wording=f"LINE block: {channel.name} ({channel.channel_id})")
    record_fact(workspace_id=workspace.pk, kind="line.unfollowed",
                contact_id=identity_contact.pk if identity_contact else None,
                data={"channel": channel.channel_id})
    # Messages not yet sent to someone who just blocked the account would fail anyway; stop them.
    LineMessage.objects.for_workspace(workspace).filter(channel=channel, user_id=user_id, status="pending").update(
        status="failed", finished_at=clock.now(), last_error="the user blocked the account")




# --- Which link a friend came from (LINE Login with bot_prompt) ------------------------------------------

JOIN_PURPOSE = "line.join"
JOIN_WINDOW = dt.timedelta(hours=1)


def callback_url() -> str:
    return settings.MUSUBI_BASE_URL + reverse("line_callback")


def join_url(*, channel_id: str, visitor_id: str) -> str:
    """Where ``/line/join/<channel_id>`` sends a visitor: LINE Login with the add-friend prompt, carrying who
    they are (their visitor id, so the link they clicked is known) in a signed state. Without a LINE Login
    channel, straight to the account's add-friend page, and the follow counts as "LINE, source unknown"."""
    channel = LineChannel.objects.filter(channel_id=channel_id, active=True).first() if channel_id.isdigit() else None
    if channel is None:
        raise NotFound(_("No LINE channel is connected here."))
    if not channel.login_channel_id:
        if not channel.basic_id:
            raise NoJoinLink(channel)
        return f"https://line.me/R/ti/p/{channel.basic_id}"
    state = tokens.sign({"c": channel.pk, "v": visitor_id}, purpose=JOIN_PURPOSE)
    return line_login.authorize_url(client_id=channel.login_channel_id, redirect_uri=callback_url(), state=state)


@transaction.atomic
def complete_join(*, state: str, code: str) -> LineChannel:
    """LINE Login came back: learn the user id, remember which source brought them, and credit a follow that
    already happened (LINE may deliver it before the person is sent back here) to that source."""
    try:
        signed = tokens.unsign(state, purpose=JOIN_PURPOSE, max_age_seconds=int(JOIN_WINDOW.total_seconds()))
    except BadSignature as exc:
        raise InvalidInput(_("This sign-in link has expired. Scan the code again.")) from exc
    channel = LineChannel.objects.select_related("workspace").filter(pk=signed.get("c"), active=True).first()
    if channel is None or not channel.login_channel_id:
        raise NotFound(_("No LINE channel is connected here."))
    try:
        user_id = line_login.user_id(code=code, redirect_uri=callback_url(), client_id=channel.login_channel_id,
                                     client_secret=channel.login_channel_secret)
        contacts.normalise(line_user_id=user_id)
    except (line_login.LoginFailed, InvalidInput) as exc:
        raise InvalidInput(_("LINE did not confirm the sign-in. Please try again.")) from exc
    workspace = channel.workspace
    visitor = str(signed.get("v") or "")
    source_id = attributed_source(workspace=workspace, visitor_id=visitor) if visitor else None
    LineVisit.objects.create(workspace=workspace, channel=channel, user_id=user_id, visitor_id=visitor[:36],
                             source_id=source_id, at=clock.now())
    contact = contacts.find_by_identity(workspace=workspace, kind="line", value=user_id)
    if contact is not None and visitor:  # the follow came first; otherwise it ties the browser when it comes
        visitors.identify(workspace_id=workspace.pk, visitor_id=visitor, contact_id=contact.pk)
    if source_id is not None and contact is not None and contact.last_source_id == channel.source_id:
        contacts.credit_source(workspace=workspace, contact=contact, source_id=source_id,
                               replacing=channel.source_id)
        record_fact(workspace_id=workspace.pk, kind="line.attributed", contact_id=contact.pk, source_id=source_id,
                    data={"channel": channel.channel_id})
    return channel
