"""Pictures for LINE messages: uploaded once, kept in the installation's file storage, served from our own
address so LINE (and each friend's phone) can fetch them.

LINE takes JPEG or PNG over HTTPS; a preview image (what the chat shows before the picture is opened) and a
buttons card's picture may be at most 1 MB, and a card's picture at most 1,024 pixels wide. Musubi keeps
every picture within those limits, so the one file is a valid original, preview and card picture alike. A
larger picture (a photo straight from a phone) is made to fit with Pillow: scaled to 1,024 pixels wide and, if
still too heavy, saved again as JPEG at a lower quality.
"""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging.models import LineImage
from musubi.messaging.richmenu_rules import image_kind, image_size
from musubi.workspaces.models import Workspace

MAX_BYTES = 1024 * 1024  # what LINE takes for a preview and a card's picture
MAX_WIDTH = 1024
UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # what an owner may upload; anything larger than LINE takes is made to fit
UPLOAD_MAX_PIXELS = 64_000_000  # refused before decoding: a picture that big is a mistake or an attack
JPEG_QUALITIES = (85, 75, 65, 50, 40)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(_("Some fields need attention."), fields={field: message})


def store(*, workspace: Workspace, data: bytes, name: str, field: str) -> LineImage:
    """Keep an uploaded picture, made to fit LINE's limits; raises ``InvalidInput`` on ``field`` when it cannot
    be a picture LINE takes."""
    kind = image_kind(data[:16])
    size = image_size(data) if kind else None
    if kind is None or size is None:
        raise _refuse(field, _("The picture must be a JPEG or PNG file."))
    if len(data) > UPLOAD_MAX_BYTES:  # callers read one byte past the limit, not the whole file
        raise _refuse(field, _("The picture is larger than 10 MB; upload at most 10 MB."))
    if size[0] * size[1] > UPLOAD_MAX_PIXELS:
        raise _refuse(field, _("The picture is %(width)s × %(height)s pixels; upload one of at most 64 million "
                               "pixels.") % {"width": f"{size[0]:,}", "height": f"{size[1]:,}"})
    if len(data) > MAX_BYTES or size[0] > MAX_WIDTH:
        data, kind, size = fitted(data, field)
    width, height = size
    image = LineImage(workspace=workspace, content_type=kind, width=width, height=height, size=len(data),
                      name=name[:200], created_at=clock.now())
    image.file.save(f"{image.key}.{EXTENSIONS[kind]}", ContentFile(data), save=False)
    image.save()
    return image


def fitted(data: bytes, field: str) -> tuple[bytes, str, tuple[int, int]]:
    """The picture at most ``MAX_WIDTH`` wide and ``MAX_BYTES`` heavy: (bytes, content type, (width, height)).
    A PNG stays a PNG while it fits (its transparency kept); otherwise it becomes a JPEG on white."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                picture = ImageOps.exif_transpose(opened)  # a phone's portrait photo stays upright
                picture.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _refuse(field, _("The picture must be a JPEG or PNG file.")) from None
    if picture.width > MAX_WIDTH:
        height = max(1, round(picture.height * MAX_WIDTH / picture.width))
        picture = picture.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
    if opened.format == "PNG":
        out = io.BytesIO()
        picture.save(out, format="PNG", optimize=True)
        if out.tell() <= MAX_BYTES:
            return out.getvalue(), "image/png", picture.size
    if picture.mode != "RGB":
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture, mask=picture.getchannel("A") if "A" in picture.getbands() else None)
        picture = flat
    for quality in JPEG_QUALITIES:
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
        if out.tell() <= MAX_BYTES:
            return out.getvalue(), "image/jpeg", picture.size
    raise _refuse(field, _("The picture could not be made small enough for LINE (1 MB); use a simpler one."))


def known_keys(workspace: Workspace, keys: set[str]) -> set[str]:
    """Which of these keys name pictures of this workspace."""
    wanted = {k for k in keys if _looks_like_key(k)}
    return {str(k) for k in LineImage.objects.for_workspace(workspace).filter(key__in=wanted)
            .values_list("key", flat=True)}


def _looks_like_key(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def image_url(key: str, base: str | None = None) -> str:
    """The picture's address; ``base`` "" gives a path on this site (for our own pages)."""
    return (settings.MUSUBI_BASE_URL if base is None else base) + reverse("line_image", args=[key])


def preview_url(key: str, base: str | None = None) -> str:
    return (settings.MUSUBI_BASE_URL if base is None else base) + reverse("line_image_preview", args=[key])


def served_over_https() -> bool:
    """LINE fetches pictures only over HTTPS: on an http:// address they do not show in production."""
    return settings.MUSUBI_BASE_URL.startswith("https://")
