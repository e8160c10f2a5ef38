"""Forms of the owner's messaging pages: the sender, templates, sequences and their steps, broadcasts.

Each form only parses what was typed; the messaging services check it and name what is wrong, and
``add_service_error`` puts each problem on the field the owner typed it in.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.kernel.errors import MusubiError
from musubi.messaging.authoring import BroadcastInput, SequenceInput, StepInput, TemplateInput
from musubi.messaging.choices import MessageChannel, Reentry, Timing, Trigger
from musubi.messaging.models import Broadcast, SenderProfile, Sequence, Step, Template
from musubi.web.forms import ServiceErrorsMixin

NONE = [("", "—")]


class AliasedErrorsMixin(ServiceErrorsMixin):
    """A service names a field by its own name (``delay_minutes``); the form may ask for it differently."""

    aliases: dict[str, str] = {}

    def add_service_error(self, error: MusubiError) -> None:
        fields = {self.aliases.get(name, name): why for name, why in error.fields.items()}
        super().add_service_error(type(error)(error.message, fields=fields))


class SenderForm(ServiceErrorsMixin):
    from_name = forms.CharField(label=_("Sender name"), max_length=100, required=False,
                                help_text=_("What people see as who the mail is from, e.g. “けんこう堂”."))
    from_address = forms.EmailField(label=_("Sender address"), required=False)
    reply_to = forms.EmailField(label=_("Reply-to address"), required=False,
                                help_text=_("Where replies go; empty: to the sender address."))
    legal_name = forms.CharField(label=_("Sender's legal name"), max_length=200, required=False,
                                 help_text=_("The company or person responsible for sending, "
                                             "e.g. “株式会社けんこう堂”."))
    postal_address = forms.CharField(label=_("Postal address"), max_length=300, required=False)
    contact_info = forms.CharField(label=_("Contact point"), max_length=300, required=False,
                                   help_text=_("A telephone number, email address or page where people can reach "
                                               "you."))

    FIELDS = ("from_name", "from_address", "reply_to", "legal_name", "postal_address", "contact_info")

    @classmethod
    def initial_for(cls, profile: SenderProfile) -> dict[str, str]:
        return {name: getattr(profile, name) for name in cls.FIELDS}


class TemplateForm(AliasedErrorsMixin):
    """An email (subject, HTML, text) or a LINE template's name; its messages are edited by
    ``web.line_editor``, beside the form."""

    name = forms.CharField(label=_("Name (only you see it)"), max_length=200)
    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    html = forms.CharField(label=_("Body (HTML)"), required=False, widget=forms.Textarea(attrs={"rows": 12}),
                           help_text=_("Links become tracked links; the sender details and the unsubscribe link "
                                       "are added at the bottom by the system."))
    text = forms.CharField(label=_("Plain-text body (optional)"), required=False,
                           widget=forms.Textarea(attrs={"rows": 8}),
                           help_text=_("Empty: made from the HTML."))

    def __init__(self, *args: Any, channel: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel == MessageChannel.LINE:
            for name in ("subject", "html", "text"):
                del self.fields[name]

    def data_input(self, line_messages: list[dict[str, Any]] | None = None) -> TemplateInput:
        data = self.cleaned_data
        if self.channel == MessageChannel.LINE:
            return TemplateInput(name=data["name"], channel=self.channel, line_messages=line_messages or [])
        return TemplateInput(name=data["name"], channel=self.channel, subject=data["subject"], html=data["html"],
                             text=data["text"])

    @staticmethod
    def initial_for(template: Template) -> dict[str, Any]:
        return {"name": template.name, "subject": template.subject, "html": template.html, "text": template.text}


class PreviewForm(forms.Form):
    contact = forms.TypedChoiceField(label=_("Preview for"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, contacts: list[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["contact"].choices = [("", _("A sample person")), *contacts]  # type: ignore[attr-defined]


class TestSendForm(ServiceErrorsMixin):
    to = forms.EmailField(label=_("Send a test to"), help_text=_("One address; the mail is marked as a test and "
                                                                 "nothing is recorded."))


def _shown_when(form: forms.Form, control: str, fields_for: dict[str, list[str]]) -> None:
    """Mark fields that matter only for one choice of ``control``; the page shows them only while it is made
    (musubi.js). Without scripts every field stays visible and the server ignores the ones not chosen."""
    for value, names in fields_for.items():
        for name in names:
            form.fields[name].widget.attrs["data-shown-when"] = f"{control}:{value}"


def _time_field(label: Any, **kwargs: Any) -> forms.TimeField:
    return forms.TimeField(label=label, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), **kwargs)


class SequenceForm(AliasedErrorsMixin):
    name = forms.CharField(label=_("Name"), max_length=200)
    trigger = forms.ChoiceField(label=_("Starts when a person…"), choices=Trigger.choices)
    trigger_point = forms.TypedChoiceField(label=_("Only this opt-in form"), coerce=int, required=False,
                                           empty_value=None, help_text=_("Empty: any form."))
    trigger_line = forms.TypedChoiceField(label=_("Only this LINE account"), coerce=int, required=False,
                                          empty_value=None, help_text=_("Empty: any account."))
    trigger_tag = forms.CharField(label=_("The tag that starts it"), max_length=100, required=False)
    goal_tag = forms.CharField(label=_("Goal: ends when the person has this tag"), max_length=100, required=False)
    goal_event = forms.CharField(label=_("Goal: ends when this happens"), max_length=64, required=False,
                                 help_text=_("A kind of event, e.g. order.paid."))
    reentry = forms.ChoiceField(label=_("Entering again"), choices=Reentry.choices)
    quiet_start = _time_field(_("Quiet hours from"), initial=dt.time(21, 0))
    quiet_end = _time_field(_("until"), initial=dt.time(8, 0))
    active = forms.BooleanField(label=_("Active (people enter and steps are sent)"), required=False)

    def __init__(self, *args: Any, points: list[tuple[int, str]], lines: list[tuple[int, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["trigger_point"].choices = NONE + points  # type: ignore[attr-defined]
        self.fields["trigger_line"].choices = NONE + lines  # type: ignore[attr-defined]
        _shown_when(self, "trigger", {Trigger.OPTIN: ["trigger_point"], Trigger.LINE_FOLLOW: ["trigger_line"],
                                      Trigger.TAG_ADDED: ["trigger_tag"]})

    @property
    def aliases(self) -> dict[str, str]:  # type: ignore[override]
        trigger = self.cleaned_data.get("trigger") if hasattr(self, "cleaned_data") else ""
        return {"trigger_ref": "trigger_line" if trigger == Trigger.LINE_FOLLOW else "trigger_point"}

    def data_input(self) -> SequenceInput:
        data = self.cleaned_data
        ref = {Trigger.OPTIN: data["trigger_point"], Trigger.LINE_FOLLOW: data["trigger_line"]}.get(data["trigger"])
        return SequenceInput(name=data["name"], trigger=data["trigger"], trigger_ref=ref,
                             trigger_tag=data["trigger_tag"] if data["trigger"] == Trigger.TAG_ADDED else "",
                             goal_tag=data["goal_tag"], goal_event=data["goal_event"], reentry=data["reentry"],
                             quiet_start=data["quiet_start"], quiet_end=data["quiet_end"], active=data["active"])

    @staticmethod
    def initial_for(sequence: Sequence) -> dict[str, Any]:
        return {"name": sequence.name, "trigger": sequence.trigger,
                "trigger_point": sequence.trigger_ref if sequence.trigger == Trigger.OPTIN else None,
                "trigger_line": sequence.trigger_ref if sequence.trigger == Trigger.LINE_FOLLOW else None,
                "trigger_tag": sequence.trigger_tag, "goal_tag": sequence.goal_tag, "goal_event": sequence.goal_event,
                "reentry": sequence.reentry, "quiet_start": sequence.quiet_start, "quiet_end": sequence.quiet_end,
                "active": sequence.active}


DELAY_UNITS = {"minutes": 1, "hours": 60, "days": 60 * 24}


class StepForm(AliasedErrorsMixin):
    aliases = {"template_id": "template", "delay_minutes": "delay", "line_channel_id": "line_channel",
               "only_if_segment_id": "only_if_segment", "only_if_clicked_id": "only_if_clicked"}

    template = forms.TypedChoiceField(label=_("Message"), coerce=int)
    line_channel = forms.TypedChoiceField(label=_("LINE account (LINE messages)"), coerce=int, required=False,
                                          empty_value=None, help_text=_("Empty: the newest connected account."))
    timing = forms.ChoiceField(label=_("When"), choices=Timing.choices, widget=forms.RadioSelect,
                               initial=Timing.AFTER)
    delay = forms.IntegerField(label=_("After the previous step (or entering)"), min_value=0, initial=0,
                               required=False)
    delay_unit = forms.ChoiceField(label=_("Unit"), choices=[("minutes", _("minutes")), ("hours", _("hours")),
                                                             ("days", _("days"))], initial="days")
    day = forms.IntegerField(label=_("Day"), min_value=0, max_value=366, initial=0, required=False,
                             help_text=_("Day 0 is the day the person entered."))
    at_time = _time_field(_("At"), required=False)
    only_if_tag = forms.CharField(label=_("Only if the person has the tag"), max_length=100, required=False)
    skip_if_tag = forms.CharField(label=_("Skip if the person has the tag"), max_length=100, required=False)
    only_if_segment = forms.TypedChoiceField(label=_("Only if the person is in the segment"), coerce=int,
                                             required=False, empty_value=None)
    only_if_clicked = forms.TypedChoiceField(label=_("Only if the person clicked a link in"), coerce=int,
                                             required=False, empty_value=None)

    def __init__(self, *args: Any, templates: list[tuple[int, str]], lines: list[tuple[int, str]],
                 segments: list[tuple[int, str]], earlier: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = NONE + templates  # type: ignore[attr-defined]
        self.fields["line_channel"].choices = NONE + lines  # type: ignore[attr-defined]
        self.fields["only_if_segment"].choices = NONE + segments  # type: ignore[attr-defined]
        self.fields["only_if_clicked"].choices = NONE + earlier  # type: ignore[attr-defined]
        _shown_when(self, "timing", {Timing.AFTER: ["delay", "delay_unit"], Timing.DAY_AT: ["day", "at_time"]})

    def data_input(self) -> StepInput:
        data = self.cleaned_data
        minutes = (data["delay"] or 0) * DELAY_UNITS.get(data["delay_unit"], 1)
        return StepInput(template_id=data["template"], timing=data["timing"], delay_minutes=minutes,
                         day=data["day"] or 0, at_time=data["at_time"], line_channel_id=data["line_channel"],
                         only_if_tag=data["only_if_tag"], skip_if_tag=data["skip_if_tag"],
                         only_if_segment_id=data["only_if_segment"], only_if_clicked_id=data["only_if_clicked"])

    @staticmethod
    def initial_for(step: Step) -> dict[str, Any]:
        unit = next(u for u in ("days", "hours", "minutes") if step.delay_minutes % DELAY_UNITS[u] == 0)
        return {"template": step.template_id, "line_channel": step.line_channel_id, "timing": step.timing,
                "delay": step.delay_minutes // DELAY_UNITS[unit], "delay_unit": unit, "day": step.day,
                "at_time": step.at_time, "only_if_tag": step.only_if_tag, "skip_if_tag": step.skip_if_tag,
                "only_if_segment": step.only_if_segment_id, "only_if_clicked": step.only_if_clicked_id}


class BroadcastForm(AliasedErrorsMixin):
    aliases = {"template_id": "template", "segment_id": "segment", "line_channel_id": "line_channel"}

    name = forms.CharField(label=_("Name (only you see it)"), max_length=200)
    template = forms.TypedChoiceField(label=_("Message"), coerce=int)
    segment = forms.TypedChoiceField(label=_("To"), coerce=int, required=False, empty_value=None,
                                     help_text=_("Only people who may receive marketing on the channel get it."))
    line_channel = forms.TypedChoiceField(label=_("LINE account (LINE messages)"), coerce=int, required=False,
                                          empty_value=None)
    scheduled_at = forms.DateTimeField(
        label=_("Send at (optional)"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("In the workspace's time zone. Empty: you send it yourself."))

    def __init__(self, *args: Any, templates: list[tuple[int, str]], segments: list[tuple[int, str]],
                 lines: list[tuple[int, str]], timezone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.fields["template"].choices = NONE + templates  # type: ignore[attr-defined]
        self.fields["segment"].choices = [("", _("Everyone")), *segments]  # type: ignore[attr-defined]
        self.fields["line_channel"].choices = NONE + lines  # type: ignore[attr-defined]

    def data_input(self) -> BroadcastInput:
        data = self.cleaned_data
        at = data["scheduled_at"]
        if at is not None:  # typed as a wall-clock time of the workspace, whatever the server's zone
            at = at.replace(tzinfo=None).replace(tzinfo=self.zone).astimezone(dt.UTC)
        return BroadcastInput(name=data["name"], template_id=data["template"], segment_id=data["segment"],
                              line_channel_id=data["line_channel"], scheduled_at=at)

    @staticmethod
    def initial_for(broadcast: Broadcast, timezone: str) -> dict[str, Any]:
        at = broadcast.scheduled_at
        return {"name": broadcast.name, "template": broadcast.template_id, "segment": broadcast.segment_id,
                "line_channel": broadcast.line_channel_id,
                "scheduled_at": at.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None) if at else None}


class EnrollForm(ServiceErrorsMixin):
    address = forms.CharField(label=_("Email address or LINE user ID"), max_length=254)


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False,
                                choices=[("", _("All channels")), *MessageChannel.choices])

    def __init__(self, *args: Any, states: list[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("All states")), *states]  # type: ignore[attr-defined]
