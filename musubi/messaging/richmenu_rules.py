"""Rich menus without the ORM: their states, the sizes LINE offers, the checks on areas and images, and who
should see which menu.

LINE draws a rich menu from one image of a fixed size with up to 20 tappable areas on it; each area has a
rectangle in the image's pixels and an action (open a link, send a message as the user, send a postback).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WIDTH = 2500
MAX_AREAS = 20
MAX_IMAGE_BYTES = 1024 * 1024
MAX_CHAT_BAR_TEXT = 14
MAX_NAME = 300
MAX_LABEL = 20
MAX_POSTBACK_DATA = 300
MAX_MESSAGE_TEXT = 300
ACTION_FIELDS = {"uri": "uri", "message": "text", "postback": "data"}


class Height(models.IntegerChoices):
    LARGE = 1686, gettext_lazy("Large (2500 × 1686)")
    COMPACT = 843, gettext_lazy("Compact (2500 × 843)")


class MenuState(models.TextChoices):
    DRAFT = "draft", gettext_lazy("Draft")
    PUBLISHING = "publishing", gettext_lazy("Publishing")
    PUBLISHED = "published", gettext_lazy("Published")
    UNPUBLISHING = "unpublishing", gettext_lazy("Unpublishing")
    FAILED = "failed", gettext_lazy("Publishing failed")


class JobAction(models.TextChoices):
    PUBLISH = "publish", gettext_lazy("Publish")
    UNPUBLISH = "unpublish", gettext_lazy("Unpublish")


# A menu can be changed or deleted only while LINE does not have it (LINE's menus cannot be edited).
EDITABLE = {MenuState.DRAFT, MenuState.FAILED}
LIVE = {MenuState.PUBLISHING, MenuState.PUBLISHED}


def image_kind(head: bytes) -> str | None:
    """The image's MIME type by its first bytes, when it is one LINE takes (PNG or JPEG)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG's header chunk or a JPEG's start-of-frame segment; None if unreadable."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte before a marker
                i += 1
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            # Start-of-frame markers: C0–CF except DHT (C4), JPG (C8) and DAC (CC).
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None


