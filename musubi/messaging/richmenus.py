"""LINE rich menus: writing them, publishing them at LINE, and switching each friend to the menu of their
segment.

* Owners write a menu as a draft (image, areas, optional segment and priority). Every function checks the
  whole input first and names each bad field; nothing is written when anything is wrong.
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
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils.translation import gettext as _

from musubi.capture.models import LineChannel
from musubi.contacts import services as contacts
from musubi.contacts.choices import Channel, IdentityKind, SuppressionReason
from musubi.contacts.models import Contact, Identity, Segment, Suppression
from musubi.integrations import line as line_api
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.models import Fact
from musubi.kernel.worker import BatchOutcome
from musubi.messaging import richmenu_rules as rules
from musubi.messaging.models import RichMenu, RichMenuCheck, RichMenuJob, RichMenuLink, RichMenuSwitch
from musubi.messaging.richmenu_rules import EDITABLE, Height, JobAction, MenuState
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

logger = logging.getLogger("musubi.messaging.richmenus")


@dataclass
class RichMenuInput:
    name: str
    chat_bar_text: str
    height: int = Height.LARGE
    areas: list[dict[str, Any]] = field(default_factory=list)
    segment_id: int | None = None
    priority: int = 0


def _raise(fields: dict[str, str]) -> None:
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)


def channel_of(workspace: Workspace, line_channel_id: int) -> LineChannel:
    found = LineChannel.objects.for_workspace(workspace).filter(pk=line_channel_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such LINE account."))
    return found


def menu_of(workspace: Workspace, rich_menu_id: int) -> RichMenu:
    found = (RichMenu.objects.for_workspace(workspace).select_related("line_channel", "segment")
             .filter(pk=rich_menu_id).first())
    if found is None:
        raise NotFound(_("This workspace has no such rich menu."))
    return found


def _check(workspace: Workspace, data: RichMenuInput, image: bytes | None, *, has_image: bool,
           image_height: int | None = None) -> tuple[list[dict[str, Any]], Segment | None, str]:
    """Every problem with the input at once; returns the clean areas, the segment and the image's type."""
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = _("Give the menu a name (only you see it).")
    elif len(data.name.strip()) > rules.MAX_NAME:
        errors["name"] = _("At most %(n)d characters.") % {"n": rules.MAX_NAME}
    text = data.chat_bar_text.strip()
    if not text:
        errors["chat_bar_text"] = _("Write the text of the menu bar (e.g. メニュー).")
    elif len(text) > rules.MAX_CHAT_BAR_TEXT:
        errors["chat_bar_text"] = _("At most %(n)d characters.") % {"n": rules.MAX_CHAT_BAR_TEXT}
    height = data.height if data.height in Height.values else None
    if height is None:
        errors["height"] = _("Choose one of the sizes LINE offers.")
    areas, area_errors = rules.clean_areas(data.areas, height=height or Height.LARGE)
    errors.update(area_errors)
    segment = None
    if data.segment_id is not None:
        segment = Segment.objects.for_workspace(workspace).filter(pk=data.segment_id).first()
        if segment is None:
            errors["segment"] = _("This workspace has no such segment.")
    if not isinstance(data.priority, int) or isinstance(data.priority, bool) or not -1000 <= data.priority <= 1000:
        errors["priority"] = _("A whole number from -1000 to 1000.")
    kind = ""
    if image is not None:
        kind, problem = rules.check_image(image, height=height or Height.LARGE)
        if problem:
            errors["image"] = problem
    elif not has_image:
        errors["image"] = _("Upload the menu's image (PNG or JPEG, at most 1 MB).")
    elif height is not None and image_height is not None and height != image_height:
        errors["image"] = _("The image must be exactly %(width)d × %(height)d pixels.") % {"width": rules.WIDTH,
                                                                                        "height": height}
    _raise(errors)
    return areas, segment, kind


def _save_image(menu: RichMenu, image: bytes, kind: str) -> None:
    suffix = "png" if kind == "image/png" else "jpg"
    old = menu.image.name if menu.image else ""
    menu.image.save(f"{menu.line_channel_id}-{menu.pk}-{clock.now():%Y%m%d%H%M%S%f}.{suffix}", ContentFile(image),
                    save=False)
    menu.image_type = kind
    if old:
        # The file goes once the row points at the new one; a rollback keeps the old one in place.
        transaction.on_commit(lambda: default_storage.delete(old))


@transaction.atomic
def create_menu(*, workspace: Workspace, actor: Actor, line_channel_id: int, data: RichMenuInput,
                image: bytes | None) -> RichMenu:
    actor.require(Action.MANAGE)
    channel = channel_of(workspace, line_channel_id)
    areas, segment, kind = _check(workspace, data, image, has_image=False)
    now = clock.now()
    menu = RichMenu.objects.create(
        workspace=workspace, line_channel=channel, name=data.name.strip(), chat_bar_text=data.chat_bar_text.strip(),
        height=data.height, areas=areas, segment=segment, priority=data.priority, created_at=now, updated_at=now)
    if image is not None:
        _save_image(menu, image, kind)
        menu.save(update_fields=["image", "image_type"])
    record_audit(workspace=workspace, actor=actor, action="richmenu.created", obj=menu,
                 changes={"name": menu.name, "segment": segment.pk if segment else None})
    return menu


