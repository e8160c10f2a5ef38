"""The download of an offer's file from the link on the buyer's members' page or order page."""

from __future__ import annotations

from urllib.parse import quote

from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from musubi.commerce import downloads
from musubi.kernel.errors import NotFound


class DownloadResponse(FileResponse):
    block_size = 256 * 1024  # Django's 4 KiB would take a hundred thousand writes for a 500 MB video


def attachment_header(file_name: str) -> str:
    """Content-Disposition for a file saved as ``file_name``: the UTF-8 name in ``filename*`` (RFC 6266 and
    RFC 5987, which every current browser reads), after a plain ASCII ``filename`` for clients that do not."""
    extension = file_name.rpartition(".")[2] if "." in file_name else ""
    fallback = file_name if file_name.isascii() else "download" + (f".{extension}" if extension.isascii() else "")
    fallback = "".join(ch for ch in fallback if 0x20 <= ord(ch) < 0x7F and ch not in '"\\') or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


@require_GET
def member_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """Stream the file to the buyer as an attachment. Refusals are the same 404 whatever the reason; only the
    order's own buyer, who holds a valid link, is told that the download limit is used up."""
    try:
        offer_file, stream = downloads.open_download(token)
    except (NotFound, downloads.DownloadsUsedUp) as exc:
        # One page for every refusal, on the buyers' own layout: a 404 that says only that the link does not
        # work and how to get a new one, or (403) the used-up limit, which only a valid link can reach.
        return render(request, "commerce/not_invited.html", {
            "offer": None, "shop": None, "problem": exc.message, "legal_url": ""},
            status=404 if isinstance(exc, NotFound) else 403)
    response = DownloadResponse(stream, content_type=offer_file.content_type)
    response["Content-Length"] = str(offer_file.size)
    response["Content-Disposition"] = attachment_header(offer_file.file_name)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    # Django's FileResponse serves no byte ranges, so clients are told not to ask (RFC 9110 §14.3): an
    # interrupted download starts again from the beginning.
    response["Accept-Ranges"] = "none"
    return response
