"""A segment's definition, exactly as the API takes it and as a saved segment stores it.

A definition combines conditions with ``all`` (and) or ``any`` (or); a condition may be a group of conditions
with its own ``all`` / ``any``, one level deep. Errors name the path of the wrong part as the client wrote it
(``conditions.2.days``): the condition's ``type`` — the tag pydantic puts into error locations of a
discriminated union — is left out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

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
from musubi.contacts.rules import field_key_problem
from musubi.kernel.errors import InvalidInput

MAX_CONDITIONS = 50  # in the whole definition, groups and the conditions inside them counted
MAX_DAYS = 3650
CONDITION_TYPES = ("tag", "field", "stage", "source", "consent", "event", "group")

Text = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")]
Days = Annotated[int, Strict(), Field(ge=1, le=MAX_DAYS, description="A number of days, 1–3650.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagCondition(_Strict):
    """The contact has (or has not) the tag of this name."""

    type: Literal["tag"]
    op: TagOp
    tag: Text


class FieldCondition(_Strict):
    """A custom field or survey answer, by its key. ``equals`` and ``contains`` test text and single-choice
    answers (``contains`` is case-sensitive); ``includes`` tests a multiple-choice answer (a list of the chosen
    values); ``is_set`` means answered: not missing, null, empty text or an empty list."""

    type: Literal["field"]
    key: Annotated[str, Field(min_length=1, max_length=64)]
    op: FieldOp
    value: Text | None = Field(default=None, description="Required for equals, contains and includes.")

    @model_validator(mode="after")
    def _value_fits_op(self) -> FieldCondition:
        if problem := field_key_problem(self.key):
            raise _error("key", problem)
        takes_value = self.op in (FieldOp.EQUALS, FieldOp.CONTAINS, FieldOp.INCLUDES)
        if takes_value and self.value is None:
            raise _error("value", _("Enter the value to compare with."))
        if not takes_value and self.value is not None:
            raise _error("value", _("“Is answered” and “is not answered” take no value."))
        return self


class StageCondition(_Strict):
    type: Literal["stage"]
    op: IsOp
    stage: Stage


class SourceCondition(_Strict):
    """The contact's first or last source (where they came from) is, or is not, this source."""

    type: Literal["source"]
    which: SourceSide
    op: IsOp = IsOp.IS
    source_id: Annotated[int, Strict(), Field(ge=1, le=2**63 - 1)]


class ConsentCondition(_Strict):
    """Whether advertising may go to one of the contact's addresses on the channel now: its latest consent
    record grants it and the address is not suppressed (``services.marketing_allowed``)."""

    type: Literal["consent"]
    channel: Channel
    op: ConsentOp = ConsentOp.MAY_RECEIVE


class EventCondition(_Strict):
    """A fact of this kind about the contact (or a record merged into it) happened within the last ``days``
    days, did not, ever, or never."""

    type: Literal["event"]
    kind: EventKind
    op: EventOp
    days: Days | None = Field(default=None, description="Required for within and not_within.")

    @model_validator(mode="after")
    def _days_fit_op(self) -> EventCondition:
        timed = self.op in (EventOp.WITHIN, EventOp.NOT_WITHIN)
        if timed and self.days is None:
            raise _error("days", _("Enter a number of days, 1–3650."))
        if not timed and self.days is not None:
            raise _error("days", _("“Ever” and “never” take no number of days."))
        return self


Leaf = Annotated[TagCondition | FieldCondition | StageCondition | SourceCondition | ConsentCondition
                 | EventCondition, Field(discriminator="type")]


class GroupCondition(_Strict):
    """Conditions combined on their own, e.g. “clicked within 30 days OR redeemed a coupon” inside an AND."""

    type: Literal["group"]
    match: Match
    conditions: list[Leaf] = Field(min_length=1, max_length=MAX_CONDITIONS)


Condition = Annotated[TagCondition | FieldCondition | StageCondition | SourceCondition | ConsentCondition
                      | EventCondition | GroupCondition, Field(discriminator="type")]


