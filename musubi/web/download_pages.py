"""Files an offer delivers to its buyers: listed on the offer's page, added on their own page (where a refused
upload shows its errors), removed with a button."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from musubi.catalog import queries as catalog_queries
from musubi.commerce import downloads
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.forms import ServiceErrorsMixin
from musubi.workspaces.rules import Action

# Room for the form's other fields around the file in a multipart body.
FORM_OVERHEAD_BYTES = 64 * 1024


class OfferFileForm(ServiceErrorsMixin):
    file = forms.FileField(label=gettext_lazy("File"), allow_empty_file=False, max_length=None)
    name = forms.CharField(label=gettext_lazy("Name shown to the buyer"), max_length=200, required=False,
                           help_text=gettext_lazy("Empty: the file's own name."))
    max_downloads = forms.IntegerField(
        label=gettext_lazy("Downloads allowed per order"), required=False, min_value=1,
        max_value=downloads.MAX_DOWNLOADS_LIMIT, help_text=gettext_lazy("Empty: no limit."))


@workspace_page(Action.MANAGE)
def offer_file_new(request: WorkspaceRequest, slug: str, offer_id: int) -> HttpResponse:
    offer = catalog_queries.offer(request.workspace, offer_id)
    limit = settings.MUSUBI_DOWNLOAD_MAX_BYTES
    if request.method == "POST" and int(request.META.get("CONTENT_LENGTH") or 0) > limit + FORM_OVERHEAD_BYTES:
        # Refused from its declared length, before Django reads (and spools to disk) the whole body.
        return render(request, "web/ladder/offer_file_new.html", {
            "offer": offer, "form": OfferFileForm(), "limit": limit,
            "problem": _("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)}}, status=413)
    form = OfferFileForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                downloads.add_file(workspace=request.workspace, actor=request.actor, offer_id=offer.pk,
                                   upload=upload, file_name=upload.name or "", size=upload.size or 0,
                                   content_type=upload.content_type or "", name=form.cleaned_data["name"],
                                   max_downloads=form.cleaned_data["max_downloads"])
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("The file was added. Its buyers find it on their members' page."))
                return redirect("web:offer", slug=slug, offer_id=offer.pk)
        status = 400
    return render(request, "web/ladder/offer_file_new.html", {
        "offer": offer, "form": form, "limit": limit}, status=status)


@require_POST
@workspace_page(Action.MANAGE)
def offer_file_delete(request: WorkspaceRequest, slug: str, offer_id: int, file_id: int) -> HttpResponse:
    return act(request, lambda: downloads.remove_file(workspace=request.workspace, actor=request.actor,
                                                      offer_id=offer_id, file_id=file_id),
               done=_("The file was removed. Links already sent for it no longer work."),
               then=redirect("web:offer", slug=slug, offer_id=offer_id))
