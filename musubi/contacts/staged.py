"""Adding many people at once on PostgreSQL, set-based: the people are rows of a table and every write is one
SQL statement over all of them, so no Python runs per person.

``add_staged`` leaves exactly what ``bulk.add_many`` (and so ``bulk.add_one``, person after person) leaves:
the same contacts (new ones numbered in the people's order), the known contacts' empty names filled and custom
fields merged in order, the identities, the tag links, a consent record per address, and the same facts
(``contact.created``, ``contact.tagged``, ``consent.granted``) with the same summary rows (``Activity``). The
tests hold the three to each other. The summary is folded in by the statements that insert the facts, one grouped
upsert each, while the per-fact trigger stands aside (``activity.BY_WRITER_SETTING``).

The people come in a table the caller fills (``PEOPLE_COLUMNS``, one row per person, ``line`` giving their
order), already checked: addresses normalised, the name stripped and at most 200 characters, tags one a line.
As with ``add_many`` no two people may share an address, and a person whose addresses belong to two or more
contacts (a merge) goes through ``bulk.add_one``; the people after them are looked up again, so merges play
out in the order they would one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from musubi.contacts import activity, bulk, services
from musubi.contacts.choices import Stage
from musubi.contacts.models import ConsentRecord, Contact, ContactTag, Identity, Tag
from musubi.kernel import clock
from musubi.kernel.models import Fact
from musubi.workspaces.models import Workspace

# What the caller's table holds, one row per person.
PEOPLE_COLUMNS = ("line", "email", "phone", "line_user_id", "name", "fields", "tags")
_CONTACT = Contact._meta.db_table
_IDENTITY = Identity._meta.db_table
_TAG = Tag._meta.db_table
_CONTACT_TAG = ContactTag._meta.db_table
_CONSENT = ConsentRecord._meta.db_table
_FACT = Fact._meta.db_table
_FACT_COLUMNS = ", ".join(bulk.FACT_COLUMNS)
# Addresses in the order ``Addresses.identities`` gives them, with the channel their consent is for.
_ADDRESSES = " UNION ALL ".join(
    f"SELECT line, {order} AS ord, '{kind}' AS kind, {column} AS value, '{bulk.CHANNEL_OF[kind]}' AS channel "  # noqa: S608
    f"FROM {{people}} WHERE {column} IS NOT NULL AND line > %(after)s"
    for order, (kind, column) in enumerate((("email", "email"), ("line", "line_user_id"), ("phone", "phone"))))


@transaction.atomic
def add_staged(*, workspace: Workspace, people: str, basis: str, source_id: int | None,
               tags: Sequence[str] = ()) -> bulk.Added:
    """Add the people of table ``people`` in ``line`` order, as ``bulk.add_many`` would; PostgreSQL only."""
    bulk.check_basis(basis)
    added = bulk.Added()
    params: dict[str, Any] = {"ws": workspace.pk, "now": clock.now(), "source": source_id, "basis": basis,
                              "tags": sorted({t.strip()[:100] for t in tags if t.strip()}), "after": -1}
    with connection.cursor() as cursor, _settings(cursor, _STATEMENT_SETTINGS):
        cursor.execute(f"ANALYZE {people}")  # a temporary table has no statistics until asked
        while True:
            merge_line = _look_up(cursor, people, params)
            params["before"] = merge_line if merge_line is not None else 2**62
            _write(cursor, people, params, added)
            if merge_line is None:
                return added
            cursor.execute(f"SELECT {', '.join(PEOPLE_COLUMNS)} FROM {people} WHERE line = %s",  # noqa: S608
                           [merge_line])
            person = _person(*cursor.fetchone())
            if bulk.add_one(workspace=workspace, person=person, basis=basis, source_id=source_id, tags=tags):
                added.created += 1
            else:
                added.matched += 1
            params["after"] = merge_line


def _person(_line: int, email: str | None, phone: str | None, line_user_id: str | None, name: str,
            fields: str | dict[str, Any], tags: str) -> bulk.Person:
    # Django has psycopg hand jsonb over as text, leaving the decoding to the model field.
    return bulk.Person(addresses=services.Addresses(email=email, line_user_id=line_user_id, phone=phone), name=name,
                       fields=json.loads(fields) if isinstance(fields, str) else fields,
                       tags=tuple(tags.split("\n")) if tags else ())


def _look_up(cursor: Any, people: str, params: dict[str, Any]) -> int | None:
    """Find the contact (the survivor of any merge) each address of the people after ``after`` belongs to, locked
    as ``find_or_create_contact`` locks them, into ``_staged_owner``; return the first line whose addresses
    belong to two or more contacts."""
    cursor.execute("DROP TABLE IF EXISTS _staged_owner")
    # Each address is looked up by the unique index, one probe each (a subquery the planner cannot turn into a
    # scan of every identity of the workspace, which stale statistics made it do): a chunk costs the same however
    # many contacts the workspace already has.
    cursor.execute(f"""
        SELECT i.id FROM ({_ADDRESSES.format(people=people)}) a
        CROSS JOIN LATERAL (SELECT id FROM {_IDENTITY} i
                            WHERE i.workspace_id = %(ws)s AND i.kind = a.kind AND i.value = a.value
                            FOR UPDATE) i""", params)  # noqa: S608 — our tables
    cursor.execute(f"""
        CREATE TEMPORARY TABLE _staged_owner ON COMMIT DROP AS
        SELECT a.line, a.ord, a.kind, a.value, a.channel,
               (SELECT coalesce(c.merged_into_id, c.id) FROM {_IDENTITY} i JOIN {_CONTACT} c ON c.id = i.contact_id
                WHERE i.workspace_id = %(ws)s AND i.kind = a.kind AND i.value = a.value) AS owner
        FROM ({_ADDRESSES.format(people=people)}) a""", params)  # noqa: S608 — our tables
    cursor.execute("SELECT min(line) FROM (SELECT line FROM _staged_owner WHERE owner IS NOT NULL GROUP BY line "
                   "HAVING count(DISTINCT owner) > 1) merges")
    return cursor.fetchone()[0]


def _write(cursor: Any, people: str, params: dict[str, Any], added: bulk.Added) -> None:
    """Write the people strictly between ``after`` and ``before``: none of them joins two contacts."""
    cursor.execute("DROP TABLE IF EXISTS _staged_who")
    # Whom each person is: the one contact their known addresses belong to, or a new contact whose id comes
    # from the sequence, ascending in line order as one-by-one creation would number them.
    cursor.execute(f"""
        CREATE TEMPORARY TABLE _staged_who ON COMMIT DROP AS
        WITH known AS (SELECT line, min(owner) AS owner FROM _staged_owner
                       WHERE line < %(before)s GROUP BY line),
             who AS (SELECT p.line, k.owner,
                            CASE WHEN k.owner IS NULL THEN row_number() OVER (PARTITION BY k.owner IS NULL
                                                                             ORDER BY p.line) END AS rank
                     FROM {people} p LEFT JOIN known k USING (line)
                     WHERE p.line > %(after)s AND p.line < %(before)s),
             fresh AS (SELECT row_number() OVER (ORDER BY id) AS rank, id FROM (
                         SELECT nextval(pg_get_serial_sequence('{_CONTACT}', 'id')) AS id
                         FROM generate_series(1, (SELECT count(*) FROM who WHERE owner IS NULL))) ids)
        SELECT who.line, coalesce(who.owner, fresh.id) AS contact_id, who.owner IS NULL AS is_new
        FROM who LEFT JOIN fresh USING (rank)""", params)  # noqa: S608 — our tables
    cursor.execute("ANALYZE _staged_who")
    cursor.execute("SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM _staged_who")
    created, matched = cursor.fetchone()
    added.created += created
    added.matched += matched
    if not created + matched:
        return
    # The trigger on facts stands aside while these statements run: each statement that inserts facts folds them
    # into ``contacts_activity`` itself, one grouped upsert instead of one per fact.
    with _settings(cursor, {activity.BY_WRITER_SETTING: "on"}):
        _write_people(cursor, people, params)


# Each statement handles a chunk (tens of thousands of rows) once: compiling it (JIT, which the cost of a
# subquery per row sets off) took longer than running it, and sorts of a chunk spilled to disk at the default
# 4 MB. The memory is the database server's, for this transaction only.
_STATEMENT_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextmanager
def _settings(cursor: Any, values: dict[str, str]) -> Iterator[None]:
    """Set PostgreSQL settings for the statements inside, then put back what was there (``set_config(…, true)``:
    local to the transaction, so at worst they end with it). An error leaves them to the rollback — of the
    transaction or of ``add_staged``'s savepoint — since an aborted transaction runs no more statements."""
    names = list(values)
    cursor.execute(f"SELECT {', '.join(['current_setting(%s, true)'] * len(names))}", names)
    previous = cursor.fetchone()
    for name, value in values.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    for name, value in zip(names, previous, strict=True):
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value or "off"])  # never set: a custom flag


