"""The segment builder's form: rows of conditions, each a handful of selects, read into a definition and
written back from one; and a segment described in words.

The builder edits the top level of a definition (``all`` or ``any`` of conditions). A definition with groups,
which the API can make, is shown in words and changed through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from musubi.contacts.choices import (
    Channel,
    ConsentOp,
    EventKind,
    EventOp,
    FieldOp,
    IsOp,
    Match,
    SourceSide,
    Stage,
    TagOp,
)

MAX_ROWS = 20
# Each type's inputs besides its type, and the op it starts with.
INPUTS = {"tag": ("op", "tag"), "field": ("key", "op", "value"), "stage": ("op", "stage"),
          "source": ("which", "op", "source_id"), "consent": ("channel", "op"), "event": ("kind", "op", "days")}
OPS: dict[str, Any] = {"tag": TagOp, "field": FieldOp, "stage": IsOp, "source": IsOp, "consent": ConsentOp,
                       "event": EventOp}


def type_choices() -> list[tuple[str, str]]:
    labels = {"tag": _("Tag"), "field": _("Answer or custom field"), "stage": _("Stage"), "source": _("Source"),
              "consent": _("May receive marketing"), "event": _("Something they did")}
    return list(labels.items())


@dataclass
class Row:
    """One condition as the builder shows it: its type, its values as typed, and what is wrong with them."""

    type: str = "tag"
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def condition(self) -> dict[str, Any]:
        """The condition for the definition; empty inputs are left out so the rules name what is missing."""
        condition: dict[str, Any] = {"type": self.type}
        for name in INPUTS.get(self.type, ()):
            value = self.values.get(name, "").strip()
            if name == "value" and self.values.get("op") in (FieldOp.IS_SET, FieldOp.IS_NOT_SET):
                continue
            if name == "days" and self.values.get("op") in (EventOp.EVER, EventOp.NEVER):
                continue
            if value:
                condition[name] = _number(value) if name in ("days", "source_id") else value
        return condition


def _number(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value  # the rules say it is not a number


@dataclass
class Builder:
    name: str = ""
    match: str = Match.ALL
    rows: list[Row] = field(default_factory=list)
    name_error: str = ""
    errors: list[str] = field(default_factory=list)

    def definition(self) -> dict[str, Any]:
        return {"match": self.match, "conditions": [row.condition() for row in self.rows]}

    def show_errors(self, fields: dict[str, str]) -> None:
        """Put each problem (named by its path, ``conditions.2.days``) on the row it belongs to."""
        for path, why in fields.items():
            parts = path.split(".")
            if path == "name":
                self.name_error = why
            elif len(parts) >= 2 and parts[0] == "conditions" and parts[1].isdigit() and int(parts[1]) < len(self.rows):
                self.rows[int(parts[1])].errors.append(why)
            else:
                self.errors.append(why)


def read(data: Any) -> Builder:
    """The builder as the form was sent, after its button (add a row, remove one, change a type) was applied."""
    builder = Builder(name=data.get("name", "")[:200], match=data.get("match", Match.ALL))
    try:
        count = min(int(data.get("rows", 0)), MAX_ROWS)
    except ValueError:
        count = 0
    for i in range(count):
        kind = data.get(f"c{i}-type", "tag")
        kind = kind if kind in INPUTS else "tag"
        values = {name: data.get(f"c{i}-{name}", "")[:200] for name in INPUTS[kind]}
        if data.get(f"c{i}-was") != kind:  # the type was just changed: start its inputs afresh
            values = {}
        builder.rows.append(Row(type=kind, values=values))
    action = data.get("action", "")
    if action == "add" and len(builder.rows) < MAX_ROWS:
        builder.rows.append(Row())
    elif action.startswith("remove-") and action[7:].isdigit() and int(action[7:]) < len(builder.rows):
        del builder.rows[int(action[7:])]
    for row in builder.rows:
        row.values.setdefault("op", OPS[row.type].values[0])
        if row.type == "event":
            row.values.setdefault("days", "30")
    return builder


def from_definition(name: str, definition: dict[str, Any]) -> Builder:
    rows = [Row(type=c["type"], values={k: str(v) for k, v in c.items() if k != "type"})
            for c in definition.get("conditions", [])]
    return Builder(name=name, match=definition.get("match", Match.ALL), rows=rows)


def has_groups(definition: dict[str, Any]) -> bool:
    return any(c.get("type") == "group" for c in definition.get("conditions", []))


def describe(definition: dict[str, Any], *, sources: dict[int, str], labels: dict[str, str] | None = None) -> str:
    """The segment in words, e.g. “タグ「VIP」がある かつ 30日以内に「リンクをクリックした」”; ``labels`` name
    survey answers by their question instead of their key."""
    if not definition.get("conditions"):
        return _("Everyone")
    joiner = _(" and ") if definition.get("match", Match.ALL) == Match.ALL else _(" or ")
    return joiner.join(_condition_words(c, sources, labels or {}) for c in definition["conditions"])


def _condition_words(c: dict[str, Any], sources: dict[int, str], labels: dict[str, str]) -> str:
    match c["type"]:
        case "group":
            return "（" + describe(c, sources=sources, labels=labels) + "）"
        case "tag":
            return (_("has the tag “%(tag)s”") if c["op"] == TagOp.HAS else _("does not have the tag “%(tag)s”")) % c
        case "field":
            answers = {FieldOp.EQUALS: _("“%(key)s” is “%(value)s”"),
                       FieldOp.CONTAINS: _("“%(key)s” contains “%(value)s”"),
                       FieldOp.INCLUDES: _("“%(key)s” includes the choice “%(value)s”"),
                       FieldOp.IS_SET: _("“%(key)s” is answered"), FieldOp.IS_NOT_SET: _("“%(key)s” is not answered")}
            return answers[FieldOp(c["op"])] % {"key": labels.get(c["key"], c["key"]), "value": c.get("value", "")}
        case "stage":
            stage = _("Stage is “%(stage)s”") if c["op"] == IsOp.IS else _("Stage is not “%(stage)s”")
            return stage % {"stage": Stage(c["stage"]).label}
        case "source":
            name = sources.get(c["source_id"], f"#{c['source_id']}")
            is_ = c.get("op", IsOp.IS) == IsOp.IS
            return (_("%(side)s is “%(name)s”") if is_ else _("%(side)s is not “%(name)s”")) % {
                "side": SourceSide(c["which"]).label, "name": name}
        case "consent":
            may = c.get("op", ConsentOp.MAY_RECEIVE) == ConsentOp.MAY_RECEIVE
            return (_("may receive marketing by %(channel)s now") if may
                    else _("may not receive marketing by %(channel)s now")) % {"channel": Channel(c["channel"]).label}
        case "event":
            kind = EventKind(c["kind"]).label
            words = {EventOp.WITHIN: _("“%(kind)s” within the last %(days)s days"),
                     EventOp.NOT_WITHIN: _("not “%(kind)s” within the last %(days)s days"),
                     EventOp.EVER: _("“%(kind)s” at least once"), EventOp.NEVER: _("never “%(kind)s”")}
            return words[EventOp(c["op"])] % {"kind": kind, "days": c.get("days")}
    return str(c)
