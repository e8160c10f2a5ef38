"""Every audit action and every fact kind the code records is shown to people in words, never as its code."""

from __future__ import annotations

import re
from pathlib import Path

from musubi.contacts.choices import TIMELINE_LABELS
from musubi.web.templatetags.audit import ACTION_LABELS

SOURCE = Path(__file__).resolve().parents[2]


def _recorded(call: str, argument: str) -> set[str]:
    """The literal codes passed as ``argument`` to ``call(...)`` anywhere outside tests and migrations (both
    branches of a conditional expression included); codes built from variables are left to their own tests."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts or "testing" in path.parts:
            continue
        for match in re.finditer(rf"{call}\((.*?)\)\n", path.read_text(encoding="utf-8"), re.S):
            for value in re.finditer(rf'{argument}=("[^"{{}}]+"(?:\s+if .*? else\s+"[^"{{}}]+")?)', match.group(1),
                                     re.S):
                found.update(re.findall(r'"([^"{}]+)"', value.group(1)))
    return found


def test_every_audit_action_has_words():
    actions = _recorded("record_audit", "action")
    assert len(actions) > 40  # the scan finds the calls
    assert sorted(a for a in actions if a not in ACTION_LABELS) == []


def test_every_fact_about_a_person_has_words_on_their_timeline():
    kinds = _recorded("record_fact", "kind") | {"message.sent"}  # the senders write that one in bulk
    assert len(kinds) > 20
    # Facts about the business rather than a person (a broadcast started) never reach a contact's timeline.
    about_the_business = {"broadcast.started", "broadcast.refused"}
    assert sorted(k for k in kinds - about_the_business if k not in TIMELINE_LABELS) == []
