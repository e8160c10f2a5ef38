"""Writing what messaging sends: the sender profile, templates, sequences with their steps, broadcasts.

Every function checks the whole input first and names each bad field; nothing is written when anything is
wrong. Each change is audited and needs the MANAGE right (starting a broadcast run needs it too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from musubi.capture.models import LineChannel
from musubi.catalog.models import Offer
from musubi.contacts.models import Segment
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput, NotFound
from musubi.messaging import line_images, line_messages, rendering
from musubi.messaging.choices import MessageChannel, Reentry, Timing, Trigger
from musubi.messaging.models import Broadcast, Enrollment, SenderProfile, Sequence, Step, Template
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


def _raise(fields: dict[str, str]) -> None:
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)


# --- the sender --------------------------------------------------------------------------------------------

def sender_profile(workspace: Workspace) -> SenderProfile:
    return SenderProfile.objects.filter(workspace=workspace).first() or SenderProfile(workspace=workspace)


@transaction.atomic
def save_sender_profile(*, workspace: Workspace, actor: Actor, values: dict[str, str]) -> SenderProfile:
    actor.require(Action.MANAGE)
    profile = sender_profile(workspace)
    errors: dict[str, str] = {}
    for name in ("from_name", "from_address", "reply_to", "legal_name", "postal_address", "contact_info"):
        if name in values:
            setattr(profile, name, str(values[name] or "").strip())
    for name in ("from_address", "reply_to"):
        if getattr(profile, name):
            try:
                validate_email(getattr(profile, name))
            except ValidationError:
                errors[name] = _("Enter a valid email address.")
    if "\n" in profile.from_name or len(profile.from_name) > 100:
        errors["from_name"] = _("One line of at most 100 characters.")
    _raise(errors)
    profile.save()
    record_audit(workspace=workspace, actor=actor, action="messaging.sender_saved", obj=profile)
    return profile


# --- templates ---------------------------------------------------------------------------------------------

@dataclass
class TemplateInput:
    """What a template says. A LINE template's messages are ``line_messages`` (``messaging.line_messages``);
    ``line_texts``, plain texts, is the older way of writing a text-only one."""

    name: str
    channel: str
    subject: str = ""
    html: str = ""
    text: str = ""
    line_texts: list[str] = field(default_factory=list)
    line_messages: list[dict[str, Any]] | None = None


def _check_template(data: TemplateInput, workspace: Workspace) -> list[dict[str, Any]]:
    """Every problem named; the LINE messages as they will be stored."""
    errors: dict[str, str] = {}
    cleaned: list[dict[str, Any]] = []
    if not data.name.strip():
        errors["name"] = _("Give the template a name.")
    if data.channel not in MessageChannel.values:
        errors["channel"] = _("Choose email or LINE.")
    elif data.channel == MessageChannel.EMAIL:
        if not data.subject.strip():
            errors["subject"] = _("An email needs a subject.")
        if not data.html.strip() and not data.text.strip():
            errors["html"] = _("Write the message, as HTML or as plain text.")
    else:
        raw = data.line_messages if data.line_messages is not None else line_messages.from_texts(data.line_texts)
        try:
            cleaned = line_messages.clean(raw, field="line_messages", known_images=line_images.known_keys(
                workspace, line_messages.image_keys(m for m in raw if isinstance(m, dict))))
        except InvalidInput as exc:
            # Plain texts were given as one list: their problems are named on it.
            errors.update(exc.fields if data.line_messages is not None
                          else {"line_texts": " ".join(dict.fromkeys(exc.fields.values()))})
    for name, source, is_html in (("subject", data.subject, False), ("html", data.html, True),
                                  ("text", data.text, False)):
        if name in errors or not source or data.channel != MessageChannel.EMAIL:
            continue
        try:
            rendering.check(source, field=name, html_text=is_html)
        except InvalidInput as exc:
            errors.update(exc.fields)
    _raise(errors)
    return cleaned


def _template_values(data: TemplateInput, line: list[dict[str, Any]]) -> dict[str, Any]:
    email = data.channel == MessageChannel.EMAIL
    return {"name": data.name.strip()[:200], "channel": data.channel, "subject": data.subject.strip() if email else "",
            "html": data.html if email else "", "text": data.text if email else "",
            "line_messages": [] if email else line}


@transaction.atomic
def create_template(*, workspace: Workspace, actor: Actor, data: TemplateInput) -> Template:
    actor.require(Action.MANAGE)
    line = _check_template(data, workspace)
    now = clock.now()
    template = Template.objects.create(workspace=workspace, created_at=now, updated_at=now,
                                       **_template_values(data, line))
    record_audit(workspace=workspace, actor=actor, action="messaging.template_created", obj=template)
    return template


@transaction.atomic
def update_template(*, workspace: Workspace, actor: Actor, template_id: int, data: TemplateInput) -> Template:
    actor.require(Action.MANAGE)
    template = get_template(workspace, template_id)
    if data.channel != template.channel:
        raise InvalidInput(_("Some fields need attention."),
                           fields={"channel": _("A template's channel cannot change; make a new template.")})
    line = _check_template(data, workspace)
    for name, value in _template_values(data, line).items():
        setattr(template, name, value)
    template.updated_at = clock.now()
    template.save()
    record_audit(workspace=workspace, actor=actor, action="messaging.template_changed", obj=template)
    return template


def get_template(workspace: Workspace, template_id: int) -> Template:
    found = Template.objects.for_workspace(workspace).filter(pk=template_id).first()
    if found is None:
        raise NotFound(_("No such template."))
    return found


# --- sequences ---------------------------------------------------------------------------------------------

@dataclass
class SequenceInput:
    name: str
    trigger: str
    trigger_ref: int | None = None
    trigger_tag: str = ""
    goal_tag: str = ""
    goal_event: str = ""
    reentry: str = Reentry.NEVER
    quiet_start: dt.time = dt.time(21, 0)
    quiet_end: dt.time = dt.time(8, 0)
    active: bool = False


def _check_sequence(workspace: Workspace, data: SequenceInput) -> None:
    from musubi.capture.models import CapturePoint

    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = _("Give the sequence a name.")
    if data.trigger not in Trigger.values:
        errors["trigger"] = _("Choose what starts the sequence.")
    elif data.trigger_ref is not None:
        owners = {Trigger.OPTIN: CapturePoint, Trigger.LINE_FOLLOW: LineChannel, Trigger.PURCHASE: Offer}
        model = owners.get(Trigger(data.trigger))
        if model is None or not model.objects.filter(workspace=workspace, pk=data.trigger_ref).exists():
            errors["trigger_ref"] = _("This workspace has no such form, LINE account or offer.")
    if data.trigger == Trigger.TAG_ADDED and not data.trigger_tag.strip():
        errors["trigger_tag"] = _("Name the tag that starts the sequence.")
    if data.reentry not in Reentry.values:
        errors["reentry"] = _("Choose whether people may enter again.")
    _raise(errors)


@transaction.atomic
def create_sequence(*, workspace: Workspace, actor: Actor, data: SequenceInput) -> Sequence:
    actor.require(Action.MANAGE)
    _check_sequence(workspace, data)
    sequence = Sequence.objects.create(workspace=workspace, created_at=clock.now(), **_sequence_values(data))
    record_audit(workspace=workspace, actor=actor, action="messaging.sequence_created", obj=sequence)
    return sequence


def _sequence_values(data: SequenceInput) -> dict[str, Any]:
    return {"name": data.name.strip()[:200], "trigger": data.trigger, "trigger_ref": data.trigger_ref,
            "trigger_tag": data.trigger_tag.strip()[:100], "goal_tag": data.goal_tag.strip()[:100],
            "goal_event": data.goal_event.strip()[:64], "reentry": data.reentry, "quiet_start": data.quiet_start,
            "quiet_end": data.quiet_end, "active": data.active}


@transaction.atomic
def update_sequence(*, workspace: Workspace, actor: Actor, sequence_id: int, data: SequenceInput) -> Sequence:
    """Change a sequence. Contacts already in it keep what they got: a step is never sent twice."""
    actor.require(Action.MANAGE)
    sequence = get_sequence(workspace, sequence_id)
    _check_sequence(workspace, data)
    for name, value in _sequence_values(data).items():
        setattr(sequence, name, value)
    sequence.save()
    record_audit(workspace=workspace, actor=actor, action="messaging.sequence_changed", obj=sequence)
    return sequence


def get_sequence(workspace: Workspace, sequence_id: int) -> Sequence:
    found = Sequence.objects.for_workspace(workspace).filter(pk=sequence_id).first()
    if found is None:
        raise NotFound(_("No such sequence."))
    return found


@dataclass
class StepInput:
    template_id: int
    timing: str = Timing.AFTER
    delay_minutes: int = 0
    day: int = 0
    at_time: dt.time | None = None
    line_channel_id: int | None = None
    only_if_tag: str = ""
    skip_if_tag: str = ""
    only_if_segment_id: int | None = None
    only_if_clicked_id: int | None = None


def _check_step(workspace: Workspace, sequence: Sequence, data: StepInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    template = Template.objects.for_workspace(workspace).filter(pk=data.template_id).first()
    if template is None:
        errors["template_id"] = _("This workspace has no such template.")
    if data.timing not in Timing.values:
        errors["timing"] = _("Choose when the step is sent.")
    if data.timing == Timing.DAY_AT and data.at_time is None:
        errors["at_time"] = _("Give the time of day.")
    if not 0 <= data.delay_minutes <= 60 * 24 * 366:
        errors["delay_minutes"] = _("Between 0 minutes and a year.")
    if not 0 <= data.day <= 366:
        errors["day"] = _("Between day 0 and day 366.")
    line_channel = None
    if data.line_channel_id is not None:
        line_channel = LineChannel.objects.filter(workspace=workspace, pk=data.line_channel_id).first()
        if line_channel is None:
            errors["line_channel_id"] = _("This workspace has no such LINE account.")
    segment = None
    if data.only_if_segment_id is not None:
        segment = Segment.objects.filter(workspace=workspace, pk=data.only_if_segment_id).first()
        if segment is None:
            errors["only_if_segment_id"] = _("This workspace has no such segment.")
    clicked = None
    if data.only_if_clicked_id is not None:
        clicked = Step.objects.filter(workspace=workspace, sequence=sequence, pk=data.only_if_clicked_id).first()
        if clicked is None:
            errors["only_if_clicked_id"] = _("Choose an earlier step of this sequence.")
    _raise(errors)
    return {"template": template, "timing": data.timing, "delay_minutes": data.delay_minutes, "day": data.day,
            "at_time": data.at_time, "line_channel": line_channel, "only_if_tag": data.only_if_tag.strip()[:100],
            "skip_if_tag": data.skip_if_tag.strip()[:100], "only_if_segment": segment, "only_if_clicked": clicked}


@transaction.atomic
def add_step(*, workspace: Workspace, actor: Actor, sequence_id: int, data: StepInput) -> Step:
    actor.require(Action.MANAGE)
    sequence = get_sequence(workspace, sequence_id)
    values = _check_step(workspace, sequence, data)
    position = (Step.objects.filter(sequence=sequence).aggregate(p=Max("position"))["p"] or 0) + 1
    step = Step.objects.create(workspace=workspace, sequence=sequence, position=position, **values)
    record_audit(workspace=workspace, actor=actor, action="messaging.step_added", obj=step)
    return step


@transaction.atomic
def update_step(*, workspace: Workspace, actor: Actor, step_id: int, data: StepInput) -> Step:
    """Change a step's message, timing or conditions; people who already got it do not get it again."""
    actor.require(Action.MANAGE)
    step = get_step(workspace, step_id)
    for name, value in _check_step(workspace, step.sequence, data).items():
        setattr(step, name, value)
    step.save()
    record_audit(workspace=workspace, actor=actor, action="messaging.step_changed", obj=step)
    return step


