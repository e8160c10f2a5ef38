"""Pictures for LINE messages: uploaded once, kept in the installation's file storage, served from our own
address so LINE (and each friend's phone) can fetch them.

LINE takes JPEG or PNG over HTTPS; a preview image (what the chat shows before the picture is opened) and a
buttons card's picture may be at most 1 MB, and a card's picture at most 1,024 pixels wide. Musubi keeps
every picture within those limits, so the one file is a valid original, preview and card picture alike —
no imaging library is needed to make a smaller copy.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.translation import gettext as _

from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.messaging.models import LineImage
from musubi.messaging.richmenu_rules import image_kind, image_size
from musubi.workspaces.models import Workspace

MAX_BYTES = 1024 * 1024
MAX_WIDTH = 1024
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}


def store(*, workspace: Workspace, data: bytes, name: str, field: str) -> LineImage:
    """Keep an uploaded picture; raises ``InvalidInput`` on ``field`` when LINE would not take it."""
    kind = image_kind(data[:16])
    size = image_size(data) if kind else None
    if kind is None or size is None:
        raise InvalidInput(_("Some fields need attention."),
                           fields={field: _("The picture must be a JPEG or PNG file.")})
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("Some fields need attention."), fields={field: _(
            "The picture is %(size)s KB; LINE takes at most 1,024 KB.") % {"size": f"{len(data) // 1024:,}"}})
    width, height = size
    if width > MAX_WIDTH:
        raise InvalidInput(_("Some fields need attention."), fields={field: _(
            "The picture is %(width)s pixels wide; at most 1,024.") % {"width": width}})
    image = LineImage(workspace=workspace, content_type=kind, width=width, height=height, size=len(data),
                      name=name[:200], created_at=clock.now())
    image.file.save(f"{image.key}.{EXTENSIONS[kind]}", ContentFile(data), save=False)
    image.save()
    return image


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
