"""CSV import of contacts — upload, map the columns, dry run, run, watch the progress, read the result — and the
CSV export of the contact list. Owners only: taking a list in or out is not counter work."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from musubi.contacts import queries as contact_queries
from musubi.imports import queries, rules, services
from musubi.imports.choices import Encoding, Phase
from musubi.imports.services import CHANGEABLE
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.imports_forms import ImportSettingsForm, UploadForm
from musubi.workspaces.rules import Action


@workspace_page(Action.MANAGE)
def import_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.upload(workspace=request.workspace, actor=request.actor, file_name=upload.name or "",
                                  size=upload.size or 0, chunks=upload.chunks(), encoding=form.cleaned_data["encoding"])
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            return redirect("web:import", slug=slug, import_id=job.pk)
    return render(request, "web/imports/list.html", {"form": form, "imports": queries.imports(request.workspace)[:50]})


@workspace_page(Action.MANAGE)
def import_detail(request: WorkspaceRequest, slug: str, import_id: int) -> HttpResponse:
    job = queries.import_(request.workspace, import_id)
    form = None
    if job.phase in CHANGEABLE:
        initial = {"encoding": job.encoding, "basis": job.basis, "note": job.note, "tags": ", ".join(job.tags),
                   "skip_invalid": job.skip_invalid}
        form = ImportSettingsForm(request.POST or None, job=job, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.configure(workspace=request.workspace, actor=request.actor, import_id=job.pk,
                                   mapping=form.mapping(), basis=form.cleaned_data["basis"],
                                   note=form.cleaned_data["note"], tags=rules.split_tags(form.cleaned_data["tags"]),
                                   skip_invalid=form.cleaned_data["skip_invalid"],
                                   encoding=form.cleaned_data["encoding"])
                if "reread" not in request.POST:
                    services.start(workspace=request.workspace, actor=request.actor, import_id=job.pk,
                                   dry_run="run" not in request.POST)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                if "reread" in request.POST:
                    messages.success(request, _("The file was read again in the encoding chosen."))
                return redirect("web:import", slug=slug, import_id=job.pk)
    return render(request, "web/imports/detail.html", {
        "job": job, "form": form, "errors": queries.first_errors(job), "running": job.phase in (
            Phase.CHECKING, Phase.IMPORTING)})


@workspace_page(Action.MANAGE)
def import_progress(request: WorkspaceRequest, slug: str, import_id: int) -> HttpResponse:
    job = queries.import_(request.workspace, import_id)
    response = render(request, "web/imports/_progress.html", {"job": job, "errors": queries.first_errors(job)})
    if job.phase not in (Phase.CHECKING, Phase.IMPORTING):
        response["HX-Refresh"] = "true"  # the full page shows the result and what to do next
    return response


@workspace_page(Action.MANAGE)
def import_errors(request: WorkspaceRequest, slug: str, import_id: int) -> HttpResponseBase:
    job = queries.import_(request.workspace, import_id)
    response = StreamingHttpResponse(queries.rejected_rows_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response


@workspace_page(Action.MANAGE)
def contacts_export(request: WorkspaceRequest, slug: str) -> HttpResponseBase:
    encoding = request.GET.get("encoding", Encoding.UTF8)
    found = contact_queries.contacts(request.workspace, search=request.GET.get("q", "")[:200],
                                     tag=request.GET.get("tag", "")[:100])
    try:
        stream = services.export_stream(workspace=request.workspace, actor=request.actor, contacts=found,
                                        encoding=encoding)
    except MusubiError as exc:
        messages.error(request, exc.message)
        return redirect("web:contacts", slug=slug)
    charset = "utf-8" if encoding == Encoding.UTF8 else "shift_jis"
    response = StreamingHttpResponse(stream, content_type=f"text/csv; charset={charset}")
    response["Content-Disposition"] = f'attachment; filename="contacts-{slug}.csv"'
    return response