def _insert_facts(cursor: Any, select: str, params: dict[str, Any], *, before: str = "") -> None:
    """Insert the facts ``select`` gives (``bulk.FACT_COLUMNS``) and fold them into the summary in the same
    statement; ``before`` is any CTE ``select`` reads, with its trailing comma."""
    cursor.execute(f"""
        WITH {before} facts AS (INSERT INTO {_FACT} ({_FACT_COLUMNS}) {select}
                                RETURNING workspace_id, contact_id, kind, occurred_at)
        {activity.FOLD_FACTS.format(facts="facts")}""", params)


def _write_people(cursor: Any, people: str, params: dict[str, Any]) -> None:
    cursor.execute(f"""
        INSERT INTO {_CONTACT} (id, workspace_id, name, stage, fields, first_source_id, last_source_id, created_at)
        SELECT w.contact_id, %(ws)s, p.name, '{Stage.LEAD}', p.fields, %(source)s, %(source)s, %(now)s
        FROM _staged_who w JOIN {people} p USING (line) WHERE w.is_new ORDER BY w.contact_id""", params)  # noqa: S608
    # A known contact keeps its name unless it has none (then the first name given), and takes the custom
    # fields given, later people's values over earlier ones'.
    cursor.execute(f"""
        UPDATE {_CONTACT} c SET
          name = CASE WHEN c.name = '' THEN coalesce(k.name, '') ELSE c.name END,
          last_source_id = coalesce(%(source)s, c.last_source_id),
          fields = c.fields || k.fields
        FROM (SELECT w.contact_id,
                     (array_agg(p.name ORDER BY p.line) FILTER (WHERE p.name <> ''))[1] AS name,
                     coalesce(jsonb_object_agg(f.key, f.value ORDER BY p.line) FILTER (WHERE f.key IS NOT NULL),
                              '{{}}'::jsonb) AS fields
              FROM _staged_who w JOIN {people} p USING (line)
              LEFT JOIN LATERAL jsonb_each(p.fields) f ON true
              WHERE NOT w.is_new GROUP BY w.contact_id) k
        WHERE c.id = k.contact_id""", params)  # noqa: S608 — our tables
    cursor.execute(f"""
        INSERT INTO {_IDENTITY} (workspace_id, contact_id, kind, value, created_at)
        SELECT %(ws)s, w.contact_id, o.kind, o.value, %(now)s
        FROM _staged_owner o JOIN _staged_who w USING (line) WHERE o.owner IS NULL
        ORDER BY o.line, o.ord""", params)  # noqa: S608 — our tables
    _link_tags(cursor, people, params)
    # A consent record per address, numbered first so its fact can name it without reading it back.
    cursor.execute("DROP TABLE IF EXISTS _staged_granted")
    cursor.execute(f"""
        CREATE TEMPORARY TABLE _staged_granted ON COMMIT DROP AS
        SELECT nextval(pg_get_serial_sequence('{_CONSENT}', 'id')) AS id, w.contact_id, o.channel, o.value
        FROM _staged_owner o JOIN _staged_who w USING (line) ORDER BY o.line, o.ord""")  # noqa: S608 — our tables
    cursor.execute(f"""
        INSERT INTO {_CONSENT} (id, workspace_id, contact_id, channel, address, basis, granted, at, ip_address,
                                user_agent, wording_hash, source_id)
        SELECT id, %(ws)s, contact_id, channel, value, %(basis)s, true, %(now)s, '', '', '', %(source)s
        FROM _staged_granted ORDER BY id""", params)  # noqa: S608 — our tables
    _insert_facts(cursor, """
        SELECT %(ws)s, 'consent.granted', %(now)s, %(now)s, contact_id, %(source)s, 'contacts.consentrecord',
               g.id::text, '', jsonb_build_object('channel', channel, 'basis', %(basis)s::text)
        FROM _staged_granted g ORDER BY g.id""", params)  # g.id: a bare "id" would sort by the text column
    # Not a kind the summary keeps: a plain insert.
    cursor.execute(f"""
        INSERT INTO {_FACT} ({_FACT_COLUMNS})
        SELECT %(ws)s, 'contact.created', %(now)s, %(now)s, contact_id, %(source)s, '', '', '', '{{}}'::jsonb
        FROM _staged_who WHERE is_new ORDER BY contact_id""", params)  # noqa: S608 — our tables


