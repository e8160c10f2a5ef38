"""Rebuilding ``Activity``, the per-person summary of the facts, from the facts themselves.

The database keeps the summary current with triggers (``migrations/0004_activity``). A rebuild is for when it
cannot have: rows written with triggers switched off (a restore with ``session_replication_role = replica``,
a bulk load), or a fact recorded about a record at the very moment that record was merged, which the
merge's trigger could not yet see.
"""

from __future__ import annotations

from django.db import connection, transaction

from musubi.contacts.choices import EventKind

# The trigger on kernel_fact lets a fact pass when this is 'on' in the transaction (migrations/0005): the writer
# that set it folds its facts into the summary itself, with ``FOLD_FACTS``.
BY_WRITER_SETTING = "musubi.activity_by_writer"

# What the trigger does for each fact, for a whole statement's facts at once (PostgreSQL): ``{facts}`` names a
# relation of (workspace_id, contact_id, kind, occurred_at) — typically a CTE over ``INSERT … RETURNING`` — and
# each (survivor, kind) gets one row, its earliest and latest times merged with a row already there exactly as
# the trigger merges one fact. The facts are grouped per contact first, and each contact's survivor is looked up
# by its key (a LATERAL … LIMIT 1 stays a nested loop whatever the statistics say), so a chunk costs the same
# however many contacts the workspace has; grouping again per survivor keeps one statement from touching a row
# twice.
FOLD_FACTS = """
INSERT INTO contacts_activity (workspace_id, contact_id, kind, first_at, last_at)
SELECT f.workspace_id, o.owner, f.kind, min(f.first_at), max(f.last_at)
FROM (SELECT workspace_id, contact_id, kind, min(occurred_at) AS first_at, max(occurred_at) AS last_at
      FROM {{facts}} WHERE contact_id IS NOT NULL AND kind IN ({kinds})
      GROUP BY workspace_id, contact_id, kind) f
CROSS JOIN LATERAL (SELECT coalesce(c.merged_into_id, c.id) AS owner FROM contacts_contact c
                    WHERE c.id = f.contact_id AND c.workspace_id = f.workspace_id LIMIT 1) o
GROUP BY f.workspace_id, o.owner, f.kind
ON CONFLICT (workspace_id, contact_id, kind) DO UPDATE SET
  first_at = least(contacts_activity.first_at, excluded.first_at),
  last_at = greatest(contacts_activity.last_at, excluded.last_at)
WHERE excluded.first_at < contacts_activity.first_at OR excluded.last_at > contacts_activity.last_at
""".format(kinds=", ".join(f"'{kind}'" for kind in EventKind.values))  # noqa: S608 — our kinds

_FILL = """
INSERT INTO contacts_activity (workspace_id, contact_id, kind, first_at, last_at)
SELECT f.workspace_id, coalesce(c.merged_into_id, c.id), f.kind, min(f.occurred_at), max(f.occurred_at)
FROM kernel_fact f JOIN contacts_contact c ON c.id = f.contact_id AND c.workspace_id = f.workspace_id
WHERE f.kind IN ({kinds}) AND f.workspace_id = %s
GROUP BY f.workspace_id, coalesce(c.merged_into_id, c.id), f.kind
"""


def rebuild(*, workspace_id: int) -> int:
    """Recompute the workspace's summary from its facts; returns the number of rows."""
    kinds = list(EventKind.values)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Facts recorded meanwhile wait for the rebuild (their trigger writes here) instead of being
            # folded into rows that the rebuild then deletes.
            cursor.execute("LOCK TABLE contacts_activity IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM contacts_activity WHERE workspace_id = %s", [workspace_id])
        cursor.execute(_FILL.format(kinds=", ".join(["%s"] * len(kinds))), [*kinds, workspace_id])
        return cursor.rowcount
