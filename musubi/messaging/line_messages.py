"""What a LINE template or keyword rule says: up to five messages, each a text, an image or a buttons card.

Stored as plain dictionaries (``kind`` and its fields, snake_case), checked here against LINE's documented
limits with every problem named on its field, and rendered per recipient into the JSON LINE takes
(``integrations.line_objects`` makes the SDK's objects from it for push, multicast and reply):

- ``{"kind": "text", "text": …}`` — up to 5,000 characters, personalised.
- ``{"kind": "image", "image": <key>, "alt_text": …}`` — an uploaded JPEG or PNG served from
  ``/li/<key>`` (``messaging.line_images``); the alt text is what the inbox and the preview say.
- ``{"kind": "buttons", "alt_text", "image", "title", "text", "actions": [...]}`` — LINE's buttons template:
  optional picture and title, a text, one to four actions, each ``uri`` (a link, sent as our tracked link so
  a tap counts as a click does in mail), ``message`` (the friend sends a text) or ``postback`` (data the
  webhook receives and the inbox records). The alt text is what a phone's notification shows.

Personalisation (the sandbox of ``messaging.rendering``) applies to the texts people read: text, title, the
card's text and its alt text. Error keys are ``<field>.<n>.<name>`` and ``<field>.<n>.actions.<m>.<name>``
(counted from 0), so a form can put each message next to its input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from musubi.kernel.errors import InvalidInput
from musubi.messaging import rendering

# LINE's limits (Messaging API reference: message objects, buttons template, actions).
MAX_MESSAGES = 5
TEXT_MAX = 5000
ALT_TEXT_MAX = 400
TITLE_MAX = 40
BUTTONS_TEXT_MAX = 160  # with neither a picture nor a title
BUTTONS_TEXT_WITH_HEADER_MAX = 60  # with a picture or a title
ACTIONS_MAX = 4
LABEL_MAX = 20
URI_MAX = 1000
ACTION_TEXT_MAX = 300  # a message action's text, a postback's data and its display text
URI_SCHEMES = ("https://", "http://", "tel:", "line://")


class Kind(models.TextChoices):
    TEXT = "text", gettext_lazy("Text")
    IMAGE = "image", gettext_lazy("Image")
    BUTTONS = "buttons", gettext_lazy("Buttons")


class ActionKind(models.TextChoices):
    URI = "uri", gettext_lazy("Open a link")
    MESSAGE = "message", gettext_lazy("Send a message")
    POSTBACK = "postback", gettext_lazy("Postback")


def from_texts(texts: Iterable[str]) -> list[dict[str, Any]]:
    """Text-only messages, as templates held them before there were other kinds."""
    return [{"kind": Kind.TEXT.value, "text": t} for t in texts]


def texts_of(messages: Iterable[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages if m.get("kind") == Kind.TEXT]


def image_keys(messages: Iterable[dict[str, Any]]) -> set[str]:
    return {str(m["image"]) for m in messages if m.get("image")}


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _label(n: int) -> str:
    return _("Message %(n)s") % {"n": n + 1}


class _Problems:
    def __init__(self, field: str) -> None:
        self.field = field
        self.found: dict[str, str] = {}

    def add(self, key: str, message: str) -> None:
        self.found.setdefault(f"{self.field}.{key}" if key else self.field, message)

    def too_long(self, key: str, n: int, what: str, limit: int) -> None:
        self.add(key, _("%(message)s: the %(what)s has at most %(limit)s characters.") % {
            "message": _label(n), "what": what, "limit": f"{limit:,}"})

    def template(self, key: str, source: str) -> None:
        try:
            rendering.check(source, field=key)
        except InvalidInput as exc:
            for why in exc.fields.values():
                self.add(key, why)


def clean(raw: Any, *, field: str, known_images: set[str]) -> list[dict[str, Any]]:
    """The messages as stored, from what a form or the API sent; raises ``InvalidInput`` naming every
    problem. ``known_images`` are the keys of the workspace's uploaded pictures."""
    problems = _Problems(field)
    if not isinstance(raw, list):
        raw = []
    items = [m for m in raw if isinstance(m, dict) and not _is_blank(m)]
    if not items:
        problems.add("", _("Add at least one LINE message."))
    elif len(items) > MAX_MESSAGES:
        problems.add("", _("LINE sends at most five messages at once."))
    cleaned = [_clean_one(item, n, problems, known_images) for n, item in enumerate(items[:MAX_MESSAGES])]
    if problems.found:
        raise InvalidInput(_("Some fields need attention."), fields=problems.found)
    return cleaned


def _is_blank(item: dict[str, Any]) -> bool:
    """A text message left empty in the editor is not a message."""
    return item.get("kind", Kind.TEXT) == Kind.TEXT and not _str(item.get("text"))


