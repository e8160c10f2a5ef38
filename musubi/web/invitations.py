"""The mail a person gets when an owner adds them to a workspace.

Someone new gets a link to set their first password (the password-reset token, which works once and expires
after ``PASSWORD_RESET_TIMEOUT``); someone who already signs in gets a link to the workspace.
"""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import override

from musubi.workspaces.models import Membership, User


def send_invitation(request: HttpRequest, *, membership: Membership, invited_by: User) -> None:
    user = membership.user
    if user.has_usable_password():
        path = reverse("web:dashboard", args=[membership.workspace.slug])
    else:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        path = reverse("web:password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    context = {
        "workspace": membership.workspace,
        "role": membership.get_role_display(),
        "inviter": invited_by.get_full_name() or invited_by.email,
        "link": request.build_absolute_uri(path),
        "needs_password": not user.has_usable_password(),
    }
    with override(user.language):
        subject = render_to_string("web/email/invitation_subject.txt", context).strip()
        body = render_to_string("web/email/invitation_body.txt", context)
    send_mail(subject, body, None, [user.email])
