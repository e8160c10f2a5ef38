"""What messages say and who sends them: the sender details the law asks for, email and LINE templates, a
preview as one chosen person would receive it, and a test mail to the owner's own address.

A preview and a test send compose the message exactly as the sending worker does (``messaging.composing``,
footer and unsubscribe link included) with delivery id 0: no delivery is written, nothing is counted.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.mail import EmailMultiAlternatives
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.capture.models import LineChannel
from musubi.contacts import queries as contact_queries
from musubi.integrations import line as line_api
from musubi.kernel.errors import InvalidInput, MusubiError
from musubi.messaging import authoring, composing, line_images, line_messages, queries, rendering
from musubi.messaging.choices import MessageChannel
from musubi.messaging.models import SenderProfile, Template
from musubi.web import line_editor
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.messaging_forms import PreviewForm, SenderForm, TemplateForm, TestSendForm
from musubi.workspaces.rules import Action, role_allows

SAMPLE_NAME, SAMPLE_EMAIL = "山田花子", "hanako@example.jp"


def _can_manage(request: WorkspaceRequest) -> bool:
    return role_allows(request.membership.role, Action.MANAGE)


def _missing_labels(profile: SenderProfile | None) -> list[str]:
    return [str(SenderForm.base_fields[name].label) for name in composing.missing_sender_fields(profile)]


@workspace_page()
def sender(request: WorkspaceRequest, slug: str) -> HttpResponse:
    profile = authoring.sender_profile(request.workspace)
    form = SenderForm(request.POST or None, initial=SenderForm.initial_for(profile))
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        if form.is_valid():
            try:
                authoring.save_sender_profile(workspace=request.workspace, actor=request.actor,
                                              values=form.cleaned_data)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Saved the sender details."))
                return redirect("web:sender", slug=slug)
    saved = profile if profile.pk else None
    return render(request, "web/messaging/sender.html", {
        "form": form, "missing": _missing_labels(saved), "can_manage": _can_manage(request)},
        status=400 if form.errors else 200)


@workspace_page()
def template_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    return render(request, "web/messaging/templates.html", {
        "templates": queries.templates(request.workspace), "can_manage": _can_manage(request),
        "missing": _missing_labels(SenderProfile.objects.filter(workspace=request.workspace).first())})


def _variables_help() -> list[tuple[str, str]]:
    words = {"name": _("the person's name"), "email": _("their email address"),
             "fields": _("their answers and custom fields, e.g. {{ fields.q1 }}"),
             "workspace": _("your business name"), "today": _("today's date (YYYY-MM-DD)")}
    return [("{{ " + name + " }}", str(words.get(name, ""))) for name in sorted(rendering.VARIABLES)]


def _template_page(request: WorkspaceRequest, form: TemplateForm, template: Template | None,
                   editor: line_editor.Editor | None, *, status: int = 200) -> HttpResponse:
    return render(request, "web/messaging/template_edit.html", {
        "form": form, "template": template, "channel": form.channel, "variables": _variables_help(),
        "channel_label": MessageChannel(form.channel).label, "can_manage": _can_manage(request),
        "editor": editor, "editor_items": editor.items(request.workspace) if editor else [],
        "kinds": line_messages.Kind.choices, "action_kinds": line_messages.ActionKind.choices,
        "https": line_images.served_over_https()}, status=status)


def _editor(request: WorkspaceRequest, channel: str, template: Template | None) -> line_editor.Editor | None:
    if channel != MessageChannel.LINE:
        return None
    if request.method == "POST":
        return line_editor.from_post(request.POST, request.FILES, workspace=request.workspace)
    return line_editor.from_stored(template.line_messages if template else [])


def _unbound_if_reshown(request: WorkspaceRequest, form: TemplateForm, editor: line_editor.Editor | None,
                        template: Template | None) -> TemplateForm:
    """A change of the message list is not a save: the name is kept as typed, and not judged yet."""
    if editor is None or not editor.changed_list:
        return form
    return TemplateForm(channel=form.channel, initial={"name": request.POST.get("name", "")})


def _save(request: WorkspaceRequest, form: TemplateForm, editor: line_editor.Editor | None,
          template: Template | None) -> Template | None:
    """The template saved, or None with every problem placed on the form or the editor."""
    if editor is not None and (editor.changed_list or editor.errors):
        return None  # the list was changed, or a picture refused: shown again, nothing saved
    if not form.is_valid():
        return None
    data = form.data_input(editor.messages if editor else None)
    try:
        if template is None:
            return authoring.create_template(workspace=request.workspace, actor=request.actor, data=data)
        return authoring.update_template(workspace=request.workspace, actor=request.actor, template_id=template.pk,
                                         data=data)
    except MusubiError as exc:
        form.add_service_error(exc)
        if editor is not None:
            editor.errors.update(exc.fields)
        return None


@workspace_page(Action.MANAGE)
def template_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    channel = request.GET.get("channel", MessageChannel.EMAIL)
    channel = channel if channel in MessageChannel.values else MessageChannel.EMAIL
    form = TemplateForm(request.POST or None, channel=channel)
    editor = _editor(request, channel, None)
    if request.method == "POST":
        made = _save(request, form, editor, None)
        if made is not None:
            messages.success(request, _("Saved the template. Check it in the preview."))
            return redirect("web:template", slug=slug, template_id=made.pk)
    form = _unbound_if_reshown(request, form, editor, None)
    # A change of the list is answered 200 even with a refused picture, so htmx shows the editor again.
    problems = not (editor and editor.changed_list) and bool(form.errors or (editor and editor.errors))
    return _template_page(request, form, None, editor, status=400 if problems else 200)


@workspace_page()
def template_edit(request: WorkspaceRequest, slug: str, template_id: int) -> HttpResponse:
    template = authoring.get_template(request.workspace, template_id)
    form = TemplateForm(request.POST or None, channel=template.channel, initial=TemplateForm.initial_for(template))
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
    editor = _editor(request, template.channel, template)
    if request.method == "POST":
        saved = _save(request, form, editor, template)
        if saved is not None:
            messages.success(request, _("Saved the template."))
            return redirect("web:template", slug=slug, template_id=template.pk)
    form = _unbound_if_reshown(request, form, editor, template)
    # A change of the list is answered 200 even with a refused picture, so htmx shows the editor again.
    problems = not (editor and editor.changed_list) and bool(form.errors or (editor and editor.errors))
    return _template_page(request, form, template, editor, status=400 if problems else 200)


def _recipient(request: WorkspaceRequest, template: Template, contact_id: int | None) -> composing.Recipient:
    if contact_id is None:
        return composing.Recipient(delivery_id=0, address=SAMPLE_EMAIL if template.channel == "email" else "",
                                   name=SAMPLE_NAME, fields={})
    contact = contact_queries.contact(request.workspace, contact_id)
    return composing.Recipient(delivery_id=0, address=queries.address_of(request.workspace, contact, template.channel),
                               name=contact.name, fields=contact.fields)


def _composed(request: WorkspaceRequest, template: Template, recipient: composing.Recipient) -> dict[str, Any]:
    """The message as this person would get it, or the reason it cannot be made."""
    workspace = request.workspace
    compiled = composing.compile_template(template)
    try:
        if template.channel == MessageChannel.LINE:
            return {"line_messages": composing.compose_line(compiled, recipient, delivery_id=0, site="",
                                                            workspace_name=workspace.name, tz=workspace.timezone)}
        profile = authoring.sender_profile(workspace)
        mail = composing.compose_mail(compiled, profile, recipient, workspace_name=workspace.name,
                                      tz=workspace.timezone)
        # The From header is encoded for the wire (=?utf-8?…); people read the name and the address.
        return {"mail": mail, "sender_display": f"{profile.from_name} <{profile.from_address}>"}
    except Exception as exc:  # noqa: BLE001 — a template error at render time is shown, not a 500
        return {"render_error": str(exc)}


@workspace_page()
def template_preview(request: WorkspaceRequest, slug: str, template_id: int) -> HttpResponse:
    template = authoring.get_template(request.workspace, template_id)
    chooser = PreviewForm(request.GET or None, contacts=queries.preview_contacts(request.workspace,
                                                                                 kind=template.channel))
    contact_id = chooser.cleaned_data["contact"] if chooser.is_valid() else None
    profile = SenderProfile.objects.filter(workspace=request.workspace).first()
    return render(request, "web/messaging/template_preview.html", {
        "template": template, "chooser": chooser, "test_form": TestSendForm(),
        **_composed(request, template, _recipient(request, template, contact_id)),
        "missing": _missing_labels(profile) if template.channel == MessageChannel.EMAIL else [],
        "can_manage": _can_manage(request)})


def _line_test_send(request: WorkspaceRequest, template: Template) -> HttpResponse:
    """Push the messages, filled in for the chosen LINE friend, to that friend at once (the owner picks
    themself, having added the account), with a retry key of its own; no delivery, nothing counted."""
    back = redirect("web:template_preview", slug=request.workspace.slug, template_id=template.pk)
    contact_id = request.POST.get("contact", "")
    channel = LineChannel.objects.for_workspace(request.workspace).filter(active=True).order_by("-pk").first()
    if not contact_id.isdigit():
        messages.error(request, _("Choose the LINE friend to send the test to (yourself, having added the account)."))
        return back
    recipient = _recipient(request, template, int(contact_id))
    if not recipient.address or channel is None:
        messages.error(request, _("This person has no LINE account on the list.") if channel else
                       _("No LINE account is connected."))
        return back
    workspace = request.workspace
    sent = composing.compose_line(composing.compile_template(template), recipient, delivery_id=None,
                                  workspace_name=workspace.name, tz=workspace.timezone)
    try:
        line_api.push_messages(access_token=channel.access_token, user_id=recipient.address, messages=sent,
                               retry_key=str(uuid.uuid4()))
    except line_api.LineError as exc:
        messages.error(request, _("LINE refused the test (%(status)s): %(error)s") % {"status": exc.status,
                                                                                  "error": exc.body})
    else:
        messages.success(request, _("Sent a test by LINE to %(to)s.") % {"to": recipient.name or recipient.address})
    return back


@require_POST
@workspace_page(Action.MANAGE)
def template_test_send(request: WorkspaceRequest, slug: str, template_id: int) -> HttpResponse:
    """One mail, composed as for the sample person (or the chosen contact), to the address the owner typed;
    through the installation's own mailer, with no delivery row and nothing tracked."""
    template = authoring.get_template(request.workspace, template_id)
    form = TestSendForm(request.POST)
    if template.channel == MessageChannel.LINE:
        return _line_test_send(request, template)
    try:
        if not form.is_valid():
            raise InvalidInput(_("Enter the address to send the test to."), fields={"to": _("Enter a valid email "
                                                                                           "address.")})
        profile = composing.require_complete_sender(SenderProfile.objects.filter(workspace=request.workspace).first())
        contact_id = request.POST.get("contact", "")
        recipient = _recipient(request, template, int(contact_id) if contact_id.isdigit() else None)
        mail = composing.compose_mail(composing.compile_template(template), profile, recipient,
                                      workspace_name=request.workspace.name, tz=request.workspace.timezone)
    except MusubiError as exc:
        messages.error(request, exc.message + "".join(f" {why}" for why in exc.fields.values()))
        return redirect("web:template_preview", slug=slug, template_id=template.pk)
    message = EmailMultiAlternatives(subject=_("[Test] %(subject)s") % {"subject": mail.subject}, body=mail.text,
                                     from_email=mail.sender, to=[form.cleaned_data["to"]],
                                     reply_to=[mail.reply_to] if mail.reply_to else None)
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    try:
        message.send()
    except OSError as exc:
        messages.error(request, _("The test mail could not be sent: %(error)s") % {"error": exc})
    else:
        messages.success(request, _("Sent a test to %(to)s.") % {"to": form.cleaned_data["to"]})
    return redirect("web:template_preview", slug=slug, template_id=template.pk)