def check_image(data: bytes, *, height: int) -> tuple[str, str | None]:
    """(content type, problem): the problem is None when LINE will take the image for a menu of ``height``."""
    kind = image_kind(data[:8])
    if kind is None:
        return "", _("Upload a PNG or JPEG image.")
    if len(data) > MAX_IMAGE_BYTES:
        return kind, _("The image may be at most 1 MB.")
    if image_size(data) != (WIDTH, height):
        return kind, _("The image must be exactly %(width)d × %(height)d pixels.") % {"width": WIDTH,
                                                                                   "height": height}
    return kind, None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def clean_areas(raw: Any, *, height: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Areas in LINE's JSON (``bounds`` and ``action``) and the problems found, keyed ``areas`` or
    ``areas.<n>.<field>`` (n counted from 1, as people count rows)."""
    errors: dict[str, str] = {}
    if not isinstance(raw, list):
        return [], {"areas": _("Areas must be a list.")}
    if len(raw) > MAX_AREAS:
        errors["areas"] = _("A rich menu has at most %(n)d areas.") % {"n": MAX_AREAS}
    clean: list[dict[str, Any]] = []
    for n, area in enumerate(raw, start=1):
        area = area if isinstance(area, Mapping) else {}
        raw_bounds = area.get("bounds")
        bounds: Mapping[str, Any] = raw_bounds if isinstance(raw_bounds, Mapping) else area
        box = {key: _int(bounds.get(key)) for key in ("x", "y", "width", "height")}
        for key, value in box.items():
            if value is None or value < 0 or (key in ("width", "height") and value < 1):
                errors[f"areas.{n}.{key}"] = _("A whole number of pixels (width and height at least 1).")
        x, y, w, h = box["x"], box["y"], box["width"], box["height"]
        if x is not None and y is not None and w is not None and h is not None and not any(
                f"areas.{n}.{key}" in errors for key in box):
            if x + w > WIDTH:
                errors[f"areas.{n}.width"] = _("The area goes past the right edge (x + width ≤ %(w)d).") % {
                    "w": WIDTH}
            if y + h > height:
                errors[f"areas.{n}.height"] = _("The area goes past the bottom edge (y + height ≤ %(h)d).") % {
                    "h": height}
        raw_action = area.get("action")
        action: Mapping[str, Any] = raw_action if isinstance(raw_action, Mapping) else {}
        kind = str(action.get("type", "")).strip()
        label = str(action.get("label", "") or "").strip()
        value_field = ACTION_FIELDS.get(kind)
        if value_field is None:
            errors[f"areas.{n}.action"] = _("Choose what a tap does: open a link, send a message or a postback.")
            clean.append({"bounds": box, "action": {"type": kind}})
            continue
        text = str(action.get(value_field, "") or "").strip()
        if len(label) > MAX_LABEL:
            errors[f"areas.{n}.label"] = _("At most %(n)d characters.") % {"n": MAX_LABEL}
        if not text:
            errors[f"areas.{n}.value"] = _("Say what the tap opens or sends.")
        elif kind == "uri" and not text.startswith(("https://", "http://", "tel:", "line://")):
            errors[f"areas.{n}.value"] = _("A link starting with https://, http://, tel: or line://.")
        elif kind == "uri" and len(text) > 1000:
            errors[f"areas.{n}.value"] = _("At most %(n)d characters.") % {"n": 1000}
        elif kind == "message" and len(text) > MAX_MESSAGE_TEXT:
            errors[f"areas.{n}.value"] = _("At most %(n)d characters.") % {"n": MAX_MESSAGE_TEXT}
        elif kind == "postback" and len(text) > MAX_POSTBACK_DATA:
            errors[f"areas.{n}.value"] = _("At most %(n)d characters.") % {"n": MAX_POSTBACK_DATA}
        cleaned_action: dict[str, Any] = {"type": kind, value_field: text}
        if label:
            cleaned_action["label"] = label
        clean.append({"bounds": box, "action": cleaned_action})
    return clean, errors


def line_object(*, name: str, chat_bar_text: str, height: int, areas: list[dict[str, Any]],
                selected: bool = False) -> dict[str, Any]:
    """The rich menu object LINE's create call takes."""
    return {"size": {"width": WIDTH, "height": height}, "selected": selected, "name": name[:MAX_NAME],
            "chatBarText": chat_bar_text, "areas": areas}


@dataclass(frozen=True)
class MenuChoice:
    menu_id: int
    priority: int
    members: frozenset[int]  # contact ids in the menu's segment


def desired_menus(friends: Mapping[str, int], menus: Sequence[MenuChoice]) -> dict[str, int]:
    """For each friend (LINE user id → contact id), the menu they should have: the segment menu of the highest
    priority whose segment they are in (ties go to the older menu). Friends in no menu's segment are left out:
    they see the default menu."""
    ordered = sorted(menus, key=lambda m: (-m.priority, m.menu_id))
    wanted: dict[str, int] = {}
    for user_id, contact_id in friends.items():
        for menu in ordered:
            if contact_id in menu.members:
                wanted[user_id] = menu.menu_id
                break
    return wanted


@dataclass(frozen=True)
class Changes:
    link: dict[int, list[str]]  # menu id → users to link to it
    unlink: list[str]


def changes(*, friends: Iterable[str], wanted: Mapping[str, int], linked: Mapping[str, int]) -> Changes:
    """What to ask LINE for so each friend has the menu ``wanted`` says, given what is ``linked`` now. Only
    ``friends`` are touched: a blocked user keeps whatever LINE has until they come back."""
    link: dict[int, list[str]] = {}
    unlink: list[str] = []
    for user_id in sorted(friends):
        want, have = wanted.get(user_id), linked.get(user_id)
        if want is not None and want != have:
            link.setdefault(want, []).append(user_id)
        elif want is None and have is not None:
            unlink.append(user_id)
    return Changes(link=link, unlink=unlink)


def groups[T](items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