@transaction.atomic
def archive_step(*, workspace: Workspace, actor: Actor, step_id: int) -> None:
    """Remove a step from the sequence; what it sent stays in the history."""
    actor.require(Action.MANAGE)
    step = get_step(workspace, step_id)
    step.archived_at = clock.now()
    step.save(update_fields=["archived_at"])
    record_audit(workspace=workspace, actor=actor, action="messaging.step_removed", obj=step)


def get_step(workspace: Workspace, step_id: int) -> Step:
    found = Step.objects.for_workspace(workspace).filter(pk=step_id, archived_at=None).select_related(
        "sequence").first()
    if found is None:
        raise NotFound(_("No such step."))
    return found


def enrollment_counts(sequence: Sequence) -> dict[str, int]:
    from django.db.models import Count

    return dict(Enrollment.objects.filter(sequence=sequence).values_list("status").annotate(n=Count("pk")))


# --- broadcasts --------------------------------------------------------------------------------------------

@dataclass
class BroadcastInput:
    name: str
    template_id: int
    segment_id: int | None = None
    line_channel_id: int | None = None
    scheduled_at: dt.datetime | None = None


def _broadcast_values(workspace: Workspace, data: BroadcastInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = _("Give the broadcast a name.")
    template = Template.objects.for_workspace(workspace).filter(pk=data.template_id).first()
    if template is None:
        errors["template_id"] = _("This workspace has no such template.")
    segment = None
    if data.segment_id is not None:
        segment = Segment.objects.filter(workspace=workspace, pk=data.segment_id).first()
        if segment is None:
            errors["segment_id"] = _("This workspace has no such segment.")
    line_channel = None
    if data.line_channel_id is not None:
        line_channel = LineChannel.objects.filter(workspace=workspace, pk=data.line_channel_id).first()
        if line_channel is None:
            errors["line_channel_id"] = _("This workspace has no such LINE account.")
    if template is not None and template.channel == MessageChannel.LINE and line_channel is None \
            and "line_channel_id" not in errors:
        errors["line_channel_id"] = _("Choose the LINE account to send from.")
    if data.scheduled_at is not None and data.scheduled_at < clock.now() - dt.timedelta(minutes=1):
        errors["scheduled_at"] = _("Choose a time in the future.")
    _raise(errors)
    return {"name": data.name.strip()[:200], "template": template, "segment": segment,
            "line_channel": line_channel if template and template.channel == MessageChannel.LINE else None,
            "scheduled_at": data.scheduled_at}


@transaction.atomic
def create_broadcast(*, workspace: Workspace, actor: Actor, data: BroadcastInput) -> Broadcast:
    actor.require(Action.MANAGE)
    broadcast = Broadcast.objects.create(workspace=workspace, created_at=clock.now(),
                                         **_broadcast_values(workspace, data))
    record_audit(workspace=workspace, actor=actor, action="messaging.broadcast_created", obj=broadcast)
    return broadcast


@transaction.atomic
def update_broadcast(*, workspace: Workspace, actor: Actor, broadcast_id: int, data: BroadcastInput) -> Broadcast:
    actor.require(Action.MANAGE)
    broadcast = get_broadcast(workspace, broadcast_id)
    values = _broadcast_values(workspace, data)
    if values["scheduled_at"] != broadcast.scheduled_at:
        broadcast.schedule_started = False
    for name, value in values.items():
        setattr(broadcast, name, value)
    broadcast.save()
    record_audit(workspace=workspace, actor=actor, action="messaging.broadcast_changed", obj=broadcast)
    return broadcast


def get_broadcast(workspace: Workspace, broadcast_id: int) -> Broadcast:
    found = (Broadcast.objects.for_workspace(workspace).filter(pk=broadcast_id)
             .select_related("template", "segment", "line_channel", "workspace").first())
    if found is None:
        raise NotFound(_("No such broadcast."))
    return found
