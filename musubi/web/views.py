"""Pages of the owners' and staff's UI. Each parses input, calls one service or query, and answers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.kernel.errors import MusubiError
from musubi.web.access import SignedInRequest, WorkspaceRequest, workspace_page
from musubi.web.forms import (
    AddMemberForm,
    ApiKeyForm,
    ChangeRoleForm,
    LanguageForm,
    NewWorkspaceForm,
    WorkspaceSettingsForm,
)
from musubi.workspaces import queries, services
from musubi.workspaces.choices import Role
from musubi.workspaces.rules import Action, role_allows

NEW_KEY_SESSION_KEY = "musubi.new_api_key"


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


@login_required
def account(request: SignedInRequest) -> HttpResponse:
    form = LanguageForm(request.POST or None, initial={"language": request.user.language})
    if request.method == "POST" and form.is_valid():
        services.set_language(user=request.user, language=form.cleaned_data["language"])
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
                services.add_member(workspace=workspace, actor=request.actor, **form.cleaned_data)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("%(email)s was added. They can set a password with “Forgot your "
                                            "password?” on the sign-in page.") % form.cleaned_data)
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
        messages.error(request, _explain(exc))
    else:
        messages.success(request, _("The role was changed."))
    return redirect("web:members", slug=slug)


@require_POST
@workspace_page(Action.ADMINISTER)
def remove_member(request: WorkspaceRequest, slug: str, membership_id: int) -> HttpResponse:
    try:
        services.remove_member(workspace=request.workspace, actor=request.actor, membership_id=membership_id)
    except MusubiError as exc:
        messages.error(request, _explain(exc))
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
        messages.error(request, _explain(exc))
    else:
        messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("web:api_keys", slug=slug)


@workspace_page(Action.ADMINISTER)
def audit_log(request: WorkspaceRequest, slug: str) -> HttpResponse:
    page = Paginator(queries.audit_log(request.workspace), 50).get_page(request.GET.get("page"))
    return render(request, "web/audit_log.html", {"page": page})


def _explain(error: MusubiError) -> str:
    messages_by_code = {
        "last_owner": _("A workspace must keep at least one owner."),
        "not_found": _("That no longer exists in this workspace."),
        "forbidden": _("Your role does not allow this."),
    }
    return messages_by_code.get(error.code, error.message)

