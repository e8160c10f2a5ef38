"""Mail the site sends to people (invitations, password resets), sent by the worker rather than the request.

A mail server that is slow or down then delays the mail instead of failing the page that asked for it, and the
worker retries. Links point at ``MUSUBI_BASE_URL``, never at the Host header of whatever request caused them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import override

from musubi.workspaces.models import Membership, User


@task
def send_system_mail(subject: str, body: str, to: str) -> None:
    send_mail(subject, body, None, [to])


@task
def send_invitation(membership_id: int, inviter_id: int) -> None:
    """Tell someone they were added to a workspace: a link to set a first password (the password-reset
    token, which works once and expires after PASSWORD_RESET_TIMEOUT), or to the workspace if they have one."""
    membership = Membership.objects.select_related("user", "workspace").filter(pk=membership_id).first()
    if membership is None:  # removed again before the mail went out
        return
    user = membership.user
    inviter = User.objects.filter(pk=inviter_id).first()
    if user.has_usable_password():
        path = reverse("web:dashboard", args=[membership.workspace.slug])
    else:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        path = reverse("web:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    context = {
        "workspace": membership.workspace,
        "inviter": (inviter.get_full_name() or inviter.email) if inviter else "Musubi",
        "link": settings.MUSUBI_BASE_URL + path,
        "needs_password": not user.has_usable_password(),
    }
    with override(user.language):
        context["role"] = membership.get_role_display()
        subject = render_to_string("web/email/invitation_subject.txt", context).strip()
        body = render_to_string("web/email/invitation_body.txt", context)
    send_mail(subject, body, None, [user.email])
