"""Password reset that also reaches invited members, who have no password yet."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.forms import PasswordResetForm

from musubi.workspaces.models import User


class InviteAwarePasswordResetForm(PasswordResetForm):
    """Django skips users without a usable password; an invited member is exactly such a user, and setting a
    first password through the emailed link is how they join. Inactive users still get nothing."""

    def get_users(self, email: str) -> Iterator[User]:
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)
