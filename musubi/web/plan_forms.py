"""The plan page's form: one field per input of the plan, named by the input's path (``backs.0.take_rate``),
so the planner's errors, which name paths, land on the right field."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext as _

from musubi.web.forms import PercentField, ServiceErrorsMixin

AMOUNT: dict[str, Any] = {"min_value": 0, "max_value": 10**12}


def label_for(path: str, inputs: dict[str, Any]) -> str:
    """An input's name in words: ``backs.0.take_rate`` → 「定期便」の引き上げ率."""
    fixed = {
        "front.price": _("Front-end price"), "front.unit_cost": _("Front-end unit cost"),
        "front.premium_cost": _("Premium cost"), "acquisition.ad_cost": _("Ad cost per customer"),
        "acquisition.affiliate_rate": _("Affiliate commission rate"),
        "acquisition.affiliate_fixed": _("Affiliate fixed fee"),
        "target_profit_per_customer": _("Target profit per customer"),
        "monthly_profit_target": _("Monthly profit target"), "lead_conversion": _("Lead-to-customer conversion"),
    }
    if path in fixed:
        return str(fixed[path])
    parts = path.split(".")
    if parts[0] == "backs" and len(parts) == 3:
        name = inputs["backs"][int(parts[1])]["name"]
        what = {"price": _("price"), "unit_cost": _("unit cost"), "take_rate": _("take rate"),
                "retention": _("retention"), "cycles": _("deliveries")}.get(parts[2], parts[2])
        return _("“%(name)s” %(what)s") % {"name": name, "what": what}
    return path


def _get(inputs: dict[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else node.get(part)
        if node is None:
            return None
    return node


def _set(inputs: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = inputs
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


class PlanForm(ServiceErrorsMixin):
    name = forms.CharField(max_length=200)

    def __init__(self, *args: Any, plan_name: str, inputs: dict[str, Any], **kwargs: Any) -> None:
        self.inputs = inputs
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Plan name")
        self.fields["name"].initial = plan_name
        self.groups: list[tuple[str, list[str]]] = []
        self._group(_("Front-end"), [("front.price", "amount"), ("front.unit_cost", "amount"),
                                     ("front.premium_cost", "amount")])
        self._group(_("Acquisition"), [("acquisition.ad_cost", "amount"), ("acquisition.affiliate_rate", "rate"),
                                       ("acquisition.affiliate_fixed", "amount")])
        for index, back in enumerate(inputs.get("backs", [])):
            fields = [(f"backs.{index}.price", "amount"), (f"backs.{index}.unit_cost", "amount"),
                      (f"backs.{index}.take_rate", "rate")]
            if back.get("recurring"):
                fields += [(f"backs.{index}.retention", "rate"), (f"backs.{index}.cycles", "cycles")]
            self._group(_("Back-end: %(name)s") % {"name": back["name"]}, fields)
        self._group(_("Targets"), [("target_profit_per_customer", "amount"), ("monthly_profit_target", "amount"),
                                   ("lead_conversion", "rate")])
        self._simulation_fields()

    def _group(self, title: str, fields: list[tuple[str, str]]) -> None:
        for path, kind in fields:
            initial = _get(self.inputs, path)
            label = label_for(path, self.inputs)
            if kind == "amount":
                field: forms.Field = forms.IntegerField(label=label, initial=initial, **AMOUNT)
            elif kind == "cycles":
                field = forms.IntegerField(label=label, initial=initial, required=False, min_value=1,
                                           help_text=_("Empty: until cancelled."))
            else:
                field = PercentField(label=f"{label} (%)", initial=initial)
            self.fields[path] = field
        self.groups.append((title, [path for path, _kind in fields]))

    def range_paths(self) -> list[str]:
        paths = ["acquisition.ad_cost"]
        for index, back in enumerate(self.inputs.get("backs", [])):
            paths.append(f"backs.{index}.take_rate")
            if back.get("recurring"):
                paths.append(f"backs.{index}.retention")
        return paths

    def _simulation_fields(self) -> None:
        uncertainty = self.inputs.get("uncertainty") or {}
        ranges = uncertainty.get("ranges", {})
        self.fields["uncertainty.draws"] = forms.IntegerField(
            label=_("Draws"), min_value=1, max_value=20_000, required=False, initial=uncertainty.get("draws", 2000))
        self.fields["uncertainty.seed"] = forms.IntegerField(
            label=_("Seed"), min_value=0, required=False, initial=uncertainty.get("seed", 1),
            help_text=_("The same seed gives the same result."))
        paths = []
        for path in self.range_paths():
            low, high = ranges.get(path, (None, None))
            label = label_for(path, self.inputs)
            is_rate = not path.endswith(("ad_cost", "price", "unit_cost"))
            make = PercentField if is_rate else forms.DecimalField
            unit = " (%)" if is_rate else ""
            extra: dict[str, Any] = {} if is_rate else {"min_value": 0}
            self.fields[f"uncertainty.ranges.{path}"] = make(
                label=_("%(input)s from") % {"input": label} + unit, required=False, initial=low, **extra)
            self.fields[f"uncertainty.ranges.{path}.high"] = make(
                label=_("to") + unit, required=False, initial=high, **extra)
            paths.append(path)
        self.range_rows = [(f"uncertainty.ranges.{p}", f"uncertainty.ranges.{p}.high") for p in paths]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for low_name, high_name in getattr(self, "range_rows", []):
            if (data.get(low_name) is None) != (data.get(high_name) is None):
                self.add_error(low_name, _("Give both ends of the range, or neither."))
        return data

    def new_inputs(self) -> dict[str, Any]:
        """The plan's inputs with this form's values laid over them."""
        inputs = copy.deepcopy(self.inputs)
        data = self.cleaned_data
        for _title, paths in self.groups:
            for path in paths:
                _set(inputs, path, _plain(data[path]))
        ranges = {}
        for low_name, high_name in self.range_rows:
            low, high = data.get(low_name), data.get(high_name)
            if low is not None and high is not None:
                ranges[low_name.removeprefix("uncertainty.ranges.")] = [_plain(low), _plain(high)]
        if ranges:
            inputs["uncertainty"] = {"draws": data.get("uncertainty.draws") or 2000,
                                     "seed": data.get("uncertainty.seed") or 0, "ranges": ranges}
        else:
            inputs["uncertainty"] = None
        return inputs
