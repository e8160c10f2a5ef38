"""LINE rich menus: an account's menus with how many friends see each, the editor (image, areas drawn as a
table with a live preview, segment and priority), publishing and unpublishing."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.contacts import queries as contact_queries
from musubi.kernel.errors import MusubiError, NotFound
from musubi.messaging import richmenus
from musubi.messaging.models import RichMenu
from musubi.messaging.richmenu_rules import EDITABLE, MAX_IMAGE_BYTES, WIDTH, MenuState
from musubi.web import richmenu_forms
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.richmenu_forms import AreaRow, RichMenuForm
from musubi.workspaces.rules import Action


def _channel(request: WorkspaceRequest, line_channel_id: int) -> Any:
    try:
        return richmenus.channel_of(request.workspace, line_channel_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _menu(request: WorkspaceRequest, rich_menu_id: int) -> RichMenu:
    try:
        return richmenus.menu_of(request.workspace, rich_menu_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _segments(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return [(s.pk, s.name) for s in contact_queries.segments(request.workspace)]


@workspace_page(Action.MANAGE)
def rich_menus(request: WorkspaceRequest, slug: str, line_channel_id: int) -> HttpResponse:
    channel = _channel(request, line_channel_id)
    return render(request, "web/richmenus/list.html", {
        "channel": channel, "rows": richmenus.menus_of(request.workspace, channel),
        "friends": richmenus.friend_identities(channel).count()})


def _read_image(request: WorkspaceRequest) -> bytes | None:
    upload = request.FILES.get("image")
    # One byte past the limit is enough to say the file is too large.
    return upload.read(MAX_IMAGE_BYTES + 1) if upload is not None else None


def _editor(request: WorkspaceRequest, *, channel: Any, menu: RichMenu | None) -> HttpResponse:
    initial = ({"name": menu.name, "chat_bar_text": menu.chat_bar_text, "height": menu.height,
                "segment": menu.segment_id, "priority": menu.priority} if menu else {"chat_bar_text": "メニュー"})
    form = RichMenuForm(request.POST or None, request.FILES or None, initial=initial, segments=_segments(request))
    rows: list[AreaRow] = richmenu_forms.rows_from_areas(menu.areas) if menu else []
    loose: list[str] = []
    if request.method == "POST":
        rows = richmenu_forms.rows_from_post(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            values = richmenus.RichMenuInput(name=data["name"], chat_bar_text=data["chat_bar_text"],
                                             height=data["height"], areas=[row.area() for row in rows],
                                             segment_id=data["segment"], priority=data["priority"])
            try:
                if menu is None:
                    menu = richmenus.create_menu(workspace=request.workspace, actor=request.actor,
                                                 line_channel_id=channel.pk, data=values, image=_read_image(request))
                else:
                    richmenus.update_menu(workspace=request.workspace, actor=request.actor, rich_menu_id=menu.pk,
                                          data=values, image=_read_image(request))
            except MusubiError as exc:
                form.add_service_error(exc)
                loose = richmenu_forms.place_errors(rows, dict(exc.fields))
                if exc.fields and not loose and not any(row.errors for row in rows) and not form.errors:
                    loose = [exc.message]
            else:
                messages.success(request, _("Saved. Publish it to show it on LINE."))
                return redirect("web:rich_menu_edit", slug=request.workspace.slug, rich_menu_id=menu.pk)
    height = form["height"].value() or (menu.height if menu else 1686)
    return render(request, "web/richmenus/edit.html", {
        "channel": channel, "menu": menu, "form": form, "rows": richmenu_forms.with_blanks(rows),
        "loose_errors": loose, "actions": richmenu_forms.action_choices(), "width": WIDTH, "height": height,
        "editable": menu is None or menu.state in EDITABLE, "live_states": [MenuState.PUBLISHING,
                                                                            MenuState.PUBLISHED]})


@workspace_page(Action.MANAGE)
def rich_menu_new(request: WorkspaceRequest, slug: str, line_channel_id: int) -> HttpResponse:
    return _editor(request, channel=_channel(request, line_channel_id), menu=None)


@workspace_page(Action.MANAGE)
def rich_menu_edit(request: WorkspaceRequest, slug: str, rich_menu_id: int) -> HttpResponse:
    menu = _menu(request, rich_menu_id)
    return _editor(request, channel=menu.line_channel, menu=menu)


@require_POST
@workspace_page(Action.MANAGE)
def rich_menu_state(request: WorkspaceRequest, slug: str, rich_menu_id: int) -> HttpResponse:
    menu = _menu(request, rich_menu_id)
    kwargs: dict[str, Any] = {"workspace": request.workspace, "actor": request.actor, "rich_menu_id": menu.pk}
    back = redirect("web:rich_menu_edit", slug=slug, rich_menu_id=menu.pk)
    match request.POST.get("action"):
        case "publish":
            return act(request, lambda: richmenus.publish(**kwargs), then=back,
                       done=_("Publishing: LINE shows the menu in a moment."))
        case "unpublish":
            return act(request, lambda: richmenus.unpublish(**kwargs), then=back,
                       done=_("Unpublishing: LINE stops showing the menu in a moment."))
        case "delete":
            listing = redirect("web:rich_menus", slug=slug, line_channel_id=menu.line_channel_id)
            try:
                richmenus.delete_menu(**kwargs)
            except MusubiError as exc:
                messages.error(request, exc.message)
                return back
            messages.success(request, _("Deleted."))
            return listing
    messages.error(request, _("Unknown action."))
    return back


@workspace_page(Action.MANAGE)
def rich_menu_image(request: WorkspaceRequest, slug: str, rich_menu_id: int) -> HttpResponseBase:
    menu = _menu(request, rich_menu_id)
    if not menu.image or not menu.image.name:
        raise Http404
    response = FileResponse(default_storage.open(menu.image.name, "rb"), content_type=menu.image_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-cache"
    return response
