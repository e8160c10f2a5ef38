"""Rich menus kept in step with LINE by the worker.

* Publishing and unpublishing are ``RichMenuJob`` rows a worker claims: create the menu at LINE, upload its
  image, and — for the default menu — make it the account's default; or delete it at LINE.
* Switching is a worker pass: per account, at most every ``MUSUBI_RICHMENU_CHECK_SECONDS``, it compares the
  menu each friend should have (the highest-priority published segment menu they are in, else the default)
  with ``RichMenuLink`` (what LINE has accepted) and writes ``RichMenuSwitch`` rows of at most 500 users
  each. A queue sends them as bulk link/unlink requests and records the links only once LINE accepted.
  LINE takes no retry key on these calls; linking a user again to the menu they have is harmless, so a
  repeated request changes nothing. Friends who blocked the account are left alone.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from musubi.capture.models import LineChannel
from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel, IdentityKind, SuppressionReason
from musubi.contacts.models import Contact, Identity, Suppression
from musubi.integrations import line as line_api
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.models import Fact
from musubi.kernel.worker import BatchOutcome
from musubi.messaging import richmenu_rules as rules
from musubi.messaging.models import RichMenu, RichMenuCheck, RichMenuJob, RichMenuLink, RichMenuSwitch
from musubi.messaging.richmenu_rules import JobAction, MenuState

logger = logging.getLogger("musubi.messaging.richmenus")


# --- the worker: publishing --------------------------------------------------------------------------------

def handle_jobs(jobs: list[RichMenuJob], outcome: BatchOutcome) -> None:
    """The ``messaging.richmenu_jobs`` queue."""
    for job in jobs:
        menu = RichMenu.objects.select_related("line_channel").get(pk=job.rich_menu_id)
        token = menu.line_channel.access_token
        try:
            if job.action == JobAction.PUBLISH:
                _publish_at_line(menu, token)
            else:
                _unpublish_at_line(menu, token)
        except line_api.LineError as exc:
            detail = f"LINE {exc.status}: {exc.body}"
            if exc.permanent or job.attempts >= RichMenuJob.max_attempts:
                if job.action == JobAction.PUBLISH:
                    _give_up_publishing(menu, token, detail)
                outcome.failed[job.pk] = detail
            else:
                outcome.retry[job.pk] = detail
            continue
        outcome.done.append(job.pk)


def _publish_at_line(menu: RichMenu, token: str) -> None:
    if menu.state != MenuState.PUBLISHING:
        return  # unpublished meanwhile
    if menu.line_id and not menu.image_uploaded:
        # An earlier attempt made the menu but may have stopped during the upload; LINE takes one upload per
        # menu, so start again from a new one.
        line_api.delete_rich_menu(access_token=token, rich_menu_id=menu.line_id)
        RichMenu.objects.filter(pk=menu.pk).update(line_id="")
        menu.line_id = ""
    if not menu.line_id:
        menu.line_id = line_api.create_rich_menu(access_token=token, menu=rules.line_object(
            name=menu.name, chat_bar_text=menu.chat_bar_text, height=menu.height, areas=menu.areas))
        RichMenu.objects.filter(pk=menu.pk).update(line_id=menu.line_id)
    if not menu.image_uploaded:
        with menu.image.open("rb") as image:
            data = image.read()
        line_api.upload_rich_menu_image(access_token=token, rich_menu_id=menu.line_id, image=data,
                                        content_type=menu.image_type)
        RichMenu.objects.filter(pk=menu.pk).update(image_uploaded=True)
    if menu.segment_id is None:
        line_api.set_default_rich_menu(access_token=token, rich_menu_id=menu.line_id)
    RichMenu.objects.filter(pk=menu.pk, state=MenuState.PUBLISHING).update(
        state=MenuState.PUBLISHED, last_error="", updated_at=clock.now())
    check_soon(menu.line_channel)


def _give_up_publishing(menu: RichMenu, token: str, detail: str) -> None:
    """LINE refused the menu: say why, and take back what was made there, so a corrected draft starts anew."""
    line_id = RichMenu.objects.filter(pk=menu.pk).values_list("line_id", flat=True).get()
    if line_id:
        try:
            line_api.delete_rich_menu(access_token=token, rich_menu_id=line_id)
        except line_api.LineError as exc:  # left at LINE, unused; it counts against the account's 1,000 menus
            logger.warning("rich menu %s: could not delete %s at LINE: %s", menu.pk, line_id, exc)
    RichMenu.objects.filter(pk=menu.pk, state=MenuState.PUBLISHING).update(
        state=MenuState.FAILED, last_error=detail[:2000], line_id="", image_uploaded=False, updated_at=clock.now())


def _unpublish_at_line(menu: RichMenu, token: str) -> None:
    if menu.state != MenuState.UNPUBLISHING:
        return
    if menu.line_id:
        other_default = RichMenu.objects.filter(line_channel=menu.line_channel, segment=None,
                                                state__in=rules.LIVE).exclude(pk=menu.pk).exists()
        if menu.segment_id is None and not other_default:
            line_api.cancel_default_rich_menu(access_token=token)
        # Deleting the menu at LINE unlinks it from everyone who had it.
        line_api.delete_rich_menu(access_token=token, rich_menu_id=menu.line_id)
    with transaction.atomic():
        RichMenuLink.objects.filter(rich_menu=menu).delete()
        RichMenuSwitch.objects.filter(rich_menu=menu, status=WorkStatus.PENDING).update(
            status=WorkStatus.DONE, finished_at=clock.now(), last_error="the menu was unpublished")
        RichMenu.objects.filter(pk=menu.pk).update(state=MenuState.DRAFT, line_id="", image_uploaded=False,
                                                   updated_at=clock.now())
    check_soon(menu.line_channel)


# --- the worker: switching ---------------------------------------------------------------------------------

def check_soon(channel: LineChannel) -> None:
    """Have the switching pass look at the account in its next round."""
    now = clock.now()
    updated = RichMenuCheck.objects.filter(line_channel=channel).update(next_check_at=now)
    if not updated:
        try:
            with transaction.atomic():
                RichMenuCheck.objects.create(workspace_id=channel.workspace_id, line_channel=channel,
                                             next_check_at=now)
        except IntegrityError:  # another worker made it first
            pass


def friends(channel: LineChannel) -> dict[str, int]:
    """The account's friends who may have a menu: LINE user id → contact id (see ``friend_identities``)."""
    return dict(friend_identities(channel).values_list("value", "contact_id"))