def _clean_one(item: dict[str, Any], n: int, problems: _Problems, known_images: set[str]) -> dict[str, Any]:
    kind = item.get("kind", Kind.TEXT)
    if kind == Kind.TEXT:
        text = _str(item.get("text"))
        if len(text) > TEXT_MAX:
            problems.too_long(f"{n}.text", n, _("text"), TEXT_MAX)
        problems.template(f"{n}.text", text)
        return {"kind": Kind.TEXT.value, "text": text}
    if kind == Kind.IMAGE:
        image, alt_text = _str(item.get("image")), _str(item.get("alt_text"))
        if not image:
            problems.add(f"{n}.image", _("%(message)s: choose a JPEG or PNG picture.") % {"message": _label(n)})
        elif image not in known_images:
            problems.add(f"{n}.image", _("%(message)s: no such picture in this workspace.") % {"message": _label(n)})
        if len(alt_text) > ALT_TEXT_MAX:
            problems.too_long(f"{n}.alt_text", n, _("alternative text"), ALT_TEXT_MAX)
        return {"kind": Kind.IMAGE.value, "image": image, "alt_text": alt_text}
    if kind == Kind.BUTTONS:
        return _clean_buttons(item, n, problems, known_images)
    problems.add(f"{n}.kind", _("%(message)s: choose text, image or buttons.") % {"message": _label(n)})
    return {"kind": Kind.TEXT.value, "text": ""}


def _clean_buttons(item: dict[str, Any], n: int, problems: _Problems, known_images: set[str]) -> dict[str, Any]:
    image, title, text, alt_text = (_str(item.get(k)) for k in ("image", "title", "text", "alt_text"))
    if image and image not in known_images:
        problems.add(f"{n}.image", _("%(message)s: no such picture in this workspace.") % {"message": _label(n)})
    if not alt_text:
        problems.add(f"{n}.alt_text", _("%(message)s: write the alternative text a phone's notification shows.")
                     % {"message": _label(n)})
    elif len(alt_text) > ALT_TEXT_MAX:
        problems.too_long(f"{n}.alt_text", n, _("alternative text"), ALT_TEXT_MAX)
    if len(title) > TITLE_MAX:
        problems.too_long(f"{n}.title", n, _("title"), TITLE_MAX)
    limit = BUTTONS_TEXT_WITH_HEADER_MAX if image or title else BUTTONS_TEXT_MAX
    if not text:
        problems.add(f"{n}.text", _("%(message)s: write the text of the card.") % {"message": _label(n)})
    elif len(text) > limit:
        problems.too_long(f"{n}.text", n, _("text (with a picture or a title)") if limit < BUTTONS_TEXT_MAX
                          else _("text"), limit)
    for key, source in (("alt_text", alt_text), ("title", title), ("text", text)):
        problems.template(f"{n}.{key}", source)
    raw_actions = item.get("actions")
    actions = [a for a in raw_actions if isinstance(a, dict) and any(_str(v) for k, v in a.items() if k != "kind")
               ] if isinstance(raw_actions, list) else []
    if not actions:
        problems.add(f"{n}.actions", _("%(message)s: add at least one button.") % {"message": _label(n)})
    elif len(actions) > ACTIONS_MAX:
        problems.add(f"{n}.actions", _("%(message)s: at most four buttons.") % {"message": _label(n)})
    cleaned = [_clean_action(a, n, m, problems) for m, a in enumerate(actions[:ACTIONS_MAX])]
    return {"kind": Kind.BUTTONS.value, "alt_text": alt_text, "image": image, "title": title, "text": text,
            "actions": cleaned}


def _clean_action(action: dict[str, Any], n: int, m: int, problems: _Problems) -> dict[str, Any]:
    key = f"{n}.actions.{m}"
    which = _("%(message)s, button %(m)s") % {"message": _label(n), "m": m + 1}
    kind, label = action.get("kind", ActionKind.URI), _str(action.get("label"))
    if not label:
        problems.add(f"{key}.label", _("%(button)s: write the button's label.") % {"button": which})
    elif len(label) > LABEL_MAX:
        problems.add(f"{key}.label", _("%(button)s: a label has at most %(limit)s characters.") % {
            "button": which, "limit": LABEL_MAX})
    if kind == ActionKind.URI:
        uri = _str(action.get("uri"))
        if not uri.startswith(URI_SCHEMES) or len(uri) > URI_MAX or any(c.isspace() for c in uri):
            problems.add(f"{key}.uri", _("%(button)s: an address starting with https://, http://, tel: or line:// "
                                         "of at most 1,000 characters.") % {"button": which})
        return {"kind": ActionKind.URI.value, "label": label, "uri": uri}
    if kind == ActionKind.MESSAGE:
        text = _str(action.get("text"))
        if not text or len(text) > ACTION_TEXT_MAX:
            problems.add(f"{key}.text", _("%(button)s: the message the friend sends, at most 300 characters.")
                         % {"button": which})
        return {"kind": ActionKind.MESSAGE.value, "label": label, "text": text}
    if kind == ActionKind.POSTBACK:
        data, display = _str(action.get("data")), _str(action.get("display_text"))
        if not data or len(data) > ACTION_TEXT_MAX:
            problems.add(f"{key}.data", _("%(button)s: the data your webhook receives, at most 300 characters.")
                         % {"button": which})
        if len(display) > ACTION_TEXT_MAX:
            problems.add(f"{key}.display_text", _("%(button)s: the text shown in the chat has at most 300 "
                                                  "characters.") % {"button": which})
        return {"kind": ActionKind.POSTBACK.value, "label": label, "data": data, "display_text": display}
    problems.add(f"{key}.kind", _("%(button)s: choose what the button does.") % {"button": which})
    return {"kind": ActionKind.URI.value, "label": label, "uri": ""}


