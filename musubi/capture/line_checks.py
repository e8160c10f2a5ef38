"""A LINE connection proved and ended: the access token is tried against LINE when it is saved (and on the
owner's "check" button), and a connection can be removed.

Trying the token asks LINE who the account is (``GET /v2/bot/info``): a token LINE refuses is refused here
with the reason in words before anything is saved, and a good one gives the account's name and @ID, which
are kept to show whose account it is.

Removing keeps everything that happened: the contacts, their LINE consent and its evidence, the events, the
messages sent and received. What goes is the connection itself: its secrets and token are erased from the
database, its webhook URL answers "not found", it leaves every list and menu, and nothing is sent through
it any more (``messaging.line_accounts`` stops what was waiting to be sent).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from musubi.capture import line
from musubi.capture.models import LineChannel
from musubi.integrations import line as line_api
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, InvalidInput
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

TOKEN_LENGTH = range(20, 1001)  # what connect_channel accepts; shorter or longer is refused there, unasked


def verify_token(access_token: str) -> line_api.BotInfo:
    """Ask LINE whether it accepts the token; refuse with the reason when it does not or cannot say."""
    try:
        return line_api.bot_info(access_token=access_token.strip())
    except line_api.LineError as exc:
        if exc.status in (401, 403):
            message = _("LINE did not accept this channel access token. Issue a long-lived token for this channel "
                        "in the LINE Developers console (Messaging API tab) and paste it again.")
            raise InvalidInput(message, code="line_token_refused", fields={"access_token": message}) from exc
        raise Conflict(_("LINE could not be reached to check the token (%(detail)s). Try again in a moment.")
                       % {"detail": exc.status or _("no answer")}, code="line_unreachable") from exc


def _remember(channel: LineChannel, info: line_api.BotInfo) -> None:
    channel.bot_name, channel.checked_at = info.display_name[:200], clock.now()
    if info.basic_id:
        channel.basic_id = info.basic_id[:40]
    channel.save(update_fields=["bot_name", "checked_at", "basic_id"])


def connect_checked(*, workspace: Workspace, actor: Actor, access_token: str, **details: str | int | None
                    ) -> LineChannel:
    """``line.connect_channel`` after LINE has accepted the token; the account's name and @ID come from LINE."""
    actor.require(Action.MANAGE)
    info = verify_token(access_token) if len(access_token.strip()) in TOKEN_LENGTH else None
    with transaction.atomic():
        channel = line.connect_channel(workspace=workspace, actor=actor, access_token=access_token,
                                       **details)  # type: ignore[arg-type]
        if info is not None:
            _remember(channel, info)
    return channel


def update_checked(*, workspace: Workspace, actor: Actor, line_channel_id: int, access_token: str = "",
                   **details: str | int | bool | None) -> LineChannel:
    """``line.update_channel``; a replacement token is tried against LINE first."""
    actor.require(Action.MANAGE)
    info = verify_token(access_token) if access_token.strip() and len(access_token.strip()) in TOKEN_LENGTH \
        else None
    with transaction.atomic():
        channel = line.update_channel(workspace=workspace, actor=actor, line_channel_id=line_channel_id,
                                      access_token=access_token, **details)  # type: ignore[arg-type]
        if info is not None:
            _remember(channel, info)
    return channel


def check_connection(*, workspace: Workspace, actor: Actor, line_channel_id: int) -> LineChannel:
    """Try the saved token now; on success the account's name and @ID are brought up to date."""
    actor.require(Action.MANAGE)
    channel = line.channel_of(workspace, line_channel_id)
    info = verify_token(channel.access_token)
    _remember(channel, info)
    record_audit(workspace=workspace, actor=actor, action="line.checked", obj=channel,
                 changes={"bot_name": channel.bot_name, "basic_id": channel.basic_id})
    return channel


@transaction.atomic
def retire_channel(*, workspace: Workspace, actor: Actor, line_channel_id: int) -> LineChannel:
    """Erase the connection's credentials and take it out of use; the row stays for the history that points
    at it. Owners only. Call it through ``messaging.line_accounts.remove_line_account``, which also stops
    what was waiting to be sent through it."""
    actor.require(Action.ADMINISTER)
    channel = line.channel_of(workspace, line_channel_id)
    channel = LineChannel.objects.select_for_update().get(pk=channel.pk)
    channel.removed_at, channel.active = clock.now(), False
    channel.channel_secret = channel.access_token = channel.login_channel_secret = ""
    channel.save(update_fields=["removed_at", "active", "channel_secret", "access_token", "login_channel_secret"])
    record_audit(workspace=workspace, actor=actor, action="line.removed", obj=channel,
                 changes={"channel_id": channel.channel_id, "name": channel.name})
    return channel
