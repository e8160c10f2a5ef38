"""Broadcasts (一斉配信): the list, the form, the count before sending (and for LINE the month's quota), a
confirmation, and each run with a progress bar and pause, resume and cancel. Also what was sent: the outbox
of the demo's kept mail and the log of deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.capture.models import LineChannel
from musubi.contacts import queries as contact_queries
from musubi.integrations import line as line_api
from musubi.kernel.errors import InvalidInput, MusubiError
from musubi.messaging import authoring, broadcasts, queries
from musubi.messaging.choices import MessageChannel, Outcome, RunState
from musubi.messaging.models import Broadcast, BroadcastRun
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.messaging_forms import BroadcastForm, DeliveryFilterForm
from musubi.workspaces.rules import Action, role_allows

MOVING = (RunState.PLANNING, RunState.SENDING)


def _form(request: WorkspaceRequest, broadcast: Broadcast | None) -> BroadcastForm:
    workspace = request.workspace
    templates = [(t.pk, f"{t.name}（{t.get_channel_display()}）") for t in queries.templates(workspace)]
    lines = list(LineChannel.objects.for_workspace(workspace).order_by("name").values_list("pk", "name"))
    initial = BroadcastForm.initial_for(broadcast, workspace.timezone) if broadcast else {}
    return BroadcastForm(request.POST or None, initial=initial, templates=templates, lines=lines,
                         segments=list(contact_queries.segments(workspace).values_list("pk", "name")),
                         timezone=workspace.timezone)


@workspace_page()
def broadcast_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    found = list(queries.broadcasts(request.workspace))
    latest = broadcasts.latest_progress([b.pk for b in found])
    return render(request, "web/messaging/broadcasts.html", {
        "rows": [(b, _rates(latest[b.pk]) if b.pk in latest else None) for b in found],
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@workspace_page(Action.MANAGE)
def broadcast_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = _form(request, None)
    if request.method == "POST" and form.is_valid():
        try:
            made = authoring.create_broadcast(workspace=request.workspace, actor=request.actor,
                                              data=form.data_input())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved the broadcast. Check the count, then send it."))
            return redirect("web:broadcast", slug=slug, broadcast_id=made.pk)
    return render(request, "web/messaging/broadcast_edit.html", {"form": form, "broadcast": None},
                  status=400 if form.errors else 200)


@workspace_page(Action.MANAGE)
def broadcast_edit(request: WorkspaceRequest, slug: str, broadcast_id: int) -> HttpResponse:
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    form = _form(request, broadcast)
    if request.method == "POST" and form.is_valid():
        try:
            authoring.update_broadcast(workspace=request.workspace, actor=request.actor, broadcast_id=broadcast.pk,
                                       data=form.data_input())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved the broadcast."))
            return redirect("web:broadcast", slug=slug, broadcast_id=broadcast.pk)
    return render(request, "web/messaging/broadcast_edit.html", {"form": form, "broadcast": broadcast},
                  status=400 if form.errors else 200)


def _before_sending(broadcast: Broadcast) -> dict[str, Any]:
    """What the owner should know before sending: how many it goes to, what stands in the way, and for LINE
    how much of the month's message quota is left."""
    count = broadcasts.open_recipient_count(broadcast)
    facts: dict[str, Any] = {"count": count, "problems": []}
    try:
        broadcasts.check_ready(broadcast)
    except InvalidInput as exc:
        facts["problems"] = [exc.message, *exc.fields.values()]
    if broadcast.channel == MessageChannel.LINE and broadcast.line_channel is not None:
        try:
            quota = line_api.message_quota(access_token=broadcast.line_channel.access_token)
        except Exception:  # noqa: BLE001 — LINE refusing (LineError) or unreachable: the quota is only unknown
            facts["quota_unknown"] = True
        else:
            facts["quota"] = quota
            facts["over_quota"] = quota.left is not None and count > quota.left
    return facts


def _run_row(run: BroadcastRun) -> dict[str, Any]:
    progress = broadcasts.progress(run)
    return {"run": run, "progress": progress, "percent": queries.percent_done(run, progress),
            "moving": run.state in MOVING, "outcomes": [(label, progress[value]) for value, label in Outcome.choices
                                                        if progress[value]], **_rates(progress)}


