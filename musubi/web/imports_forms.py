from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.contacts.choices import LegalBasis
from musubi.imports.choices import Encoding, Target
from musubi.imports.models import Import
from musubi.web.forms import ServiceErrorsMixin

ENCODINGS = [("", _("Find out from the file")), *Encoding.choices]


class UploadForm(ServiceErrorsMixin):
    file = forms.FileField(label=_("CSV file"), help_text=_(
        "The first row names the columns. UTF-8 or Shift_JIS (as Excel saves “CSV”) are both fine."))
    encoding = forms.ChoiceField(label=_("Character encoding"), choices=ENCODINGS, required=False)


class ImportSettingsForm(ServiceErrorsMixin):
    """The column mapping (a target and a field name per column), the legal basis with its evidence, tags and
    what to do with bad rows."""

    encoding = forms.ChoiceField(label=_("Character encoding"), choices=Encoding.choices, help_text=_(
        "If names in the preview look garbled, try the other encoding."))
    basis = forms.ChoiceField(label=_("Legal basis for sending them advertising"), choices=LegalBasis.choices,
                              widget=forms.RadioSelect, help_text=_(
                                  "特定電子メール法: advertising email may go only to people who agreed to it, gave "
                                  "their address in writing (a business card), are customers, or published it."))
    note = forms.CharField(label=_("Evidence"), max_length=500, help_text=_(
        "Where these addresses come from, kept with the import as evidence, e.g. “2024年 店頭アンケート用紙”."))
    tags = forms.CharField(label=_("Tags for every imported contact"), max_length=2000, required=False,
                           help_text=_("Separate tags with commas."))
    skip_invalid = forms.BooleanField(label=_("Import the good rows and skip the rest"), required=False, help_text=_(
        "Otherwise an import with any bad row writes nothing."))

    def __init__(self, *args: Any, job: Import, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        self.columns = []
        for index, header in enumerate(job.headers):
            column = job.mapping[index] if index < len(job.mapping) else {"target": Target.IGNORE, "key": ""}
            target = forms.ChoiceField(label=header or _("column %(n)d") % {"n": index + 1}, choices=Target.choices,
                                       initial=column["target"])
            key = forms.CharField(label=_("Field name"), max_length=50, required=False, initial=column["key"],
                                  widget=forms.TextInput(attrs={"placeholder": _("Field name"),
                                                                "aria-label": _("Field name")}))
            self.fields[f"target_{index}"] = target
            self.fields[f"key_{index}"] = key
            samples = [row[index] for row in job.preview if index < len(row) and row[index].strip()][:3]
            self.columns.append({"index": index, "header": header, "samples": samples})

    def bound_columns(self) -> list[dict[str, Any]]:
        return [{**c, "target": self[f"target_{c['index']}"], "key": self[f"key_{c['index']}"]} for c in self.columns]

    def mapping(self) -> list[dict[str, str]]:
        return [{"target": self.cleaned_data[f"target_{c['index']}"], "key": self.cleaned_data[f"key_{c['index']}"]}
                for c in self.columns]

    def add_service_error(self, error: Any) -> None:
        for field, why in error.fields.items():
            if field.startswith("mapping."):
                self.add_error(f"key_{field.split('.', 1)[1]}", why)
        rest = {f: w for f, w in error.fields.items() if not f.startswith("mapping.")}
        if "mapping" in rest:
            self.add_error(None, rest.pop("mapping"))
        for field, why in rest.items():
            self.add_error(field if field in self.fields else None, why)
        if not error.fields:
            self.add_error(None, error.message)
