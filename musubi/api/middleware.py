"""Under /api/, answer every error in the API's JSON shape, even the ones Django makes before the API runs:
a path that does not exist (404) and a method an operation does not take (405)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

_MESSAGES = {404: ("not_found", "Not found."), 405: ("method_not_allowed", "This path does not take that method.")}


class JsonErrorsUnderApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in _MESSAGES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = _MESSAGES[response.status_code]
            replacement = JsonResponse({"error": {"code": code, "message": message, "fields": {}}},
                                       status=response.status_code, json_dumps_params={"ensure_ascii": False})
            if "Allow" in response:
                replacement["Allow"] = response["Allow"]
            return replacement
        return response


