"""The rich menu editor's form: the menu's own fields, and its areas as rows of a table (x, y, width, height,
what a tap does), read into LINE's area objects and written back from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from musubi.messaging.richmenu_rules import ACTION_FIELDS, MAX_AREAS, Height
from musubi.web.forms import ServiceErrorsMixin

AREA_INPUTS = ("x", "y", "width", "height", "type", "value", "label")
EMPTY_ROWS = 2  # blank rows offered below the areas already drawn


def action_choices() -> list[tuple[str, str]]:
    return [("uri", _("Open a link")), ("message", _("Send a message")), ("postback", _("Send a postback"))]


class RichMenuForm(ServiceErrorsMixin):
    name = forms.CharField(label=gettext_lazy("Menu name (only you see it)"), max_length=300)
    chat_bar_text = forms.CharField(label=gettext_lazy("Menu bar text"), max_length=14,
                                    help_text=gettext_lazy("Shown on the bar that opens the menu, e.g. メニュー."))
    height = forms.TypedChoiceField(label=gettext_lazy("Size"), choices=Height.choices, coerce=int,
                                    initial=Height.LARGE)
    segment = forms.TypedChoiceField(label=gettext_lazy("Who sees it"), coerce=int, required=False, empty_value=None)
    priority = forms.IntegerField(label=gettext_lazy("Priority"), initial=0, min_value=-1000, max_value=1000,
                                  help_text=gettext_lazy("For friends in several segments: the highest wins."))
    image = forms.FileField(label=gettext_lazy("Image (PNG or JPEG, at most 1 MB, exactly the size above)"),
                            required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}))

    def __init__(self, *args: Any, segments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = ("", _("Everyone else (the account's default menu)"))
        self.fields["segment"].choices = [default, *segments]  # type: ignore[attr-defined]


@dataclass
class AreaRow:
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not any(self.values.get(name, "").strip() for name in AREA_INPUTS if name != "type")

    def area(self) -> dict[str, Any]:
        kind = self.values.get("type", "")
        action: dict[str, Any] = {"type": kind, ACTION_FIELDS.get(kind, "value"): self.values.get("value", "")}
        if self.values.get("label", "").strip():
            action["label"] = self.values["label"]
        return {"bounds": {k: self.values.get(k, "") for k in ("x", "y", "width", "height")}, "action": action}


def rows_from_post(data: QueryDict) -> list[AreaRow]:
    try:
        count = min(int(data.get("rows", "0")), MAX_AREAS + EMPTY_ROWS)
    except ValueError:
        count = 0
    rows = [AreaRow({name: data.get(f"a{i}-{name}", "").strip() for name in AREA_INPUTS}) for i in range(count)]
    return [row for row in rows if not row.blank]


def rows_from_areas(areas: list[dict[str, Any]]) -> list[AreaRow]:
    rows = []
    for area in areas:
        bounds, action = area.get("bounds", {}), area.get("action", {})
        kind = str(action.get("type", ""))
        rows.append(AreaRow({**{k: str(bounds.get(k, "")) for k in ("x", "y", "width", "height")}, "type": kind,
                             "value": str(action.get(ACTION_FIELDS.get(kind, "value"), "")),
                             "label": str(action.get("label", ""))}))
    return rows


def with_blanks(rows: list[AreaRow]) -> list[AreaRow]:
    return rows + [AreaRow({"type": "uri"}) for _ in range(max(0, min(EMPTY_ROWS, MAX_AREAS - len(rows))))]


def place_errors(rows: list[AreaRow], fields: dict[str, str]) -> list[str]:
    """Put each ``areas.<n>.<input>`` error on its row; return those that belong to no row."""
    loose = []
    for key, message in fields.items():
        parts = key.split(".")
        if parts[0] == "areas" and len(parts) == 3 and parts[1].isdigit() and 0 < int(parts[1]) <= len(rows):
            rows[int(parts[1]) - 1].errors.append(message)
        elif key == "areas":
            loose.append(message)
    return loose
