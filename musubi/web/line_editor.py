"""The editor of a LINE template's (or keyword rule's) messages: a list the owner adds to, removes from and
reorders, each message a text, an image or a buttons card.

The messages travel as form fields ``m-<i>-<name>`` (and ``m-<i>-a-<j>-<name>`` for a card's buttons). A
button named ``op`` (``add:text``, ``remove:2``, ``up:1`` …) changes the list and shows the editor again
without saving; htmx swaps only the editor, and without JavaScript the whole page comes back the same. A
picture chosen in the editor is stored the moment the form is sent (it must be, to be shown again), and from
then on travels as its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _

from musubi.kernel.errors import InvalidInput
from musubi.messaging import line_images, line_messages
from musubi.messaging.line_messages import ActionKind, Kind
from musubi.messaging.models import LineImage
from musubi.workspaces.models import Workspace

MESSAGE_FIELDS = ("text", "image", "alt_text", "title")
ACTION_FIELDS = ("kind", "label", "uri", "text", "data", "display_text")
ACTION_ROWS = line_messages.ACTIONS_MAX


@dataclass
class Editor:
    """The messages being edited, the problems found (keyed as the messaging services name them) and
    whether the owner asked for a change of the list rather than a save."""

    messages: list[dict[str, Any]]
    errors: dict[str, str] = field(default_factory=dict)
    changed_list: bool = False
    prefix: str = "line_messages"

    def items(self, workspace: Workspace) -> list[dict[str, Any]]:
        """What the editor's template shows: each message with its fields, its problems and its picture."""
        pictures = {str(i.key): i for i in LineImage.objects.for_workspace(workspace).filter(
            key__in=[k for k in line_messages.image_keys(self.messages) if _is_uuid(k)])}
        shown = []
        for n, message in enumerate(self.messages):
            mine = f"{self.prefix}.{n}."
            errors = {key.removeprefix(mine): why for key, why in self.errors.items() if key.startswith(mine)}
            actions = list(message.get("actions") or [])
            actions += [{"kind": ActionKind.URI.value}] * (ACTION_ROWS - len(actions))
            picture = pictures.get(str(message.get("image") or ""))
            shown.append({
                "n": n, "number": n + 1, "kind": message.get("kind", Kind.TEXT),
                "kind_label": Kind(message.get("kind", Kind.TEXT)).label,
                **{name: message.get(name, "") for name in MESSAGE_FIELDS},
                "picture": picture, "picture_url": reverse("line_image", args=[picture.key]) if picture else "",
                "errors": {k: v for k, v in errors.items() if not k.startswith("actions.")},
                "actions_error": errors.get("actions", ""),
                "actions": [{"m": m, "number": m + 1, **{name: a.get(name, "") for name in ACTION_FIELDS},
                             "errors": {k.removeprefix(f"actions.{m}."): v for k, v in errors.items()
                                        if k.startswith(f"actions.{m}.")}}
                            for m, a in enumerate(actions[:ACTION_ROWS])],
                "first": n == 0, "last": n == len(self.messages) - 1})
        return shown

    @property
    def list_error(self) -> str:
        return self.errors.get(self.prefix, "")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def from_stored(messages: list[dict[str, Any]], *, prefix: str = "line_messages") -> Editor:
    return Editor(messages=[dict(m) for m in messages] or [{"kind": Kind.TEXT.value, "text": ""}], prefix=prefix)


def from_post(post: QueryDict, files: MultiValueDict[str, Any], *, workspace: Workspace,
              prefix: str = "line_messages") -> Editor:
    """The messages as sent, with any picture chosen stored, and the list change asked for applied."""
    try:
        count = min(int(post.get("m-count", "0")), 20)
    except ValueError:
        count = 0
    editor = Editor(messages=[], prefix=prefix)
    for n in range(count):
        message: dict[str, Any] = {"kind": post.get(f"m-{n}-kind", Kind.TEXT)}
        for name in MESSAGE_FIELDS:
            message[name] = post.get(f"m-{n}-{name}", "")
        if post.get(f"m-{n}-remove_image"):
            message["image"] = ""
        upload = files.get(f"m-{n}-image_file")
        if upload is not None:
            try:
                # One byte past the limit is enough to refuse a picture that is too large, without reading it all.
                data = upload.read(line_images.UPLOAD_MAX_BYTES + 1)
                picture = line_images.store(workspace=workspace, data=data, name=upload.name or "",
                                            field=f"{editor.prefix}.{n}.image")
            except InvalidInput as exc:
                editor.errors.update(exc.fields)
            else:
                message["image"] = str(picture.key)
        if message["kind"] == Kind.BUTTONS:
            rows = [{name: post.get(f"m-{n}-a-{m}-{name}", "").strip() for name in ACTION_FIELDS}
                    for m in range(ACTION_ROWS)]
            # Rows left empty are dropped here, so the problems the service names by position fall on the
            # rows as shown again.
            message["actions"] = [r for r in rows if any(v for k, v in r.items() if k != "kind")]
        editor.messages.append(message)
    op, _sep, argument = post.get("op", "").partition(":")
    if op:
        editor.changed_list = True
        _apply(editor, op, argument)
    return editor


def _apply(editor: Editor, op: str, argument: str) -> None:
    messages = editor.messages
    if op == "add" and argument in Kind.values:
        if len(messages) >= line_messages.MAX_MESSAGES:
            editor.errors[editor.prefix] = _("LINE sends at most five messages at once.")
            return
        messages.append({"kind": argument})
        return
    n = int(argument) if argument.isdigit() else -1
    if not 0 <= n < len(messages):
        return
    if op == "remove":
        messages.pop(n)
    elif op == "up" and n > 0:
        messages[n - 1], messages[n] = messages[n], messages[n - 1]
    elif op == "down" and n < len(messages) - 1:
        messages[n + 1], messages[n] = messages[n], messages[n + 1]
    # Problems found before a reorder would point at the wrong message.
    editor.errors = {k: v for k, v in editor.errors.items() if k == editor.prefix}