class Definition(_Strict):
    """Who belongs to a segment. With no conditions, every contact does."""

    match: Match = Match.ALL
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)

    @model_validator(mode="wrap")
    @classmethod
    def _paths_as_written(cls, data: Any, handler: Any) -> Self:
        try:
            definition: Self = handler(data)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(cls.__name__, [_as_written(e) for e in exc.errors()]) from None
        if definition.size() > MAX_CONDITIONS:
            message = _("A segment has at most %(n)s conditions, groups included.") % {"n": MAX_CONDITIONS}
            raise ValidationError.from_exception_data(cls.__name__, [InitErrorDetails(
                type=PydanticCustomError("segment", "{message}", {"message": message}), loc=("conditions",),
                input=data)])
        return definition

    def size(self) -> int:
        return sum(1 + (len(c.conditions) if isinstance(c, GroupCondition) else 0) for c in self.conditions)


def _error(field: str, message: str) -> PydanticCustomError:
    """A problem of one field, raised from a model validator; ``_as_written`` moves it onto that field."""
    return PydanticCustomError("segment", "{message}", {"message": message, "field": field})


def _as_written(error: Any) -> InitErrorDetails:
    """An error located by the path the client wrote: without union tags, with the field a model validator
    named, and with a clear word for an unknown condition or a group inside a group."""
    raw = list(error["loc"])
    loc = [part for i, part in enumerate(raw)
           if not (i > 0 and isinstance(raw[i - 1], int) and part in CONDITION_TYPES and isinstance(part, str))]
    ctx = error.get("ctx") or {}
    if error["type"] == "segment":
        return InitErrorDetails(type=PydanticCustomError("segment", "{message}", {"message": ctx["message"]}),
                                loc=(*loc, ctx["field"]), input=error["input"])
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = error["input"].get("type") if isinstance(error["input"], dict) else None
        if tag == "group" and len(loc) > 2:
            message = _("Groups go one level deep: a group cannot hold another group.")
        else:
            message = _("Unknown condition; use one of: %(types)s.") % {"types": ", ".join(CONDITION_TYPES)}
        return InitErrorDetails(type=PydanticCustomError("segment", "{message}", {"message": message}),
                                loc=(*loc, "type"), input=error["input"])
    return InitErrorDetails(type=error["type"], loc=tuple(loc), input=error["input"], ctx=ctx)


def explain(error: Any) -> str:
    """A schema error in the reader's language for the common kinds; pydantic's own text otherwise."""
    ctx = error.get("ctx", {})
    kinds = {
        "segment": lambda: error["msg"],
        "missing": lambda: _("This is required."),
        "extra_forbidden": lambda: _("Unknown field."),
        "enum": lambda: _("Choose one of: %(values)s.") % {"values": ctx.get("expected", "")},
        "literal_error": lambda: _("Choose one of: %(values)s.") % {"values": ctx.get("expected", "")},
        "greater_than_equal": lambda: _("Must be %(n)s or more.") % {"n": ctx.get("ge")},
        "less_than_equal": lambda: _("Must be %(n)s or less.") % {"n": ctx.get("le")},
        "int_type": lambda: _("Enter a whole number."),
        "string_type": lambda: _("Enter text."),
        "string_too_short": lambda: _("Enter a value."),
        "string_too_long": lambda: _("Use at most %(n)s characters.") % {"n": ctx.get("max_length")},
        "string_pattern_mismatch": lambda: _("Enter a value."),
        "too_short": lambda: _("A group needs at least one condition."),
        "too_long": lambda: _("At most %(n)s conditions.") % {"n": ctx.get("max_length")},
        "list_type": lambda: _("Give a list of conditions."),
        "model_type": lambda: _("Give an object."),
        "model_attributes_type": lambda: _("Give an object."),
    }
    make = kinds.get(error.get("type", ""))
    return str(make()) if make else str(error.get("msg", ""))


def parse_definition(data: Any) -> Definition:
    """Validate a definition; every problem becomes a field of one ``InvalidInput``, named by its path."""
    try:
        return Definition.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            fields.setdefault(".".join(str(p) for p in err["loc"]) or "definition", explain(err))
        raise InvalidInput(_("The segment's conditions are not valid."), fields=fields) from exc


def stored(definition: Definition) -> dict[str, Any]:
    """The definition as saved: JSON, without the options it leaves out."""
    return definition.model_dump(mode="json", exclude_none=True)
