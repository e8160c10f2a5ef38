from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.kernel.errors import MusubiError
from musubi.kernel.timezones import selectable_time_zones
from musubi.workspaces.choices import Language, Role
from musubi.workspaces.models import SLUG_PATTERN

COMMON_TIMEZONES = ["Asia/Tokyo", "Asia/Seoul", "Asia/Taipei", "Asia/Singapore", "UTC", "Europe/London",
                    "Europe/Berlin", "America/New_York", "America/Los_Angeles"]


def timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The common zones first, then every other one, each in its own group and listed once."""
    rest = [tz for tz in selectable_time_zones() if tz not in COMMON_TIMEZONES]
    return [(str(_("Common")), [(tz, tz) for tz in COMMON_TIMEZONES]), (str(_("All")), [(tz, tz) for tz in rest])]


class ServiceErrorsMixin(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # Japanese forms put no colon after a label
        super().__init__(*args, **kwargs)
    def add_service_error(self, error: MusubiError) -> None:
        """Show a service's error on the fields it names, or on the form as a whole."""
        placed = False
        for field, why in error.fields.items():
            if field in self.fields:
                self.add_error(field, why)
                placed = True
        if not placed:
            self.add_error(None, error.message)


class NewWorkspaceForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Business or brand name"), max_length=200)
    slug = forms.RegexField(
        label=_("Short name for URLs"), max_length=50, regex=SLUG_PATTERN,
        help_text=_("Lower-case letters, digits and hyphens, e.g. green-kitchen."),
        error_messages={"invalid": _("Use lower-case letters (a–z), digits and hyphens only, e.g. green-kitchen.")},
    )
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices, initial="Asia/Tokyo")


class WorkspaceSettingsForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Business or brand name"), max_length=200)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices)


class AddMemberForm(ServiceErrorsMixin):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)


class ChangeRoleForm(ServiceErrorsMixin):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Key name"), max_length=100,
                           help_text=_("What the key is for, e.g. “weather trigger”."))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF,
                             help_text=_("Give a key no more than its job needs: staff keys cannot manage members "
                                         "or keys."))


class AccountForm(ServiceErrorsMixin):
    full_name = forms.CharField(label=_("Your name"), max_length=150, required=False,
                                help_text=_("Shown to your team in the audit log and in invitations."))
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)


class PercentField(forms.DecimalField):
    """A share typed and shown as a percentage (25 → 0.25), the way owners think of rates."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 100)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("widget", forms.NumberInput(attrs={"step": "any", "class": "percent"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if value in (None, ""):
            return value
        try:
            shown = Decimal(str(value)) * 100
        except ArithmeticError:
            return value
        return shown.quantize(Decimal(1)) if shown == shown.to_integral_value() else shown.normalize()

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        return None if cleaned is None else cleaned / 100
