"""LINE rich menus as owners write them: a draft (image, areas, optional segment and priority) checked as a whole,
every bad field named and nothing written when anything is wrong; publishing and unpublishing asked of the worker
(``richmenu_sync``); and the rows the pages show."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils.translation import gettext as _

from musubi.capture.models import LineChannel
from musubi.contacts.models import Segment
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.messaging import richmenu_rules as rules
from musubi.messaging.models import RichMenu, RichMenuJob, RichMenuLink
from musubi.messaging.richmenu_rules import EDITABLE, Height, JobAction, MenuState
from musubi.messaging.richmenu_sync import friend_identities
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
