"""How a segment's definition becomes one SQL query over the contacts — on PostgreSQL and on SQLite alike.

Every condition is a filter on the contact row: ``EXISTS`` / ``IN`` subqueries for tags, consent and facts,
and small vendor-specific expressions for custom fields, whose JSON the two databases read differently (the
JSONField ``contains`` lookup does not exist on SQLite). Nothing is evaluated in Python per contact.

Event conditions read ``Activity``, the database's own summary of the facts: one row per person and kind
with the first and last time, already under the survivor of any merge, so a condition reads one row per
person instead of every fact, and no merged record needs looking up.

How a condition is written depends on where it stands. Conditions ANDed at the top of the query become
semi-joins (``id IN (…)``) and anti-joins (``NOT EXISTS``), which PostgreSQL runs as one hash join over the
rows of a kind, however many contacts there are. Inside an OR (an ``any`` segment or group) a condition
is a correlated ``EXISTS``, looked up per contact through an index: never as fast as a hash join, but never
the quadratic plan PostgreSQL falls back to for ``NOT IN`` over a large subquery. ``count`` goes further for
the commonest segments (tags and events ANDed): set operations over ids, without the contact table.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, Subquery

from musubi.contacts.choices import Channel, ConsentOp, EventOp, FieldOp, IdentityKind, IsOp, Match, SourceSide, TagOp
from musubi.contacts.models import Activity, ConsentRecord, Contact, ContactTag, Identity, Suppression
from musubi.contacts.schemas import (
    ConsentCondition,
    Definition,
    EventCondition,
    FieldCondition,
    GroupCondition,
    SourceCondition,
    StageCondition,
    TagCondition,
)

# The identity a channel reaches a person at.
CHANNEL_IDENTITY = {Channel.EMAIL: IdentityKind.EMAIL, Channel.LINE: IdentityKind.LINE, Channel.SMS: IdentityKind.PHONE}


def members(workspace: Any, definition: Definition, *, now: dt.datetime) -> QuerySet[Contact]:
    """The contacts of ``workspace`` who meet ``definition`` at ``now``: never a record merged into another,
    never an erased person. Unordered."""
    people = Contact.objects.for_workspace(workspace).filter(merged_into__isnull=True, erased_at__isnull=True)
    where = _combine(workspace, definition.match, definition.conditions, now=now, top=True)
    return people.filter(where) if where is not None else people


def _combine(workspace: Any, match: str, conditions: list[Any], *, now: dt.datetime, top: bool) -> Q | None:
    if not conditions:
        return None
    anded = match == Match.ALL or len(conditions) == 1
    parts = [_condition(workspace, c, now=now, top=top and anded) for c in conditions]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if anded else combined | part
    return combined


def _condition(workspace: Any, condition: Any, *, now: dt.datetime, top: bool) -> Q:
    match condition:
        case GroupCondition():
            # A group is never empty (schemas.GroupCondition); were it, it would hold for everyone.
            return _combine(workspace, condition.match, condition.conditions, now=now, top=top) or Q()
        case TagCondition():
            has = Exists(ContactTag.objects.for_workspace(workspace).filter(contact=OuterRef("pk"),
                                                                          tag__name=condition.tag))
            return Q(has) if condition.op == TagOp.HAS else ~Q(has)
        case FieldCondition():
            if condition.op == FieldOp.IS_NOT_SET:
                return ~Q(FieldTest(FieldOp.IS_SET, condition.key))
            return Q(FieldTest(condition.op, condition.key, condition.value))
        case StageCondition():
            return Q(stage=condition.stage) if condition.op == IsOp.IS else ~Q(stage=condition.stage)
        case SourceCondition():
            column = "first_source_id" if condition.which == SourceSide.FIRST else "last_source_id"
            same = Q(**{column: condition.source_id})
            return same if condition.op == IsOp.IS else ~same
        case ConsentCondition():
            allowed = Exists(addresses_open_to_marketing(workspace, condition.channel))
            return Q(allowed) if condition.op == ConsentOp.MAY_RECEIVE else ~Q(allowed)
        case EventCondition():
            return _event(workspace, condition, now=now, top=top)
    raise TypeError(f"not a segment condition: {condition!r}")


def addresses_open_to_marketing(workspace: Any, channel: str) -> QuerySet[Identity]:
    """The contact's addresses on ``channel`` that may receive advertising now — what
    ``services.marketing_allowed`` answers for each address: the latest consent record for the address on the
    channel (by time, then id), among the contact's and those of records merged into it, grants it, and the
    address is not suppressed."""
    # The contact and the records merged into it, each found by an index (the primary key, merged_into); an OR
    # across the join to contacts instead made the database read every consent record of the workspace for each
    # person (minutes for a list of 100,000).
    history = Contact.objects.filter(Q(pk=OuterRef(OuterRef("contact_id"))) |
                                     Q(merged_into_id=OuterRef(OuterRef("contact_id")))).values("pk")
    latest = (ConsentRecord.objects.for_workspace(workspace)
              .filter(contact_id__in=history, channel=channel, address=OuterRef("value"))
              .order_by("-at", "-pk").values("granted")[:1])
    suppressed = Suppression.objects.for_workspace(workspace).filter(channel=channel, value=OuterRef("value"))
    return (Identity.objects.for_workspace(workspace)
            .filter(contact=OuterRef("pk"), kind=CHANNEL_IDENTITY[Channel(channel)])
            .annotate(latest_granted=Subquery(latest, output_field=BooleanField()))
            .filter(latest_granted=True).exclude(Exists(suppressed)))


def _event(workspace: Any, condition: EventCondition, *, now: dt.datetime, top: bool) -> Q:
    done = _activity(workspace, condition, now=now)
    if condition.op in (EventOp.WITHIN, EventOp.EVER):
        # At the top, a semi-join over the kind's rows; inside an OR, a lookup per contact by the primary key.
        return Q(pk__in=done.values("contact_id")) if top else Q(Exists(done.filter(contact_id=OuterRef("pk"))))
    return ~Q(Exists(done.filter(contact_id=OuterRef("pk"))))


def _activity(workspace: Any, condition: EventCondition, *, now: dt.datetime) -> QuerySet[Activity]:
    """The rows of the people who had a fact of the condition's kind (within its days, if it has them)."""
    done = Activity.objects.for_workspace(workspace).filter(kind=condition.kind)
    if condition.days is not None:
        done = done.filter(last_at__gte=now - dt.timedelta(days=condition.days))
    return done