def _rates(progress: dict[str, int]) -> dict[str, Any]:
    """What was sent, and how many of those were opened and clicked with their rates; LINE tells nobody when a
    message is read, so a LINE run has no opens."""
    sent = progress[Outcome.SENT]
    return {"sent": sent,
            "opened": (progress["opened"], round(100 * progress["opened"] / sent)) if sent else None,
            "clicked": (progress["clicked"], round(100 * progress["clicked"] / sent)) if sent else None}


@workspace_page()
def broadcast_detail(request: WorkspaceRequest, slug: str, broadcast_id: int) -> HttpResponse:
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    return render(request, "web/messaging/broadcast.html", {
        "broadcast": broadcast, **_before_sending(broadcast),
        "runs": [_run_row(run) for run in queries.runs(broadcast)[:20]],
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@workspace_page(Action.MANAGE)
def broadcast_send(request: WorkspaceRequest, slug: str, broadcast_id: int) -> HttpResponse:
    """GET: the confirmation, with the count. POST: start a run. The confirmation carries a key made for it,
    so a double click or a resent form starts one run, not two."""
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    if request.method == "POST":
        key = request.POST.get("key", "")[:100]
        try:
            run, started = broadcasts.start_run(broadcast=broadcast, actor=request.actor,
                                                idempotency_key=f"web:{key}" if key else "")
        except MusubiError as exc:
            messages.error(request, " ".join([exc.message, *exc.fields.values()]))
            return redirect("web:broadcast", slug=slug, broadcast_id=broadcast.pk)
        if started:
            messages.success(request, _("Sending has started (run %(number)s).") % {"number": run.number})
        else:
            messages.info(request, _("This was already sent as run %(number)s.") % {"number": run.number})
        return redirect("web:broadcast", slug=slug, broadcast_id=broadcast.pk)
    return render(request, "web/messaging/broadcast_send.html", {
        "broadcast": broadcast, **_before_sending(broadcast), "key": uuid.uuid4().hex})


@workspace_page()
def run_progress(request: WorkspaceRequest, slug: str, broadcast_id: int, run_id: int) -> HttpResponse:
    """The run's row, polled by htmx every 2 seconds while it plans or sends."""
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    return render(request, "web/messaging/_run.html", {
        "broadcast": broadcast, "row": _run_row(queries.run(broadcast, run_id)),
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@require_POST
@workspace_page(Action.MANAGE)
def run_state(request: WorkspaceRequest, slug: str, broadcast_id: int, run_id: int) -> HttpResponse:
    broadcast = authoring.get_broadcast(request.workspace, broadcast_id)
    run = queries.run(broadcast, run_id)
    action = request.POST.get("action", "")
    done = {"pause": _("Paused. Nothing more is sent until you resume."), "resume": _("Resumed."),
            "cancel": _("Cancelled. Messages already sent stay sent; no one else gets it.")}
    return act(request, lambda: broadcasts.set_state(run=run, action=action, actor=request.actor),
               done=str(done.get(action, "")),
               then=redirect("web:broadcast", slug=slug, broadcast_id=broadcast.pk))


@workspace_page()
def outbox(request: WorkspaceRequest, slug: str) -> HttpResponse:
    page = Paginator(queries.outbox(request.workspace), 50).get_page(request.GET.get("page"))
    return render(request, "web/messaging/outbox.html", {"page": page})


@workspace_page()
def outbox_detail(request: WorkspaceRequest, slug: str, outbox_id: int) -> HttpResponse:
    message = queries.outbox_message(request.workspace, outbox_id)
    return render(request, "web/messaging/outbox_mail.html", {"message": message, "mail": queries.readable(message)})


def _state_choices() -> list[tuple[str, str]]:
    return [("queued", _("Queued")), ("sending", _("Sending")), *((v, str(label)) for v, label in Outcome.choices)]


@workspace_page()
def deliveries(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = DeliveryFilterForm(request.GET or None, states=_state_choices())
    state = channel = ""
    if form.is_valid():
        state, channel = form.cleaned_data["state"], form.cleaned_data["channel"]
    found = queries.deliveries(request.workspace, state=state, channel=channel)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    query = "&".join(f"{k}={v}" for k, v in (("state", state), ("channel", channel)) if v)
    return render(request, "web/messaging/deliveries.html", {"form": form, "page": page, "query": query})
