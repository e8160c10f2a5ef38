"""Every audit action and every fact kind the code records is shown to people in words, never as its code."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from django.utils.translation import gettext as _

from musubi.catalog.choices import OfferRole
from musubi.catalog.services import OFFER_FIELDS, PREMIUM_FIELDS, PRODUCT_FIELDS
from musubi.commerce.models import PaymentSettings
from musubi.contacts.choices import TIMELINE_LABELS, LegalBasis
from musubi.imports.choices import Encoding
from musubi.web.catalog_forms import OfferForm
from musubi.web.order_pages import PaymentSettingsForm
from musubi.web.templatetags.audit import ACTION_LABELS, audit_changes, field_label
from musubi.workspaces.rules import LEGAL_FIELDS

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


def _literal_change_keys() -> set[str]:
    """The literal keys of every ``changes={...}`` an audit call writes outside tests and migrations."""
    keys: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts or "testing" in path.parts:
            continue
        for match in re.finditer(r"record_audit\((.*?)\)\n", path.read_text(encoding="utf-8"), re.S):
            if changes := re.search(r"changes=(\{.*)", match.group(1), re.S):
                keys.update(re.findall(r'"(\w+)":', changes.group(1)))
    return keys


def _unnamed(object_type: str, fields) -> list[str]:
    entry = SimpleNamespace(action="", object_type=object_type)
    return sorted(name for name in fields if field_label(entry, name) == name)


def test_every_change_in_the_audit_log_is_named_in_words():
    keys = _literal_change_keys()
    assert len(keys) > 30  # the scan finds the calls
    assert _unnamed("", keys) == []
    # Changes listed field by field from what the services allow to change.
    assert _unnamed("catalog.product", PRODUCT_FIELDS) == []
    assert _unnamed("catalog.offer", OFFER_FIELDS) == []
    assert _unnamed("catalog.premium", PREMIUM_FIELDS) == []
    assert _unnamed("workspaces.legalprofile", LEGAL_FIELDS) == []
    payment_fields = [f.name for f in PaymentSettings._meta.concrete_fields if f.name not in ("id", "workspace")]
    assert _unnamed("commerce.paymentsettings", payment_fields) == []


def test_a_document_number_is_not_called_a_use(db):
    issued = SimpleNamespace(action="order.document_issued", object_type="commerce.order",
                             changes={"kind": "receipt", "number": "R-000012"})
    redeemed = SimpleNamespace(action="coupon.redeemed", object_type="capture.coupon",
                               changes={"code": "ABCD", "number": 2})
    assert dict(audit_changes(issued))[str(_("Document number"))] == "R-000012"
    assert dict(audit_changes(redeemed))[str(_("Use"))] == "2"


def test_payment_settings_changes_are_listed_by_their_form_labels():
    entry = SimpleNamespace(action="payment_settings.saved", object_type="commerce.paymentsettings",
                            changes={"changed": ["card_enabled", "cod_fee"]})
    ((label, text),) = audit_changes(entry)
    assert label == str(_("Changed fields"))
    labels = PaymentSettingsForm.base_fields
    assert text == f"{labels['card_enabled'].label}、{labels['cod_fee'].label}"


def test_stored_codes_are_shown_by_their_labels():
    offer = SimpleNamespace(action="offer.created", object_type="catalog.offer",
                            changes={"name": "お試しセット", "role": "front"})
    started = SimpleNamespace(action="import.started", object_type="imports.import",
                              changes={"basis": "consent", "tags": ["展示会", "2026"], "encoding": "cp932"})
    segment = SimpleNamespace(action="segment.updated", object_type="contacts.segment",
                              changes={"definition": [{"all": []}, {"all": [{"tag": 1}]}]})
    shown = dict(audit_changes(offer)) | dict(audit_changes(started)) | dict(audit_changes(segment))
    assert shown[str(OfferForm.base_fields["role"].label)] == str(OfferRole.FRONT.label)
    assert shown[str(_("Legal basis"))] == str(LegalBasis.CONSENT.label)
    assert shown[str(_("Tags"))] == "展示会、2026"
    assert shown[str(_("Encoding"))] == str(Encoding.CP932.label)
    assert shown[str(_("Conditions"))] == str(_("(changed)"))
