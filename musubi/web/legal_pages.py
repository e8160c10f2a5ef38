"""The seller's legal particulars: the owner's settings page and the public 特商法 page generated from them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from musubi.kernel.errors import MusubiError, NotFound
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.forms import ServiceErrorsMixin
from musubi.workspaces import queries, services
from musubi.workspaces.choices import LEGAL_FIELD_LABELS
from musubi.workspaces.rules import LEGAL_FIELDS, REQUIRED_LEGAL_FIELDS, Action

_ONE_LINE = {"seller_name": 200, "responsible_person": 200, "address": 500, "phone": 40, "email": 254,
             "invoice_registration_number": 14}


class LegalProfileForm(ServiceErrorsMixin):
    """Every particular; none is required to save (the owner may fill them in over several visits), but an
    offer is published only when the required ones are all there."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in LEGAL_FIELDS:
            label = LEGAL_FIELD_LABELS[name]
            if name in _ONE_LINE:
                field: forms.Field = forms.CharField(label=label, max_length=_ONE_LINE[name], required=False)
            else:
                field = forms.CharField(label=label, required=False, widget=forms.Textarea(attrs={"rows": 3}))
            if name in REQUIRED_LEGAL_FIELDS:
                field.help_text = _("Required before an offer can be published.")
            elif name == "invoice_registration_number":
                field.help_text = _("Optional: T followed by 13 digits, printed on qualified invoices.")
            self.fields[name] = field


@workspace_page(Action.MANAGE)
def legal_settings(request: WorkspaceRequest, slug: str) -> HttpResponse:
    profile = queries.legal_profile(request.workspace)
    form = LegalProfileForm(request.POST or None, initial=profile.values())
    if request.method == "POST" and form.is_valid():
        try:
            services.save_legal_profile(workspace=request.workspace, actor=request.actor, **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("The legal details were saved."))
            return redirect("web:legal_settings", slug=slug)
    missing = [LEGAL_FIELD_LABELS[name] for name in queries.missing_legal_fields(request.workspace)]
    return render(request, "web/legal_settings.html", {"form": form, "missing": missing})


@require_GET
def legal_notice(request: HttpRequest, shop: str) -> HttpResponse:
    """The public 特定商取引法に基づく表記 page, generated from the workspace's particulars."""
    try:
        workspace = queries.public_workspace(shop)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    profile = queries.legal_profile(workspace)
    rows = [(LEGAL_FIELD_LABELS[name], value) for name, value in profile.values().items() if value]
    return render(request, "web/legal_notice.html", {"shop": workspace, "rows": rows})
