"""The public opt-in form, built from a capture point's version.

The form only gathers and shows: every rule (what is required, what an email is, which choices exist,
the consent box) is checked once, in ``points.submit``, so the hosted page, the embedded form and the API
refuse the same things with the same words.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from musubi.capture.choices import FieldKind
from musubi.capture.models import CapturePoint, CapturePointVersion

HONEYPOT = "website"  # a field people never see; bots that fill every input give themselves away


class OptInForm(forms.Form):
    def __init__(self, *args: Any, point: CapturePoint, version: CapturePointVersion, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.point, self.version = point, version
        if version.ask_name:
            self.fields["name"] = forms.CharField(label=pgettext_lazy("opt-in form", "Name"), required=False,
                                                  max_length=200,
                                                  widget=forms.TextInput(attrs={"autocomplete": "name"}))
        if version.ask_email:
            self.fields["email"] = forms.CharField(label=_("Email address"), required=False, max_length=254,
                                                   widget=forms.EmailInput(attrs={"autocomplete": "email",
                                                                                  "inputmode": "email"}))
        if version.ask_phone:
            self.fields["phone"] = forms.CharField(label=_("Phone number"), required=False, max_length=40,
                                                   widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel",
                                                                                 "inputmode": "tel"}))
        for question in version.questions:
            self.fields[question["key"]] = _question_field(question)
        self.fields["consent"] = forms.BooleanField(label=version.consent_text, required=False, initial=False)
        self.fields[HONEYPOT] = forms.CharField(required=False, label=_("Leave this empty"),
                                                widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}))
        self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput, required=False,
                                                    initial=version.number)

    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT))

    def required_keys(self) -> set[str]:
        keys = {k for k, asked in (("name", self.version.ask_name), ("email", self.version.ask_email),
                                   ("phone", self.version.ask_phone)) if asked}
        keys |= {q["key"] for q in self.version.questions if q["required"]}
        if self.point.consent_required:
            keys.add("consent")
        return keys

    def answers(self) -> dict[str, Any]:
        """The raw answers to the questions (lists for several choices), checked later by the service."""
        raw: dict[str, Any] = {}
        for question in self.version.questions:
            key = question["key"]
            raw[key] = (self.data.getlist(key) if question["kind"] == FieldKind.MULTIPLE  # type: ignore[attr-defined]
                        else self.data.get(key, ""))
        return raw


def _question_field(question: dict[str, Any]) -> forms.Field:
    label, kind = question["label"], question["kind"]
    choices = [(o, o) for o in question["options"]]
    if kind == FieldKind.SINGLE:
        return forms.ChoiceField(label=label, required=False, choices=choices, widget=forms.RadioSelect)
    if kind == FieldKind.MULTIPLE:
        return forms.MultipleChoiceField(label=label, required=False, choices=choices,
                                         widget=forms.CheckboxSelectMultiple)
    if kind == FieldKind.LONG_TEXT:
        return forms.CharField(label=label, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    return forms.CharField(label=label, required=False)
