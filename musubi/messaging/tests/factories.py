"""Messaging objects as the tests need them, made through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from musubi.contacts import services as contacts
from musubi.contacts.models import Contact
from musubi.messaging import authoring
from musubi.messaging.choices import MessageChannel, Timing, Trigger
from musubi.workspaces.choices import Role
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor

OWNER = Actor(role=Role.OWNER)


def sender(workspace: Workspace, **changes: str) -> Any:
    values = {"from_name": "けんこう堂", "from_address": "news@kenko.example.jp", "reply_to": "help@kenko.example.jp",
              "legal_name": "株式会社けんこう堂", "postal_address": "東京都千代田区丸の内1-1-1",
              "contact_info": "03-1234-5678"}
    values.update(changes)
    return authoring.save_sender_profile(workspace=workspace, actor=OWNER, values=values)


def email_template(workspace: Workspace, **changes: Any) -> Any:
    values: dict[str, Any] = {
        "name": "お試しセットのお礼", "channel": MessageChannel.EMAIL, "subject": "{{ name }}様、ありがとうございます",
        "html": "<p>{{ name }}様</p><p>詳しくは<a href=\"https://kenko.example.jp/guide?x=1&amp;y=2\">こちら</a></p>"}
    values.update(changes)
    return authoring.create_template(workspace=workspace, actor=OWNER, data=authoring.TemplateInput(**values))


def line_template(workspace: Workspace, texts: list[str] | None = None, **changes: Any) -> Any:
    values: dict[str, Any] = {"name": "雨の日", "channel": MessageChannel.LINE,
                              "line_texts": texts or ["☔ 雨の日は生ビール半額！今夜だけ"]}
    values.update(changes)
    return authoring.create_template(workspace=workspace, actor=OWNER, data=authoring.TemplateInput(**values))


def person(workspace: Workspace, email: str = "", *, name: str = "山田花子", line: str = "",
           consent: bool = True) -> Contact:
    contact, _created = contacts.find_or_create_contact(
        workspace=workspace, addresses=contacts.normalise(email=email or None, line_user_id=line or None), name=name)
    for channel, address in (("email", email.lower()), ("line", line)):
        if address and consent:
            contacts.record_consent(workspace=workspace, contact=contact, channel=channel, address=address,
                                    wording="test consent")
    return contact


def sequence(workspace: Workspace, *, steps: list[dict[str, Any]], **changes: Any) -> Any:
    values: dict[str, Any] = {"name": "お試し後のフォロー", "trigger": Trigger.API, "active": True,
                              "quiet_start": dt.time(0, 0), "quiet_end": dt.time(0, 0)}
    values.update(changes)
    made = authoring.create_sequence(workspace=workspace, actor=OWNER, data=authoring.SequenceInput(**values))
    for step in steps:
        authoring.add_step(workspace=workspace, actor=OWNER, sequence_id=made.pk,
                           data=authoring.StepInput(**{"timing": Timing.AFTER, **step}))
    return made
