"""LINE Official Accounts: connect one (its token tried against LINE first), see its webhook URL, set the greeting
and the coupon it sends, check it again, remove it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.capture import line, line_checks
from musubi.capture.models import CouponDefinition, LineChannel
from musubi.kernel.errors import MusubiError
from musubi.messaging import line_accounts
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.optin_forms import LineChannelForm
from musubi.workspaces.rules import Action, role_allows


def _coupons(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return [(c.pk, c.name) for c in CouponDefinition.objects.for_workspace(request.workspace).order_by("name")]


@workspace_page(Action.MANAGE)
def line_channels(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    form = LineChannelForm(request.POST or None, coupons=_coupons(request))
    if request.method == "POST" and form.is_valid():
        try:
            channel = line_checks.connect_checked(workspace=workspace, actor=request.actor, **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Connected to %(account)s. Paste the webhook URL into the LINE Developers "
                                        "console.") % {"account": _account(channel)})
            return redirect("web:line_channels", slug=slug)
    channels = list(LineChannel.objects.for_workspace(workspace).select_related("coupon").order_by("name"))
    return render(request, "web/capture/line_channels.html", {
        "channels": [(c, line.webhook_url(c)) for c in channels], "form": form,
        "secure_base": settings.MUSUBI_BASE_URL.startswith("https://")})


@workspace_page(Action.MANAGE)
def line_channel_edit(request: WorkspaceRequest, slug: str, line_channel_id: int) -> HttpResponse:
    channel = line.channel_of(request.workspace, line_channel_id)
    initial = {"name": channel.name, "channel_id": channel.channel_id, "greeting": channel.greeting,
               "coupon_id": channel.coupon_id, "basic_id": channel.basic_id,
               "login_channel_id": channel.login_channel_id, "active": channel.active}
    form = LineChannelForm(request.POST or None, initial=initial, coupons=_coupons(request), editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            line_checks.update_checked(workspace=request.workspace, actor=request.actor, line_channel_id=channel.pk,
                                name=data["name"], greeting=data["greeting"], coupon_id=data["coupon_id"],
                                channel_secret=data["channel_secret"], access_token=data["access_token"],
                                basic_id=data["basic_id"], login_channel_id=data["login_channel_id"],
                                login_channel_secret=data["login_channel_secret"], active=data["active"])
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("web:line_channels", slug=slug)
    return render(request, "web/capture/line_channel_edit.html", {
        "channel": channel, "form": form, "webhook_url": line.webhook_url(channel),
        "join_url": settings.MUSUBI_BASE_URL + reverse("line_join", args=[channel.channel_id]),
        "callback_url": line.callback_url(), "may_remove": role_allows(request.membership.role, Action.ADMINISTER)})


def _account(channel: LineChannel) -> str:
    return " ".join(part for part in (channel.bot_name, channel.basic_id) if part) or channel.name


@require_POST
@workspace_page(Action.MANAGE)
def line_channel_check(request: WorkspaceRequest, slug: str, line_channel_id: int) -> HttpResponse:
    """Try the saved token against LINE now."""
    line.channel_of(request.workspace, line_channel_id)  # 404 before anything is asked of LINE
    try:
        channel = line_checks.check_connection(workspace=request.workspace, actor=request.actor,
                                               line_channel_id=line_channel_id)
    except MusubiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("LINE accepts the token: this is %(account)s.") % {"account": _account(channel)})
    return redirect("web:line_channel_edit", slug=slug, line_channel_id=line_channel_id)


@workspace_page(Action.ADMINISTER)
def line_channel_remove(request: WorkspaceRequest, slug: str, line_channel_id: int) -> HttpResponse:
    """Say what removing the connection does, then do it when the owner confirms."""
    channel = line.channel_of(request.workspace, line_channel_id)
    if request.method == "POST":
        if request.POST.get("confirm") != "remove":
            messages.error(request, _("Nothing was removed: confirm with the button below."))
        else:
            line_accounts.remove_line_account(workspace=request.workspace, actor=request.actor,
                                              line_channel_id=channel.pk)
            messages.success(request, _("%(name)s was removed. Its contacts and their history are kept.")
                             % {"name": channel.name})
            return redirect("web:line_channels", slug=slug)
    return render(request, "web/capture/line_channel_remove.html", {
        "channel": channel, "impact": line_accounts.removal_impact(channel)})
