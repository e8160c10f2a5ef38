"""Pure decisions of capture: the redirect target with UTM parameters, and what a bot looks like."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
from django.utils.translation import gettext as _

from musubi.capture.choices import FieldKind

# Link previews and crawlers fetch a link without a person behind it. LINE's in-app browser says "Line/…"
# and is a person; its preview fetcher, like the others, says it is a bot or names itself below.
_BOTS = re.compile(r"bot|crawl|spider|slurp|facebookexternalhit|embedly|preview|headless|curl/|wget/|python-requests",
                   re.IGNORECASE)


def looks_like_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_BOTS.search(user_agent))


def with_utm(target_url: str, utm: dict[str, str]) -> str:
    """``target_url`` with the UTM parameters it does not already have (the owner's own choices win)."""
    parts = urlsplit(target_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _value in query}
    query += [(key, value) for key, value in utm.items() if value and key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def hash_ip(ip: str, *, key: str) -> str:
    """A keyed hash of the IP: repeated clicks from one address can be told apart without keeping it."""
    return hmac.new(key.encode(), ip.encode(), hashlib.sha256).hexdigest()


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def qr_svg_inline(url: str) -> str:
    """The QR code of ``url`` as an SVG element to put in a page: no fixed size, so it fills whatever box the
    page gives it (a card printed at 62 mm, a thumbnail on screen) without being cut."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=1, border=4, omitsize=True, xmldecl=False)
    return buffer.getvalue().decode()


def qr_code(url: str, *, kind: str, scale: int = 10) -> bytes:
    """The QR code of ``url`` as SVG or PNG. Error correction M survives a little table-top wear."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()


# --- Questions on an opt-in form ------------------------------------------------------------------------

QUESTION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Keys a question may not take: they name the built-in fields and the form's own controls.
RESERVED_KEYS = frozenset({"email", "name", "phone", "consent", "website", "csrfmiddlewaretoken"})
MAX_QUESTIONS = 20
MAX_OPTIONS = 30
MAX_ANSWER_LENGTH = {FieldKind.TEXT: 200, FieldKind.LONG_TEXT: 2000}


def clean_questions(raw: Any) -> list[dict[str, Any]]:
    """The questions of a form written one way, or ``ValueError`` mapping each bad path to why.

    Each question is ``{"key", "label", "kind", "required", "options"}``; ``options`` only for choices.
    """
    errors: dict[str, str] = {}
    if not isinstance(raw, list) or len(raw) > MAX_QUESTIONS:
        raise QuestionsInvalid({"questions": _("Give at most %(n)d questions as a list.") % {"n": MAX_QUESTIONS}})
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, question in enumerate(raw):
        path = f"questions.{index}"
        if not isinstance(question, Mapping):
            errors[path] = _("Each question is an object with a key, a label and a kind.")
            continue
        unknown = set(question) - {"key", "label", "kind", "required", "options"}
        if unknown:
            errors[f"{path}.{sorted(unknown)[0]}"] = _("Unknown property.")
        key, label, kind = question.get("key"), question.get("label"), question.get("kind")
        if not isinstance(key, str) or not QUESTION_KEY.match(key) or key in RESERVED_KEYS:
            errors[f"{path}.key"] = _("Use lowercase letters, digits and _ (starting with a letter), not a "
                                      "built-in name such as email.")
        elif key in seen:
            errors[f"{path}.key"] = _("Two questions have this key.")
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            errors[f"{path}.label"] = _("Enter the question of 1–200 characters.")
        if kind not in FieldKind.values:
            errors[f"{path}.kind"] = _("Choose the kind of answer.")
        required = question.get("required", False)
        if not isinstance(required, bool):
            errors[f"{path}.required"] = _("Either true or false.")
        options = question.get("options", [])
        if kind in (FieldKind.SINGLE, FieldKind.MULTIPLE):
            if (not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS
                    or not all(isinstance(o, str) and o.strip() and len(o) <= 100 for o in options)):
                errors[f"{path}.options"] = _("Give 2–%(n)d choices of up to 100 characters.") % {"n": MAX_OPTIONS}
            elif len({o.strip() for o in options}) != len(options):
                errors[f"{path}.options"] = _("Two choices are the same.")
        elif options:
            errors[f"{path}.options"] = _("Only choice questions have choices.")
        if isinstance(key, str):
            seen.add(key)
        cleaned.append({"key": key, "label": label.strip() if isinstance(label, str) else label, "kind": kind,
                        "required": required,
                        "options": [o.strip() for o in options] if kind in (FieldKind.SINGLE,
                                                                            FieldKind.MULTIPLE) else []})
    if errors:
        raise QuestionsInvalid(errors)
    return cleaned


class QuestionsInvalid(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("invalid questions")
        self.fields = fields


def clean_answers(questions: list[dict[str, Any]], raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers to ``questions`` from ``raw`` (a single value or a list per key), and the errors by key.
    Unknown keys are ignored: a form may carry more than the questions (its built-in fields, a honeypot)."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in questions:
        key, kind = question["key"], question["kind"]
        value = raw.get(key)
        if kind == FieldKind.MULTIPLE:
            chosen = value if isinstance(value, list) else ([value] if isinstance(value, str) and value else [])
            if not all(isinstance(c, str) for c in chosen) or any(c not in question["options"] for c in chosen):
                errors[key] = _("Choose from the choices given.")
                continue
            ordered = [o for o in question["options"] if o in chosen]  # stored in the form's order
            if question["required"] and not ordered:
                errors[key] = _("Choose at least one.")
            elif ordered:
                answers[key] = ordered
            continue
        if isinstance(value, list):
            value = value[-1] if value else ""
        text = unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else ""
        if value is not None and not isinstance(value, str):
            errors[key] = _("Answer with text.")
        elif kind == FieldKind.SINGLE and text and text not in question["options"]:
            errors[key] = _("Choose from the choices given.")
        elif kind in MAX_ANSWER_LENGTH and len(text) > MAX_ANSWER_LENGTH[FieldKind(kind)]:
            errors[key] = _("Write at most %(n)d characters.") % {"n": MAX_ANSWER_LENGTH[FieldKind(kind)]}
        elif question["required"] and not text:
            errors[key] = _("Please answer this question.")
        elif text:
            answers[key] = text
    return answers, errors


def version_wording(version: Mapping[str, Any]) -> str:
    """Everything a person reads on a capture point, as one canonical text whose hash is kept as evidence."""
    shown = {key: version.get(key) for key in (
        "headline", "body", "image", "ask_email", "ask_name", "ask_phone", "questions", "consent_text",
        "purpose_text", "sender_name", "privacy_url", "tokushoho_url", "button_label", "thanks_text")}
    return json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def wording_hash(wording: str) -> str:
    return hashlib.sha256(wording.encode("utf-8")).hexdigest()


# --- Coupons --------------------------------------------------------------------------------------------

COUPON_CODE_LENGTH = 10  # 31**10 ≈ 8e14: hopeless to guess, and two groups of five to read out


def format_coupon_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == COUPON_CODE_LENGTH else code


def parse_coupon_code(typed: str) -> str:
    """What a person typed or a scanner read, as the stored code: case, spaces, hyphens and full-width
    characters do not matter, and a whole coupon URL is understood too."""
    text = unicodedata.normalize("NFKC", typed).strip()
    if "/c/" in text:
        text = text.rsplit("/c/", 1)[1].split("?")[0].split("#")[0]
    return re.sub(r"[\s\-]", "", text).upper()[:32]


@dataclass(frozen=True)
class CouponState:
    usable: bool
    reason: str  # "ok", "used_up", "expired", "not_yet_valid", "inactive"


def coupon_state(*, now: dt.datetime, expires_at: dt.datetime | None, valid_from: dt.datetime | None,
                 valid_until: dt.datetime | None, redemptions: int, max_redemptions: int,
                 active: bool) -> CouponState:
    """Whether a coupon may be redeemed now, and if not, the first reason a person at the counter needs."""
    if redemptions >= max_redemptions:
        return CouponState(False, "used_up")
    if not active:
        return CouponState(False, "inactive")
    if valid_from is not None and now < valid_from:
        return CouponState(False, "not_yet_valid")
    ends = [t for t in (expires_at, valid_until) if t is not None]
    if ends and now >= min(ends):
        return CouponState(False, "expired")
    return CouponState(True, "ok")


def coupon_expiry(*, issued_at: dt.datetime, valid_days: int | None,
                  valid_until: dt.datetime | None) -> dt.datetime | None:
    """When a coupon issued at ``issued_at`` stops working: the sooner of its days and the definition's end."""
    ends = [t for t in (issued_at + dt.timedelta(days=valid_days) if valid_days else None, valid_until) if t]
    return min(ends) if ends else None