def friend_identities(channel: LineChannel) -> QuerySet[Identity]:
    """The LINE identities of the account's friends who may have a menu: every live contact's LINE
    identity not blocking the account. A workspace with several accounts counts, for each, only the people
    who added that one (its ``line.followed`` facts): LINE user ids differ between providers, and linking an
    id of another account's friend would be refused."""
    workspace_id = channel.workspace_id
    blocked = Suppression.objects.for_workspace(workspace_id).filter(
        channel=Channel.LINE, reason=SuppressionReason.BLOCKED).values("value")
    found = (Identity.objects.for_workspace(workspace_id)
             .filter(kind=IdentityKind.LINE, contact__merged_into=None, contact__erased_at=None)
             .exclude(value__in=blocked))
    if LineChannel.objects.for_workspace(workspace_id).count() > 1:
        followed = Fact.objects.for_workspace(workspace_id).filter(
            kind="line.followed", data__channel=channel.channel_id, contact_id__isnull=False).values("contact_id")
        # A follow recorded on a record later merged into another counts for the one it went into.
        survivors = Contact.objects.for_workspace(workspace_id).filter(pk__in=followed).values("merged_into_id")
        found = found.filter(Q(contact_id__in=followed) | Q(contact_id__in=survivors))
    return found


def run_switching() -> int:
    """The ``messaging.richmenus`` pass: plan the bulk requests of every account that is due; returns how many
    requests it wrote."""
    now = clock.now()
    accounts_with_menus = RichMenu.objects.filter(state__in=rules.LIVE).values("line_channel")
    for channel_id, workspace_id in (LineChannel.objects.filter(pk__in=accounts_with_menus)
                                     .exclude(pk__in=RichMenuCheck.objects.values("line_channel"))
                                     .values_list("pk", "workspace_id")):
        try:
            with transaction.atomic():
                RichMenuCheck.objects.create(workspace_id=workspace_id, line_channel_id=channel_id, next_check_at=now)
        except IntegrityError:
            pass
    # An account with no menu live and no friend linked has nothing to switch until a menu is published.
    RichMenuCheck.objects.exclude(line_channel__in=accounts_with_menus).exclude(
        line_channel__in=RichMenuLink.objects.values("line_channel")).delete()
    written = 0
    interval = dt.timedelta(seconds=settings.MUSUBI_RICHMENU_CHECK_SECONDS)
    for check in RichMenuCheck.objects.filter(next_check_at__lte=now).select_related("line_channel__workspace"):
        busy = RichMenuSwitch.objects.filter(line_channel_id=check.line_channel_id,
                                             status__in=[WorkStatus.PENDING, WorkStatus.CLAIMED]).exists()
        if busy:
            continue  # wait until LINE has taken the last round's requests, then compare again
        # Taken by a conditional update, so two workers never plan the same account in one round.
        if not RichMenuCheck.objects.filter(pk=check.pk, next_check_at=check.next_check_at).update(
                next_check_at=now + interval):
            continue
        written += plan_switches(check.line_channel)
    return written


