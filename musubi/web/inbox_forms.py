"""Forms of the inbox and of LINE keyword rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.messaging.choices import KeywordMatch, MessageChannel
from musubi.web.forms import ServiceErrorsMixin


class AnswerForm(ServiceErrorsMixin):
    channel = forms.ChoiceField(label=_("Answer by"), choices=MessageChannel.choices)
    subject = forms.CharField(label=_("Subject (email)"), max_length=300, required=False)
    text = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 4}), max_length=50_000)


class AutoReplyForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Name"), max_length=200)
    keywords = forms.CharField(label=_("Keywords"), help_text=_("One per line. 「予約」 matches 予約 and ＹＯＹＡＫＵ "
                                                                "alike: width and case are ignored."),
                               widget=forms.Textarea(attrs={"rows": 3}))
    match = forms.ChoiceField(label=_("Match"), choices=KeywordMatch.choices)
    texts = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 4}),
                            help_text=_("Separate up to five speech bubbles with a line holding only ---. "
                                        "{{ name }} is the friend's name."))
    tag = forms.CharField(label=_("Tag whoever matches"), max_length=100, required=False)
    line_channel_id = forms.TypedChoiceField(label=_("LINE account"), coerce=int, empty_value=None, required=False)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, channels: list[tuple[int, str]], with_texts: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line_channel_id"].choices = [("", _("Every account")), *channels]  # type: ignore[attr-defined]
        if not with_texts:  # the answer is edited as LINE messages (web.line_editor)
            del self.fields["texts"]

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {"name": data["name"], "keywords": data["keywords"].splitlines(), "match": data["match"],
                  "tag": data["tag"], "line_channel_id": data["line_channel_id"], "active": data["active"]}
        if "texts" in self.fields:
            values["texts"] = [part.strip() for part in data["texts"].replace("\r\n", "\n").split("\n---\n")]
        return values
