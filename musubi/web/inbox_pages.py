"""The inbox: conversations with contacts on LINE and by mail, answered by staff; and LINE keyword rules."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from musubi.capture.models import LineChannel
from musubi.contacts import queries as contact_queries
from musubi.kernel.errors import MusubiError, NotFound
from musubi.messaging import conversations, line_images, line_messages
from musubi.messaging.models import AutoReply
from musubi.web import line_editor
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.inbox_forms import AnswerForm, AutoReplyForm
from musubi.workspaces.rules import Action, role_allows


@workspace_page(Action.VIEW)
def inbox(request: WorkspaceRequest, slug: str) -> HttpResponse:
    return render(request, "web/inbox/inbox.html", {
        "conversations": conversations.conversations(request.workspace)[:200]})


@workspace_page(Action.VIEW)
def conversation(request: WorkspaceRequest, slug: str, contact_id: int) -> HttpResponse:
    try:
        contact = contact_queries.contact(request.workspace, contact_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    may_answer = role_allows(request.membership.role, Action.OPERATE)
    last = conversations.thread(request.workspace, contact).last()
    form = AnswerForm(request.POST or None, initial={"channel": last.channel if last else "line"})
    if request.method == "POST":
        if not may_answer:
            raise Http404
        if form.is_valid():
            try:
                conversations.answer(workspace=request.workspace, actor=request.actor, contact_id=contact.pk,
                                     **form.cleaned_data)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Your answer is on its way."))
                return redirect("web:conversation", slug=slug, contact_id=contact.pk)
    if may_answer:
        conversations.mark_read(workspace=request.workspace, contact_id=contact.pk)
    return render(request, "web/inbox/conversation.html", {
        "contact": contact, "thread": conversations.thread(request.workspace, contact), "form": form,
        "may_answer": may_answer})


def _channels(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return [(c.pk, c.name) for c in LineChannel.objects.for_workspace(request.workspace).order_by("name")]


@workspace_page(Action.MANAGE)
def auto_replies(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = AutoReplyForm(request.POST or None, channels=_channels(request))
    if request.method == "POST" and form.is_valid():
        try:
            conversations.save_auto_reply(workspace=request.workspace, actor=request.actor, **form.service_values())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved. Matching messages are answered from now on."))
            return redirect("web:auto_replies", slug=slug)
    return render(request, "web/inbox/auto_replies.html", {
        "rules": AutoReply.objects.for_workspace(request.workspace).select_related("line_channel"), "form": form})


@workspace_page(Action.MANAGE)
def auto_reply_edit(request: WorkspaceRequest, slug: str, auto_reply_id: int) -> HttpResponse:
    rule = AutoReply.objects.for_workspace(request.workspace).filter(pk=auto_reply_id).first()
    if rule is None:
        raise Http404
    if request.method == "POST" and request.POST.get("delete"):
        conversations.delete_auto_reply(workspace=request.workspace, actor=request.actor, rule_id=rule.pk)
        messages.success(request, _("Deleted."))
        return redirect("web:auto_replies", slug=slug)
    initial = {"name": rule.name, "keywords": "\n".join(rule.keywords), "match": rule.match,
               "tag": rule.tag, "line_channel_id": rule.line_channel_id, "active": rule.active}
    # The answer is edited as LINE messages of every kind (the new-rule form above the list takes texts).
    if request.method == "POST":
        editor = line_editor.from_post(request.POST, request.FILES, workspace=request.workspace, prefix="messages")
    else:
        editor = line_editor.from_stored(rule.messages, prefix="messages")
    saving = request.method == "POST" and not editor.changed_list
    if request.method == "POST" and editor.changed_list:  # shown again as typed, not judged yet
        initial = {**request.POST.dict(), "active": bool(request.POST.get("active"))}
    form = AutoReplyForm(request.POST if saving else None, initial=initial, channels=_channels(request),
                         with_texts=False)
    if saving and not editor.errors and form.is_valid():
        try:
            conversations.save_auto_reply(workspace=request.workspace, actor=request.actor, rule_id=rule.pk,
                                          messages=editor.messages, **form.service_values())
        except MusubiError as exc:
            form.add_service_error(exc)
            editor.errors.update(exc.fields)
        else:
            messages.success(request, _("Saved."))
            return redirect("web:auto_replies", slug=slug)
    return render(request, "web/inbox/auto_reply_edit.html", {
        "rule": rule, "form": form, "editor": editor, "editor_items": editor.items(request.workspace),
        "kinds": line_messages.Kind.choices, "action_kinds": line_messages.ActionKind.choices,
        "https": line_images.served_over_https()}, status=400 if editor.errors and not editor.changed_list else 200)

