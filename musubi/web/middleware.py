"""Choose the UI language: the signed-in user's own choice, else the browser's, else Japanese."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The session middleware has run, but authentication has not: read the user lazily from the session.
        from django.contrib.auth import get_user

        user = get_user(request)
        language = getattr(user, "language", None) if user.is_authenticated else None
        language = language or translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)  # type: ignore[attr-defined]
        translation.deactivate()
        return response
