"""The address LINE fetches a message's picture from. Public, as LINE and friends' phones must reach it
without signing in; the random key in the address is the only way to name a picture, and a picture never
changes, so it may be cached for long."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from musubi.messaging.models import LineImage


@require_GET
def line_image(request: HttpRequest, key: uuid.UUID) -> HttpResponse:
    image = LineImage.objects.filter(key=key).first()
    if image is None:
        raise Http404
    with image.file.open("rb") as handle:
        data = handle.read()
    response = HttpResponse(data, content_type=image.content_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