def is_personal(messages: Iterable[dict[str, Any]]) -> bool:
    """Whether any text depends on the recipient (then the message can not go by multicast)."""
    return any(rendering.is_personal(m.get(k) or "") for m in messages for k in ("text", "title", "alt_text"))


def summary(rendered: Iterable[dict[str, Any]], stored: Iterable[dict[str, Any]] = ()) -> str:
    """What the inbox shows of rendered LINE JSON: the texts, and a word for a picture (with its description
    from the ``stored`` messages: rendering never leaves a picture out, so the n-th ones match) or a card."""
    descriptions = iter([m.get("alt_text", "") for m in stored if m.get("kind") == Kind.IMAGE])
    parts = []
    for m in rendered:
        if m.get("type") == "text":
            parts.append(m.get("text", ""))
        elif m.get("type") == "image":
            parts.append(_("[Image] %(alt)s") % {"alt": next(descriptions, "")})
        else:
            parts.append(_("[Buttons] %(alt)s") % {"alt": m.get("altText", "")})
    return "\n\n".join(p.strip() for p in parts if p.strip())


# --- rendering ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Links:
    """How a rendered message points outside itself: a picture's two addresses, and a link as sent (tracked
    when the message goes to one known delivery)."""

    image: Callable[[str], str]
    preview: Callable[[str], str]
    track: Callable[[str], str] | None = None


@dataclass(frozen=True)
class CompiledMessage:
    message: dict[str, Any]
    sources: dict[str, Any]  # field name → compiled sandbox template

    def render(self, ctx: dict[str, Any], links: Links) -> dict[str, Any] | None:
        """LINE's JSON for this message and this person, or None when nothing is left to send."""
        out = {name: template.render(ctx).strip() for name, template in self.sources.items()}
        kind = self.message["kind"]
        if kind == Kind.TEXT:
            text = out["text"]
            if links.track is not None:
                text = rendering.rewrite_text_links(text, links.track)
            return {"type": "text", "text": text[:TEXT_MAX]} if text else None
        if kind == Kind.IMAGE:
            key = self.message["image"]
            return {"type": "image", "originalContentUrl": links.image(key), "previewImageUrl": links.preview(key)}
        image, title = self.message.get("image", ""), out.get("title", "")[:TITLE_MAX]
        limit = BUTTONS_TEXT_WITH_HEADER_MAX if image or title else BUTTONS_TEXT_MAX
        # A name filled in can make a text longer than LINE takes: it is cut rather than refused by LINE.
        template: dict[str, Any] = {"type": "buttons", "text": out["text"][:limit] or "…",
                                    "actions": [_action(a, links) for a in self.message["actions"]]}
        if image:
            template["thumbnailImageUrl"] = links.image(image)
        if title:
            template["title"] = title
        return {"type": "template", "altText": (out["alt_text"] or out["text"])[:ALT_TEXT_MAX] or "…",
                "template": template}


def _action(action: dict[str, Any], links: Links) -> dict[str, Any]:
    if action["kind"] == ActionKind.URI:
        uri = action["uri"]
        if links.track is not None and uri.startswith(("https://", "http://")):
            uri = links.track(uri)
        return {"type": "uri", "label": action["label"], "uri": uri}
    if action["kind"] == ActionKind.MESSAGE:
        return {"type": "message", "label": action["label"], "text": action["text"]}
    out = {"type": "postback", "label": action["label"], "data": action["data"]}
    if action.get("display_text"):
        out["displayText"] = action["display_text"]
    return out


def compile_messages(messages: Iterable[dict[str, Any] | str]) -> tuple[CompiledMessage, ...]:
    """Each message's texts parsed once, to be rendered per recipient. A bare string is a text message."""
    compiled = []
    for message in messages:
        if isinstance(message, str):
            message = {"kind": Kind.TEXT.value, "text": message}
        names = {Kind.TEXT: ("text",), Kind.IMAGE: (), Kind.BUTTONS: ("alt_text", "title", "text")}[message["kind"]]
        compiled.append(CompiledMessage(message, {name: rendering.plain_template(message.get(name) or "")
                                                  for name in names}))
    return tuple(compiled)
