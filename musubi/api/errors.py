"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"}}``.

Invalid input is 400 (not django-ninja's default 422) with ``fields`` keyed by the dotted path of each
wrong field as the client sent it (``backs.0.take_rate``), so a client can point at the exact field.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.parser import Parser

from musubi.kernel.errors import MusubiError

logger = logging.getLogger("musubi.api")


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorOut(Schema):
    error: ErrorBody


def error_response(api: NinjaAPI, request: HttpRequest, *, status: int, code: str, message: str,
                   fields: dict[str, str] | None = None) -> HttpResponse:
    return api.create_response(request, {"error": {"code": code, "message": message, "fields": fields or {}}},
                               status=status)


def field_path(loc: list[Any] | tuple[Any, ...]) -> str:
    """``["body", "payload", "backs", 0, "take_rate"]`` → ``backs.0.take_rate``; ``["query", "limit"]`` → ``limit``."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else ["body"]
    elif parts and parts[0] in {"query", "path", "header", "cookie", "form", "file"}:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


class JsonObjectParser(Parser):
    """Accept only a JSON object as a request body: a list or a bare string is an error, not an empty update.
    Numbers with a fraction become ``Decimal`` read from their text, so a rate of 0.1 is exactly 0.1."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body, parse_float=Decimal)
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data


def install_error_handlers(api: NinjaAPI) -> None:
    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields: dict[str, str] = {}
        for err in exc.errors:
            if "loc" in err:
                fields.setdefault(field_path(err["loc"]), str(err.get("msg", "invalid")))
            else:  # django-ninja's own checks (an unreadable cursor) give {field: reason}
                fields.update({str(name): str(why) for name, why in err.items()})
        return error_response(api, request, status=400, code="invalid", message=_("The request is not valid."),
                              fields=fields)

    def on_domain(request: HttpRequest, exc: MusubiError) -> HttpResponse:
        return error_response(api, request, status=exc.status, code=exc.code, message=exc.message, fields=exc.fields)

    def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(api, request, status=401, code="unauthenticated",
                              message=_("Send a valid API key as 'Authorization: Bearer <key>'."))

    def on_forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        return error_response(api, request, status=403, code="forbidden", message=exc.message)

    def on_http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400:  # django-ninja's only 400: the body could not be parsed
            return error_response(api, request, status=400, code="invalid",
                                  message=_("The request body must be a JSON object."),
                                  fields={"body": "not a JSON object"})
        return error_response(api, request, status=exc.status_code, code="http_error", message=str(exc))

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(api, request, status=413, code="too_large",
                              message=_("The request body is larger than the %(limit)s bytes accepted.") % {
                                  "limit": f"{limit:,}"})

    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(api, request, status=404, code="not_found", message="Not found.")

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled API error on %s %s", request.method, request.path)
        return error_response(api, request, status=500, code="server_error",
                              message="Something went wrong on our side; the error was logged.")

    # django-ninja annotates a handler's exception as "instance or class"; ours receive instances.
    handlers: list[tuple[type[Exception], Any]] = [
        (ValidationError, on_validation), (MusubiError, on_domain), (AuthenticationError, on_auth),
        (AuthorizationError, on_forbidden), (HttpError, on_http), (Http404, on_404), (RequestDataTooBig, on_too_big),
        (Exception, on_unexpected),
    ]
    for exception_class, handler in handlers:
        api.add_exception_handler(exception_class, handler)


def with_errors(ok: dict[int, Any]) -> dict[int, Any]:
    """Response declarations of an operation: its success shapes plus the error shape, for the OpenAPI document."""
    return {**ok, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut}
