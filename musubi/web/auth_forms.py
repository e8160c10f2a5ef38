"""Sign-in by email address in any capitalisation, and password reset that also reaches invited members."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string

from musubi.web.tasks import send_system_mail
from musubi.workspaces.models import User


class InviteAwarePasswordResetForm(PasswordResetForm):
    """Password reset that reaches invited members, links to ``MUSUBI_BASE_URL``, and mails through the worker.

    Django skips users without a usable password; an invited member is exactly such a user, and setting a
    first password through the emailed link is how they join. Inactive users still get nothing.
    """

    def get_users(self, email: str) -> Iterator[User]:
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)

    def save(self, **kwargs: Any) -> None:  # type: ignore[override]
        base = urlsplit(settings.MUSUBI_BASE_URL)
        kwargs.update(domain_override=base.netloc, use_https=base.scheme == "https")
        super().save(**kwargs)

    def send_mail(self, subject_template_name: str, email_template_name: str, context: dict[str, Any],
                  from_email: str | None, to_email: str, html_email_template_name: str | None = None) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        transaction.on_commit(partial(send_system_mail.enqueue, subject, body, to_email))


def normalise_email(value: str) -> str:
    # Addresses are stored lower-cased; phones capitalise the first letter of what is typed.
    return value.strip().lower()


class EmailAuthenticationForm(AuthenticationForm):
    def clean_username(self) -> str:
        return normalise_email(self.cleaned_data.get("username") or "")


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The address django-axes counts failures for: the same however it was capitalised."""
    value = (credentials or {}).get("username") or request.POST.get("username")
    return normalise_email(value) if value else None
