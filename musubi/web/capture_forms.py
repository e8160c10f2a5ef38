from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.capture.choices import SourceKind
from musubi.web.forms import ServiceErrorsMixin


class SourceForm(ServiceErrorsMixin):
    kind = forms.ChoiceField(label=_("Kind"), choices=SourceKind.choices)
    name = forms.CharField(label=_("Name"), max_length=200,
                           help_text=_("e.g. “テーブル12番” or “〇〇マガジン 号外 11月号”"))


class LinkForm(ServiceErrorsMixin):
    source_id = forms.TypedChoiceField(label=_("Source"), coerce=int)
    target_url = forms.CharField(label=_("Where the link leads"), max_length=2000,
                                 help_text=_("The opt-in page, LINE friend-add page or shop page, starting with "
                                             "https://"))

    def __init__(self, *args: Any, sources: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source_id"].choices = sources  # type: ignore[attr-defined]


class CostForm(ServiceErrorsMixin):
    source_id = forms.TypedChoiceField(label=_("Source"), coerce=int)
    amount = forms.IntegerField(label=_("Amount (yen)"), min_value=0, max_value=10**12)
    spent_on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), max_length=200, required=False,
                           help_text=_("e.g. “チラシ印刷 500枚” or “号外広告 11月号”"))

    def __init__(self, *args: Any, sources: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source_id"].choices = sources  # type: ignore[attr-defined]