@transaction.atomic
def update_menu(*, workspace: Workspace, actor: Actor, rich_menu_id: int, data: RichMenuInput,
                image: bytes | None = None) -> RichMenu:
    actor.require(Action.MANAGE)
    menu = _locked(workspace, rich_menu_id)
    if menu.state not in EDITABLE:
        raise Conflict(_("LINE cannot change a published menu: unpublish it first, then edit it."),
                       code="rich_menu_published")
    # The saved image was checked against the saved size; a new size needs a new image.
    areas, segment, kind = _check(workspace, data, image, has_image=bool(menu.image), image_height=menu.height)
    menu.name, menu.chat_bar_text = data.name.strip(), data.chat_bar_text.strip()
    menu.height, menu.areas, menu.segment, menu.priority = data.height, areas, segment, data.priority
    menu.updated_at = clock.now()
    if image is not None:
        _save_image(menu, image, kind)
    menu.save()
    record_audit(workspace=workspace, actor=actor, action="richmenu.updated", obj=menu,
                 changes={"name": menu.name, "segment": segment.pk if segment else None})
    return menu


@transaction.atomic
def delete_menu(*, workspace: Workspace, actor: Actor, rich_menu_id: int) -> None:
    actor.require(Action.MANAGE)
    menu = _locked(workspace, rich_menu_id)
    if menu.state not in EDITABLE:
        raise Conflict(_("Unpublish the menu before deleting it."), code="rich_menu_published")
    record_audit(workspace=workspace, actor=actor, action="richmenu.deleted", obj=menu, changes={"name": menu.name})
    name = menu.image.name if menu.image else ""
    menu.delete()
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))


def _locked(workspace: Workspace, rich_menu_id: int) -> RichMenu:
    menu_of(workspace, rich_menu_id)  # NotFound for another workspace's id
    return RichMenu.objects.select_for_update().select_related("line_channel").get(pk=rich_menu_id)


def _job(menu: RichMenu, action: str) -> None:
    now = clock.now()
    RichMenuJob.objects.create(workspace_id=menu.workspace_id, rich_menu=menu, action=action, due_at=now,
                               next_attempt_at=now)


def publish(*, workspace: Workspace, actor: Actor, rich_menu_id: int) -> RichMenu:
    """Queue the menu's creation at LINE. A default menu is refused while another default is live."""
    actor.require(Action.MANAGE)
    try:
        with transaction.atomic():
            menu = _locked(workspace, rich_menu_id)
            if menu.state not in EDITABLE:
                raise Conflict(_("This menu is already published or on its way."), code="rich_menu_state")
            if not menu.image:
                _raise({"image": _("Upload the menu's image (PNG or JPEG, at most 1 MB).")})
            if not menu.line_channel.active:
                raise Conflict(_("This LINE account is switched off."), code="line_channel_inactive")
            menu.state, menu.last_error, menu.updated_at = MenuState.PUBLISHING, "", clock.now()
            menu.save(update_fields=["state", "last_error", "updated_at"])
            _job(menu, JobAction.PUBLISH)
            record_audit(workspace=workspace, actor=actor, action="richmenu.published", obj=menu)
    except IntegrityError as exc:
        raise Conflict(_("Another default menu is published for this account; unpublish it first."),
                       code="rich_menu_default_taken") from exc
    return menu


@transaction.atomic
def unpublish(*, workspace: Workspace, actor: Actor, rich_menu_id: int) -> RichMenu:
    """Queue the menu's deletion at LINE; its friends go back to the default (or another segment's menu)."""
    actor.require(Action.MANAGE)
    menu = _locked(workspace, rich_menu_id)
    if menu.state not in (MenuState.PUBLISHING, MenuState.PUBLISHED):
        raise Conflict(_("This menu is not published."), code="rich_menu_state")
    menu.state, menu.updated_at = MenuState.UNPUBLISHING, clock.now()
    menu.save(update_fields=["state", "updated_at"])
    # A publication not yet done stops here; the unpublishing job cleans up whatever it made at LINE.
    RichMenuJob.objects.filter(rich_menu=menu, action=JobAction.PUBLISH, status=WorkStatus.PENDING).update(
        status=WorkStatus.DONE, finished_at=clock.now(), last_error="unpublished before it was done")
    _job(menu, JobAction.UNPUBLISH)
    record_audit(workspace=workspace, actor=actor, action="richmenu.unpublished", obj=menu)
    return menu


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


# --- what the pages show -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class MenuRow:
    menu: RichMenu
    friends: int  # how many friends see it now


def menus_of(workspace: Workspace, channel: LineChannel) -> list[MenuRow]:
    """The account's menus, the default first, each with how many friends see it now (as LINE accepted it)."""
    menus = list(RichMenu.objects.for_workspace(workspace).filter(line_channel=channel).select_related("segment")
                 .order_by(F("segment").asc(nulls_first=True), "-priority", "pk"))
    identities = friend_identities(channel)
    # Links of friends who blocked the account stay (LINE keeps them too) but nobody sees them now.
    seen = dict(RichMenuLink.objects.for_workspace(workspace).filter(
        line_channel=channel, user_id__in=identities.values("value")).values("rich_menu_id")
        .annotate(n=Count("pk")).values_list("rich_menu_id", "n"))
    total = identities.count()
    rows = []
    for menu in menus:
        if menu.segment_id is None:
            count = total - sum(seen.values()) if menu.state == MenuState.PUBLISHED else 0
        else:
            count = seen.get(menu.pk, 0)
        rows.append(MenuRow(menu=menu, friends=count))
    return rows
