"""LINE's message JSON (as ``messaging.line_messages`` renders it) → the official SDK's message objects, in
one place for push, multicast and reply. A bare string is a text message (how requests queued before there
were other kinds saved them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linebot.v3.messaging import Action, Message


def sdk_messages(messages: Sequence[dict[str, Any] | str]) -> list[Message]:
    from linebot.v3.messaging import ButtonsTemplate, ImageMessage, TemplateMessage, TextMessage

    built: list[Message] = []
    for message in messages[:5]:
        if isinstance(message, str):
            built.append(TextMessage(text=message))
        elif message["type"] == "text":
            built.append(TextMessage(text=message["text"]))
        elif message["type"] == "image":
            built.append(ImageMessage(originalContentUrl=message["originalContentUrl"],
                                      previewImageUrl=message["previewImageUrl"]))
        elif message["type"] == "template" and message["template"]["type"] == "buttons":
            template = message["template"]
            built.append(TemplateMessage(altText=message["altText"], template=ButtonsTemplate(
                thumbnailImageUrl=template.get("thumbnailImageUrl"), title=template.get("title"),
                text=template["text"], actions=[_action(a) for a in template["actions"]])))
        else:
            raise ValueError(f"not a LINE message this installation sends: {message.get('type')!r}")
    return built


def _action(action: dict[str, Any]) -> Action:
    from linebot.v3.messaging import MessageAction, PostbackAction, URIAction

    if action["type"] == "uri":
        return URIAction(label=action["label"], uri=action["uri"])
    if action["type"] == "message":
        return MessageAction(label=action["label"], text=action["text"])
    return PostbackAction(label=action["label"], data=action["data"], displayText=action.get("displayText"))
