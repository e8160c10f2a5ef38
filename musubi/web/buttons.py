"""What every button that changes one thing does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from musubi.kernel.errors import MusubiError


def act(request: HttpRequest, action: Callable[[], Any], *, done: str, then: HttpResponse) -> HttpResponse:
    """The pattern of every button that changes one thing: call the service, say what happened (or why it
    did not), and go back."""
    try:
        action()
    except MusubiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return then
