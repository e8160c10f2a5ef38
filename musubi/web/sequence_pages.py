"""Step messages (ステップ配信): the list of sequences, a sequence's settings and steps, its per-step funnel as a
table and a chart, and adding a person by hand."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.capture.models import CapturePoint, LineChannel
from musubi.contacts import queries as contact_queries
from musubi.kernel.errors import MusubiError
from musubi.messaging import authoring, enrollments, queries
from musubi.messaging.choices import EnrollmentStatus
from musubi.messaging.models import Sequence
from musubi.web import charts
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.messaging_forms import EnrollForm, SequenceForm, StepForm
from musubi.workspaces.rules import Action, role_allows


def _points(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return list(CapturePoint.objects.for_workspace(request.workspace).order_by("name").values_list("pk", "name"))


def _lines(request: WorkspaceRequest) -> list[tuple[int, str]]:
    return list(LineChannel.objects.for_workspace(request.workspace).order_by("name").values_list("pk", "name"))


def _sequence_form(request: WorkspaceRequest, sequence: Sequence | None, *, bound: bool = True) -> SequenceForm:
    initial = SequenceForm.initial_for(sequence) if sequence else {}
    return SequenceForm((request.POST or None) if bound else None, initial=initial, points=_points(request),
                        lines=_lines(request))


def _step_form(request: WorkspaceRequest, sequence: Sequence, *, step_id: int | None = None,
               initial: dict[str, object] | None = None, bound: bool = True) -> StepForm:
    live = queries.steps(sequence)
    earlier = [(s.pk, _("Step %(n)s: %(name)s") % {"n": i, "name": s.template.name})
               for i, s in enumerate(live, start=1) if s.pk != step_id]
    templates = [(t.pk, f"{t.name}（{t.get_channel_display()}）") for t in queries.templates(request.workspace)]
    segments = list(contact_queries.segments(request.workspace).values_list("pk", "name"))
    return StepForm((request.POST or None) if bound else None, initial=initial, templates=templates,
                    lines=_lines(request), segments=segments, earlier=earlier)


def _step_label(number: int, row: queries.FunnelRow) -> str:
    name = row.step.template.name
    return f"{number}. {name[:14]}…" if len(name) > 15 else f"{number}. {name}"


@workspace_page()
def sequence_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    return render(request, "web/messaging/sequences.html", {
        "sequences": queries.sequences(request.workspace),
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@workspace_page(Action.MANAGE)
def sequence_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = _sequence_form(request, None)
    if request.method == "POST" and form.is_valid():
        try:
            made = authoring.create_sequence(workspace=request.workspace, actor=request.actor,
                                             data=form.data_input())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved the sequence. Now add its steps."))
            return redirect("web:sequence", slug=slug, sequence_id=made.pk)
    return render(request, "web/messaging/sequence_new.html", {"form": form}, status=400 if form.errors else 200)


def _sequence_page(request: WorkspaceRequest, sequence: Sequence, *, form: SequenceForm | None = None,
                   step_form: StepForm | None = None, enroll_form: EnrollForm | None = None,
                   status: int = 200) -> HttpResponse:
    funnel = queries.funnel(sequence)
    can_manage = role_allows(request.membership.role, Action.MANAGE)
    return render(request, "web/messaging/sequence.html", {
        "sequence": sequence, "funnel": funnel, "chart": charts.funnel(funnel, label=_step_label),
        "form": (form or _sequence_form(request, sequence, bound=False)) if can_manage else None,
        "step_form": (step_form or _step_form(request, sequence, bound=False)) if can_manage else None,
        "enroll_form": enroll_form or EnrollForm(), "can_manage": can_manage,
        "status_labels": EnrollmentStatus}, status=status)


@workspace_page()
def sequence_detail(request: WorkspaceRequest, slug: str, sequence_id: int) -> HttpResponse:
    sequence = authoring.get_sequence(request.workspace, sequence_id)
    if request.method != "POST":
        return _sequence_page(request, sequence)
    request.actor.require(Action.MANAGE)
    form = _sequence_form(request, sequence)
    if form.is_valid():
        try:
            authoring.update_sequence(workspace=request.workspace, actor=request.actor, sequence_id=sequence.pk,
                                      data=form.data_input())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved. People already in the sequence keep the steps they got."))
            return redirect("web:sequence", slug=slug, sequence_id=sequence.pk)
    return _sequence_page(request, sequence, form=form, status=400)


@require_POST
@workspace_page(Action.MANAGE)
def step_new(request: WorkspaceRequest, slug: str, sequence_id: int) -> HttpResponse:
    sequence = authoring.get_sequence(request.workspace, sequence_id)
    form = _step_form(request, sequence)
    if form.is_valid():
        try:
            authoring.add_step(workspace=request.workspace, actor=request.actor, sequence_id=sequence.pk,
                               data=form.data_input())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Added the step."))
            return redirect("web:sequence", slug=slug, sequence_id=sequence.pk)
    return _sequence_page(request, sequence, step_form=form, status=400)


@workspace_page(Action.MANAGE)
def step_edit(request: WorkspaceRequest, slug: str, sequence_step_id: int) -> HttpResponse:
    step = authoring.get_step(request.workspace, sequence_step_id)
    form = _step_form(request, step.sequence, step_id=step.pk, initial=StepForm.initial_for(step))
    if request.method == "POST" and form.is_valid():
        try:
            authoring.update_step(workspace=request.workspace, actor=request.actor, step_id=step.pk,
                                  data=form.data_input())
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved the step. People who already got it do not get it again."))
            return redirect("web:sequence", slug=slug, sequence_id=step.sequence_id)
    return render(request, "web/messaging/step_edit.html", {"step": step, "form": form},
                  status=400 if form.errors else 200)


@require_POST
@workspace_page(Action.MANAGE)
def step_remove(request: WorkspaceRequest, slug: str, sequence_step_id: int) -> HttpResponse:
    step = authoring.get_step(request.workspace, sequence_step_id)
    return act(request, lambda: authoring.archive_step(workspace=request.workspace, actor=request.actor,
                                                       step_id=step.pk),
               done=_("Removed the step; what it sent stays in the history."),
               then=redirect("web:sequence", slug=slug, sequence_id=step.sequence_id))


@require_POST
@workspace_page(Action.MANAGE)
def sequence_enroll(request: WorkspaceRequest, slug: str, sequence_id: int) -> HttpResponse:
    """Put one person into the sequence by hand, found by their email address or LINE user id."""
    sequence = authoring.get_sequence(request.workspace, sequence_id)
    form = EnrollForm(request.POST)
    if form.is_valid():
        contact = queries.contact_by_address(request.workspace, form.cleaned_data["address"])
        if contact is None:
            form.add_error("address", _("Nobody in this workspace has this address."))
        elif not sequence.active:
            form.add_error("address", _("The sequence is not active: make it active first."))
        elif enrollments.enroll(sequence=sequence, contact=contact) is None:
            form.add_error("address", _("This person is in the sequence now, or has been and may not enter "
                                        "again."))
        else:
            messages.success(request, _("%(name)s entered the sequence.") % {
                "name": contact.name or form.cleaned_data["address"]})
            return redirect("web:sequence", slug=slug, sequence_id=sequence.pk)
    return _sequence_page(request, sequence, enroll_form=form, status=400)


@require_POST
@workspace_page(Action.MANAGE)
def contact_enroll(request: WorkspaceRequest, slug: str, contact_id: int) -> HttpResponse:
    """Start a sequence for one person from their page."""
    contact = contact_queries.contact(request.workspace, contact_id)
    sequence_id = request.POST.get("sequence", "")
    sequence = authoring.get_sequence(request.workspace, int(sequence_id)) if sequence_id.isdigit() else None
    if sequence is None:
        messages.error(request, _("Choose a sequence."))
    elif not sequence.active:
        messages.error(request, _("The sequence is not active: make it active first."))
    elif enrollments.enroll(sequence=sequence, contact=contact) is None:
        messages.error(request, _("This person is in the sequence now, or has been and may not enter again."))
    else:
        messages.success(request, _("%(name)s entered the sequence.") % {"name": contact.name or contact.pk})
    return redirect("web:contact", slug=slug, contact_id=contact.pk)