def count(workspace: Any, definition: Definition, *, now: dt.datetime) -> int:
    """How many contacts ``members`` gives. A definition that only ANDs tags and events is counted as sets
    of ids — (tag ∩ event …) minus (the negated ones) minus the records that are never members — so the
    database reads each condition's ids from one index and never the contact table itself; anything else
    is counted through ``members``."""
    sets = _id_sets(workspace, definition, now=now)
    if sets is None:
        return members(workspace, definition, now=now).count()
    wanted, unwanted = sets
    gone = (Contact.objects.for_workspace(workspace)
            .filter(Q(merged_into__isnull=False) | Q(erased_at__isnull=False)).values("pk"))
    ids = wanted[0].intersection(*wanted[1:]) if len(wanted) > 1 else wanted[0]
    return ids.difference(*unwanted, gone).count()


def _id_sets(workspace: Any, definition: Definition, *, now: dt.datetime
             ) -> tuple[list[QuerySet[Any]], list[QuerySet[Any]]] | None:
    """The ids that must be in, and those that must not, when every condition is a tag or an event ANDed at
    the top and one of them asks for something that happened or is there; otherwise None."""
    if definition.match != Match.ALL and len(definition.conditions) > 1:
        return None
    wanted: list[QuerySet[Any]] = []
    unwanted: list[QuerySet[Any]] = []
    ids: QuerySet[Any]
    for condition in definition.conditions:
        match condition:
            case TagCondition():
                ids = (ContactTag.objects.for_workspace(workspace).filter(tag__name=condition.tag)
                       .values("contact_id"))
                (wanted if condition.op == TagOp.HAS else unwanted).append(ids)
            case EventCondition():
                ids = _activity(workspace, condition, now=now).values("contact_id")
                (wanted if condition.op in (EventOp.WITHIN, EventOp.EVER) else unwanted).append(ids)
            case _:
                return None
    return (wanted, unwanted) if wanted else None


class FieldTest(Func):
    """A test of one key of ``Contact.fields`` that reads the same on PostgreSQL and SQLite; always true or
    false, never NULL, so it may be negated.

    - ``equals`` / ``contains``: the value is a JSON string equal to / containing (case-sensitive) the text;
    - ``includes``: the value is a JSON list with the text as one of its elements;
    - ``is_set``: the key is there and its value is not null, ``""`` or ``[]``.
    """

    output_field = BooleanField()

    def __init__(self, op: str, key: str, value: str | None = None) -> None:
        super().__init__(F("fields"))
        self.op, self.key, self.value = op, key, value

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        raise NotSupportedError(f"segments read custom fields on PostgreSQL and SQLite, not {connection.vendor}")

    # The SQL below holds only the column's own SQL and fixed text; the key and the value are parameters.
    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        value = f"({column} -> %s::text)"
        kind = f"jsonb_typeof({value})"
        key = [*params, self.key]
        templates: dict[str, tuple[str, list[Any]]] = {
            FieldOp.EQUALS: (f"{kind} = 'string' AND ({column} ->> %s::text) = %s::text",
                             [*key, *key, self.value]),
            FieldOp.CONTAINS: (f"{kind} = 'string' AND strpos({column} ->> %s::text, %s::text) > 0",
                               [*key, *key, self.value]),
            FieldOp.INCLUDES: (f"{kind} = 'array' AND {value} @> jsonb_build_array(%s::text)",
                               [*key, *key, self.value]),
            FieldOp.IS_SET: (f"{value} NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb)", key),
        }
        sql, sql_params = templates[self.op]
        return f"COALESCE({sql}, false)", sql_params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)  # the key is letters, digits, _ and - (rules.field_key_problem)
        at = [*params, path]
        kind = f"json_type({column}, %s)"
        text = f"json_extract({column}, %s)"
        templates: dict[str, tuple[str, list[Any]]] = {
            FieldOp.EQUALS: (f"{kind} = 'text' AND {text} = %s", [*at, *at, self.value]),
            FieldOp.CONTAINS: (f"{kind} = 'text' AND instr({text}, %s) > 0", [*at, *at, self.value]),
            FieldOp.INCLUDES: (f"{kind} = 'array' AND EXISTS (SELECT 1 FROM json_each({column}, %s) AS element "  # noqa: S608
                               "WHERE element.type = 'text' AND element.value = %s)", [*at, *at, self.value]),
            FieldOp.IS_SET: (f"{kind} NOT IN ('null') AND NOT ({kind} = 'text' AND {text} = '') "
                             f"AND NOT ({kind} = 'array' AND json_array_length({column}, %s) = 0)",
                             [*at, *at, *at, *at, *at]),
        }
        sql, sql_params = templates[self.op]
        return f"COALESCE({sql}, 0)", sql_params
