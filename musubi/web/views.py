"""Pages of the owners' and staff's UI. Each parses input, calls one service or query, and answers."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.kernel.errors import MusubiError
from musubi.web.access import SignedInRequest, WorkspaceRequest, workspace_page
from musubi.web.forms import (
    AccountForm,
    AddMemberForm,
    ApiKeyForm,
    ChangeRoleForm,
    NewWorkspaceForm,
    WorkspaceSettingsForm,
)
from musubi.web.tasks import send_invitation
from musubi.workspaces import queries, services
from musubi.workspaces.choices import Role
from musubi.workspaces.rules import Action, role_allows

NEW_KEY_SESSION_KEY = "musubi.new_api_key"


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; point them at the real icon."""
    return redirect(static("musubi/favicon.svg"), permanent=True)


@login_required
def home(request: SignedInRequest) -> HttpResponse:
    """Straight into the only workspace, or a choice among several."""
    memberships = list(queries.memberships_of(request.user))
    if len(memberships) == 1:
        return redirect("web:dashboard", slug=memberships[0].workspace.slug)
    return render(request, "web/workspace_list.html", {"memberships": memberships})


@login_required
def new_workspace(request: SignedInRequest) -> HttpResponse:
    form = NewWorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.create_workspace(owner=request.user, **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("The workspace “%(name)s” was created.") % {"name": workspace.name})
            return redirect("web:dashboard", slug=workspace.slug)
    return render(request, "web/workspace_new.html", {"form": form})


class PasswordChange(auth_views.PasswordChangeView):
    template_name = "web/password_change.html"
    success_url = reverse_lazy("web:account")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, _("Your password was changed."))
        return super().form_valid(form)


@login_required
def account(request: SignedInRequest) -> HttpResponse:
    user = request.user
    form = AccountForm(request.POST or None, initial={"full_name": user.first_name, "language": user.language})
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=user, **form.cleaned_data)
        translation.activate(user.language)  # answer in the language just chosen
        messages.success(request, _("Your settings were saved."))
        return redirect("web:account")
    return render(request, "web/account.html", {"form": form})


@workspace_page()
def dashboard(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    recent = queries.audit_log(workspace)[:8]
    return render(request, "web/dashboard.html", {"recent": recent, "member_count": queries.members(workspace).count()})


@workspace_page(Action.ADMINISTER)
def workspace_settings(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    form = WorkspaceSettingsForm(request.POST or None, initial={"name": workspace.name, "timezone": workspace.timezone})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_workspace(workspace=workspace, actor=request.actor, **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("web:settings", slug=slug)
    return render(request, "web/settings.html", {"form": form})


@workspace_page()
def members(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    can_administer = role_allows(request.membership.role, Action.ADMINISTER)
    form = AddMemberForm(request.POST or None)
    if request.method == "POST":
        request.actor.require(Action.ADMINISTER)
        if form.is_valid():
            try:
                membership = services.add_member(workspace=workspace, actor=request.actor, **form.cleaned_data)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                transaction.on_commit(partial(send_invitation.enqueue, membership.pk, request.user.pk))
                messages.success(request, _("%(email)s was added and has been sent an invitation by email.")
                                 % {"email": membership.user.email})
                return redirect("web:members", slug=slug)
    return render(request, "web/members.html", {
        "members": queries.members(workspace), "form": form, "can_administer": can_administer, "roles": Role.choices,
    })


@require_POST
@workspace_page(Action.ADMINISTER)
def change_member_role(request: WorkspaceRequest, slug: str, membership_id: int) -> HttpResponse:
    form = ChangeRoleForm(request.POST)
    try:
        if not form.is_valid():
            raise MusubiError(_("Choose a role."))
        services.change_role(workspace=request.workspace, actor=request.actor,
                             membership_id=membership_id, role=form.cleaned_data["role"])
    except MusubiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The role was changed."))
    return redirect("web:members", slug=slug)


@require_POST
@workspace_page(Action.ADMINISTER)
def remove_member(request: WorkspaceRequest, slug: str, membership_id: int) -> HttpResponse:
    try:
        services.remove_member(workspace=request.workspace, actor=request.actor, membership_id=membership_id)
    except MusubiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The member was removed."))
    return redirect("web:members", slug=slug)


@workspace_page(Action.ADMINISTER)
def api_keys(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """List and create keys. A new key's secret goes through the session to the page the browser is
    redirected to, which shows it once and forgets it, so a reload neither re-creates nor re-shows it."""
    workspace = request.workspace
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _key, secret = services.create_api_key(workspace=workspace, actor=request.actor, **form.cleaned_data)
        except MusubiError as exc:
            form.add_service_error(exc)
        else:
            request.session[NEW_KEY_SESSION_KEY] = secret
            return redirect("web:api_keys", slug=slug)
    new_secret = request.session.pop(NEW_KEY_SESSION_KEY, None)
    context = {"keys": queries.api_keys(workspace), "form": form, "new_secret": new_secret}
    response = render(request, "web/api_keys.html", context)
    if new_secret:
        response.headers["Cache-Control"] = "no-store"  # keep the one showing of the secret out of caches
    return response


@require_POST
@workspace_page(Action.ADMINISTER)
def revoke_api_key(request: WorkspaceRequest, slug: str, key_id: int) -> HttpResponse:
    try:
        key = services.revoke_api_key(workspace=request.workspace, actor=request.actor, key_id=key_id)
    except MusubiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("web:api_keys", slug=slug)


@workspace_page(Action.ADMINISTER)
def audit_log(request: WorkspaceRequest, slug: str) -> HttpResponse:
    page = Paginator(queries.audit_log(request.workspace), 50).get_page(request.GET.get("page"))
    return render(request, "web/audit_log.html", {"page": page})