def plan_switches(channel: LineChannel) -> int:
    """Write the bulk requests that bring the account's friends to the menus they should have."""
    if not channel.active:
        return 0
    workspace = channel.workspace
    friend_ids = friends(channel)
    choices = [rules.MenuChoice(menu_id=menu.pk, priority=menu.priority, members=frozenset(
                   contacts.members(workspace=workspace, segment=menu.segment).values_list("pk", flat=True)))
               for menu in RichMenu.objects.filter(line_channel=channel, state=MenuState.PUBLISHED,
                                                   segment__isnull=False).select_related("segment")]
    wanted = rules.desired_menus(friend_ids, choices)
    linked = dict(RichMenuLink.objects.filter(line_channel=channel).values_list("user_id", "rich_menu_id"))
    todo = rules.changes(friends=friend_ids, wanted=wanted, linked=linked)
    now = clock.now()
    rows = []
    for menu_id, users in [*todo.link.items(), (None, todo.unlink)]:
        for group in rules.groups(users, line_api.BULK_LIMIT):
            rows.append(RichMenuSwitch(workspace_id=channel.workspace_id, line_channel=channel, rich_menu_id=menu_id,
                                       members=[[friend_ids[u], u] for u in group], due_at=now, next_attempt_at=now))
    RichMenuSwitch.objects.bulk_create(rows)
    return len(rows)


def handle_switches(requests: list[RichMenuSwitch], outcome: BatchOutcome) -> None:
    """The ``messaging.richmenu_switches`` queue: one bulk request each, the links recorded once LINE accepted."""
    for request in requests:
        request = RichMenuSwitch.objects.select_related("line_channel", "rich_menu").get(pk=request.pk)
        menu = request.rich_menu
        users = [user_id for _contact_id, user_id in request.members]
        if menu is not None and (menu.state != MenuState.PUBLISHED or not menu.line_id):
            outcome.done.append(request.pk)  # unpublished meanwhile: nothing to link
            continue
        token = request.line_channel.access_token
        try:
            if menu is not None:
                line_api.link_rich_menu(access_token=token, rich_menu_id=menu.line_id, user_ids=users)
            else:
                line_api.unlink_rich_menus(access_token=token, user_ids=users)
        except line_api.LineError as exc:
            detail = f"LINE {exc.status}: {exc.body}"
            if exc.permanent:
                outcome.failed[request.pk] = detail
            else:
                outcome.retry[request.pk] = detail
            continue
        _record(request, users)
        outcome.done.append(request.pk)


@transaction.atomic
def _record(request: RichMenuSwitch, users: list[str]) -> None:
    RichMenuLink.objects.filter(line_channel_id=request.line_channel_id, user_id__in=users).delete()
    if request.rich_menu_id is not None:
        now = clock.now()
        RichMenuLink.objects.bulk_create([
            RichMenuLink(workspace_id=request.workspace_id, line_channel_id=request.line_channel_id, user_id=user_id,
                         contact_id=contact_id, rich_menu_id=request.rich_menu_id, linked_at=now)
            for contact_id, user_id in request.members])