def _link_tags(cursor: Any, people: str, params: dict[str, Any]) -> None:
    """Each person's tags and the tags every person gets, created when missing, linked where not linked yet, with
    a ``contact.tagged`` fact per new link."""
    cursor.execute("DROP TABLE IF EXISTS _staged_tagging")
    cursor.execute(f"""
        CREATE TEMPORARY TABLE _staged_tagging ON COMMIT DROP AS
        SELECT DISTINCT w.line, w.contact_id, w.is_new, t.name
        FROM _staged_who w JOIN {people} p USING (line)
        CROSS JOIN LATERAL unnest(string_to_array(p.tags, E'\\n') || %(tags)s::text[]) AS t(name)
        WHERE t.name <> ''""", params)  # noqa: S608 — our tables
    cursor.execute(f"""
        INSERT INTO {_TAG} (workspace_id, name)
        SELECT DISTINCT %(ws)s, name FROM _staged_tagging ORDER BY name
        ON CONFLICT DO NOTHING""", params)  # noqa: S608 — our tables
    # A new contact has no links yet: its links go in plainly. A known contact's may be there already.
    cursor.execute(f"""
        INSERT INTO {_CONTACT_TAG} (workspace_id, contact_id, tag_id, added_at)
        SELECT %(ws)s, s.contact_id, t.id, %(now)s
        FROM _staged_tagging s JOIN {_TAG} t ON t.workspace_id = %(ws)s AND t.name = s.name
        WHERE s.is_new ORDER BY s.line, s.name COLLATE "C"
        """, params)  # noqa: S608 — our tables
    _insert_facts(cursor, """
        SELECT %(ws)s, 'contact.tagged', %(now)s, %(now)s, contact_id, NULL, '', '', '', jsonb_build_object('tag', name)
        FROM _staged_tagging WHERE is_new ORDER BY line, name COLLATE "C"
        """, params)
    _insert_facts(cursor, f"""
        SELECT %(ws)s, 'contact.tagged', %(now)s, %(now)s, l.contact_id, NULL, '', '', '',
               jsonb_build_object('tag', t.name)
        FROM linked l JOIN {_TAG} t ON t.id = l.tag_id""", params, before=f"""
        linked AS (
          INSERT INTO {_CONTACT_TAG} (workspace_id, contact_id, tag_id, added_at)
          SELECT %(ws)s, s.contact_id, t.id, %(now)s
          FROM _staged_tagging s JOIN {_TAG} t ON t.workspace_id = %(ws)s AND t.name = s.name
          WHERE NOT s.is_new ORDER BY s.line, s.name COLLATE "C"
          ON CONFLICT DO NOTHING
          RETURNING contact_id, tag_id),""")  # noqa: S608 — our tables
