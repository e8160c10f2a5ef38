"""Conversations: what contacts wrote on LINE or by mail, answers to them, and LINE keyword rules."""

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.line_message_schemas import LineMessageIO
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.contacts import queries as contact_queries
from musubi.messaging import conversations, line_messages
from musubi.messaging.choices import KeywordMatch, MessageChannel
from musubi.messaging.models import AutoReply

router = Router(tags=["inbox"])


class ConversationOut(Schema):
    contact_id: int = Field(alias="pk")
    name: str
    last_at: dt.datetime
    last_text: str
    last_channel: str
    unread: int | None = Field(description="Messages from the contact not yet read.")


class InboxMessageOut(Schema):
    id: int
    channel: str
    direction: str = Field(description="`in` from the contact, `out` to them.")
    subject: str
    text: str
    postback: bool
    at: dt.datetime
    auto_reply_id: int | None
    read_at: dt.datetime | None


class AnswerIn(Input):
    channel: MessageChannel
    text: str = Field(min_length=1, max_length=50_000)
    subject: str = Field("", max_length=300)


@router.get("/inbox", response=with_errors({200: list[ConversationOut]}),
            summary="Conversations, the latest first, with unread counts")
def list_conversations(request: ApiRequest, limit: Annotated[int, Field(ge=1, le=200)] = 50) -> Any:
    return list(conversations.conversations(request.workspace)[:limit])


@router.get("/inbox/{contact_id}", response=with_errors({200: list[InboxMessageOut]}),
            summary="A contact's conversation, oldest first (reading it marks it read)")
def get_conversation(request: ApiRequest, contact_id: ObjectId) -> Any:
    contact = contact_queries.contact(request.workspace, contact_id)
    rows = list(conversations.thread(request.workspace, contact))
    if request.actor.role in ("owner", "staff"):
        conversations.mark_read(workspace=request.workspace, contact_id=contact.pk)
    return rows


@router.post("/inbox/{contact_id}/answers", response=with_errors({202: InboxMessageOut}),
             summary="Answer a contact by LINE or mail (sent by the worker)")
def answer_contact(request: ApiRequest, contact_id: ObjectId, payload: AnswerIn) -> Any:
    return Status(202, conversations.answer(workspace=request.workspace, actor=request.actor, contact_id=contact_id,
                                            channel=payload.channel, text=payload.text, subject=payload.subject))


class AutoReplyOut(Schema):
    id: int
    name: str
    keywords: list[str]
    match: KeywordMatch
    messages: list[LineMessageIO]
    texts: list[str] = Field(description="The texts of the text messages (the older, text-only form).")
    tag: str
    line_channel_id: int | None
    active: bool

    @staticmethod
    def resolve_texts(obj: AutoReply) -> list[str]:
        return line_messages.texts_of(obj.messages)


class AutoReplyIn(Input):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    keywords: list[str] = Field(min_length=1, max_length=50)
    match: KeywordMatch = KeywordMatch.EXACT
    messages: list[LineMessageIO] | None = Field(None, max_length=10,
                                                 description="The answer: up to five texts, images or buttons cards.")
    texts: list[str] = Field(default_factory=list, max_length=5,
                             description="A text-only answer, when `messages` is not given.")
    tag: str = Field("", max_length=100)
    line_channel_id: ObjectId | None = None
    active: bool = True


@router.get("/auto-replies", response=with_errors({200: list[AutoReplyOut]}), summary="LINE keyword rules")
@paginate(Cursor, ordering=("id",))
def list_auto_replies(request: ApiRequest) -> Any:
    return AutoReply.objects.for_workspace(request.workspace)


@router.post("/auto-replies", response=with_errors({201: AutoReplyOut}), summary="Make a keyword rule")
def create_auto_reply(request: ApiRequest, payload: AutoReplyIn) -> Any:
    return Status(201, conversations.save_auto_reply(workspace=request.workspace, actor=request.actor,
                                                     **payload.model_dump(exclude_none=True)))


@router.put("/auto-replies/{auto_reply_id}", response=with_errors({200: AutoReplyOut}), summary="Change a rule")
def update_auto_reply(request: ApiRequest, auto_reply_id: ObjectId, payload: AutoReplyIn) -> Any:
    return conversations.save_auto_reply(workspace=request.workspace, actor=request.actor, rule_id=auto_reply_id,
                                         **payload.model_dump(exclude_none=True))


@router.delete("/auto-replies/{auto_reply_id}", response=with_errors({204: None}), summary="Delete a rule")
def delete_auto_reply(request: ApiRequest, auto_reply_id: ObjectId) -> Any:
    conversations.delete_auto_reply(workspace=request.workspace, actor=request.actor, rule_id=auto_reply_id)
    return Status(204, None)
