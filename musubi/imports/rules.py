"""Pure decisions of an import: which encoding a file is in, what a column probably holds, and whether a row is
good. No ORM and no I/O, so they are tested without a database."""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from musubi.contacts import rules as contact_rules
from musubi.imports.choices import Encoding, Target

# Header words (folded: NFKC, lower case, without spaces and punctuation) and what they mean.
_FOLD = re.compile(r"[\s_\-‐−・.()（）「」:：/]+")
_HEADER_WORDS: dict[str, Target] = {}
for _target, _words in {
    Target.EMAIL: ["メールアドレス", "メール", "eメール", "eメールアドレス", "email", "emailaddress", "mail",
                   "mailaddress", "pcメール", "pcメールアドレス", "携帯メール", "携帯メールアドレス", "アドレス"],
    Target.NAME: ["氏名", "名前", "お名前", "name", "fullname", "姓名", "顧客名", "お客様名", "会員名", "姓", "名",
                  "苗字", "名字", "lastname", "firstname", "familyname", "givenname", "氏名漢字"],
    Target.PHONE: ["電話番号", "電話", "携帯", "携帯電話", "携帯番号", "携帯電話番号", "tel", "phone", "mobile",
                   "phonenumber", "telephone", "mobilephone", "cellphone"],
    Target.LINE_USER_ID: ["lineid", "lineuserid", "lineユーザーid", "line"],
    Target.TAGS: ["タグ", "tags", "tag", "ラベル"],
}.items():
    for _word in _words:
        _HEADER_WORDS[_FOLD.sub("", _word)] = _target

# Tags in one cell are separated the ways people write lists in Japanese and English.
_TAG_SEPARATORS = re.compile(r"[,、，;；|｜\n]+")
SINGLE_TARGETS = (Target.EMAIL, Target.PHONE, Target.LINE_USER_ID)
MAX_FIELD_KEY = 50
MAX_FIELD_VALUE = 1000


def fold(header: str) -> str:
    return _FOLD.sub("", unicodedata.normalize("NFKC", header).strip().lower())


def guess_mapping(headers: Sequence[str], questions: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """What each column probably holds, from its header in Japanese or English. A header that names one of the
    workspace's questions (``questions``: header → answer key, see ``question_headers``) is that question's
    field, so an export reads back as it was. An address is taken from one column only (the first that looks
    like it); any other column becomes a custom field under its header, which the owner may rename or ignore."""
    questions = questions or {}
    mapping: list[dict[str, str]] = []
    taken: set[Target] = set()
    for header in headers:
        if header.strip() in questions:
            mapping.append({"target": Target.FIELD, "key": questions[header.strip()]})
            continue
        target = _HEADER_WORDS.get(fold(header))
        if target is None or (target in SINGLE_TARGETS and target in taken):
            mapping.append({"target": Target.FIELD if header.strip() else Target.IGNORE,
                            "key": field_key(header)})
            continue
        taken.add(target)
        mapping.append({"target": target, "key": ""})
    return mapping


def field_headers(keys: Sequence[str], labels: Mapping[str, str]) -> list[str]:
    """The column header of each custom field in an export: the question it answers (``labels``: answer key →
    the question's text), or the key when no question is known. A text that another column shares, or that an
    import would take for an address, the name or the tags, is followed by its key, so every column names one
    field and reads back as it."""
    texts = [labels.get(key, key) for key in keys]
    shared = Counter(texts)
    return [text if text == key or (shared[text] == 1 and fold(text) not in _HEADER_WORDS) else f"{text}（{key}）"
            for key, text in zip(keys, texts, strict=True)]


def question_headers(labels: Mapping[str, str]) -> dict[str, str]:
    """The headers ``field_headers`` may write for questions (``labels``: answer key → text), and the answer
    key each stands for: a text with its key always, a text alone when no other question has it."""
    found = {f"{label}（{key}）": key for key, label in labels.items()}
    shared = Counter(labels.values())
    found.update({label: key for key, label in labels.items()
                  if shared[label] == 1 and fold(label) not in _HEADER_WORDS and label not in labels})
    return found


def field_key(header: str) -> str:
    return unicodedata.normalize("NFKC", header).strip()[:MAX_FIELD_KEY]


def mapping_problems(mapping: Sequence[dict[str, str]], headers: Sequence[str]) -> dict[str, str]:
    """What is wrong with a mapping, by form field (``mapping`` for the whole, ``mapping.<column>`` for one)."""
    problems: dict[str, str] = {}
    if len(mapping) != len(headers):
        return {"mapping": _("Give a target for each of the file's %(n)d columns.") % {"n": len(headers)}}
    seen: dict[str, int] = {}
    keys: dict[str, int] = {}
    for index, column in enumerate(mapping):
        target, key = column.get("target", ""), column.get("key", "").strip()
        if target not in Target.values:
            problems[f"mapping.{index}"] = _("Choose what this column holds.")
        elif target in SINGLE_TARGETS and target in seen:
            problems[f"mapping.{index}"] = _("Only one column can be the %(what)s (column %(n)d is already).") % {
                "what": Target(target).label, "n": seen[target] + 1}
        elif target == Target.FIELD and not key:
            problems[f"mapping.{index}"] = _("Name the custom field this column goes into.")
        elif target == Target.FIELD and len(key) > MAX_FIELD_KEY:
            problems[f"mapping.{index}"] = _("Use at most %(n)d characters for a field name.") % {"n": MAX_FIELD_KEY}
        elif target == Target.FIELD and key in keys:
            problems[f"mapping.{index}"] = _("Column %(n)d already goes into this field.") % {"n": keys[key] + 1}
        if target == Target.FIELD and key:
            keys.setdefault(key, index)
        seen.setdefault(target, index)
    if not problems and not any(t in seen for t in SINGLE_TARGETS):
        problems["mapping"] = _("Map at least one column to the email address, the phone number or the LINE user ID: "
                                "a contact needs a way to be reached.")
    return problems


@dataclass
class Detection:
    """What a file's bytes can be read as."""

    valid_utf8: bool = True
    valid_cp932: bool = True
    has_bom: bool = False
    newlines: int = 0

    @property
    def encoding(self) -> str | None:
        """UTF-8 when the bytes are valid UTF-8 (pure ASCII is), else CP932 when they are valid CP932."""
        if self.valid_utf8:
            return Encoding.UTF8
        if self.valid_cp932:
            return Encoding.CP932
        return None


class Detector:
    """Feed a file's bytes block by block; memory stays flat whatever the file's size."""

    def __init__(self) -> None:
        self.result = Detection()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._cp932 = codecs.getincrementaldecoder("cp932")()
        self._first = True

    def feed(self, block: bytes, *, final: bool = False) -> None:
        if self._first and block:
            self.result.has_bom = block.startswith(codecs.BOM_UTF8)
            self._first = False
        self.result.newlines += block.count(b"\n")
        for name, decoder in (("valid_utf8", self._utf8), ("valid_cp932", self._cp932)):
            if getattr(self.result, name):
                try:
                    decoder.decode(block, final)
                except UnicodeDecodeError:
                    setattr(self.result, name, False)


def detect(blocks: Iterable[bytes]) -> Detection:
    detector = Detector()
    for block in blocks:
        detector.feed(block)
    detector.feed(b"", final=True)
    return detector.result


def python_codec(encoding: str, *, has_bom: bool) -> str:
    return "utf-8-sig" if encoding == Encoding.UTF8 and has_bom else str(encoding)


def split_tags(text: str) -> list[str]:
    return [tag.strip()[:100] for tag in _TAG_SEPARATORS.split(text) if tag.strip()]


@dataclass
class CheckedRow:
    """A row after checking: good (``problems`` empty) with its addresses normalised, or with its problems as
    (column header, message) pairs."""

    email: str | None = None
    phone: str | None = None
    line_user_id: str | None = None
    name: str = ""
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


class RowChecker:
    """Checks rows against one mapping. Built once per chunk: the per-row work is only what each cell needs."""

    def __init__(self, mapping: Sequence[dict[str, str]], headers: Sequence[str], *, country: str = "JP",
                 several_choice_keys: Iterable[str] = ()):
        self.headers = list(headers)
        # Answers to a several-choice question go back in as the list they were exported from ("刺身, 唐揚げ").
        self.several = set(several_choice_keys)
        self.width = len(headers)
        self.country = country
        self.single: dict[str, int] = {}
        self.names: list[int] = []
        self.tags: list[int] = []
        self.fields: list[tuple[int, str]] = []
        for index, column in enumerate(mapping):
            target = column["target"]
            if target in SINGLE_TARGETS:
                self.single[target] = index
            elif target == Target.NAME:
                self.names.append(index)
            elif target == Target.TAGS:
                self.tags.append(index)
            elif target == Target.FIELD:
                self.fields.append((index, column["key"].strip()))
        self._email = self.single.get(Target.EMAIL)
        self._phone = self.single.get(Target.PHONE)
        self._line = self.single.get(Target.LINE_USER_ID)

    def column(self, index: int) -> str:
        return self.headers[index] or _("column %(n)d") % {"n": index + 1}

    def check(self, cells: list[str]) -> CheckedRow | None:
        """The checked row, or None for a blank row (spreadsheets often end with a few)."""
        if len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        if not any(cell.strip() for cell in cells):
            return None
        row = CheckedRow()
        problems = row.problems
        if len(cells) > self.width and any(cell.strip() for cell in cells[self.width:]):
            problems.append(("", _("This row has more cells than the header has columns.")))
        if self._email is not None and (value := cells[self._email].strip()):
            try:
                row.email = contact_rules.normalise_email(value)
            except contact_rules.InvalidAddress:
                problems.append((self.column(self._email), _("“%(value)s” is not an email address.") % {
                    "value": value[:80]}))
        if self._phone is not None and (value := cells[self._phone].strip()):
            try:
                row.phone = contact_rules.normalise_phone(value, default_country=self.country)
            except contact_rules.InvalidAddress:
                problems.append((self.column(self._phone), _("“%(value)s” is not a phone number (write it like "
                                                             "090-1234-5678 or +81 90 1234 5678).") % {
                    "value": value[:80]}))
        if self._line is not None and (value := cells[self._line].strip()):
            try:
                row.line_user_id = contact_rules.normalise_line_user_id(value)
            except contact_rules.InvalidAddress:
                problems.append((self.column(self._line), _("“%(value)s” is not a LINE user ID (U followed by 32 "
                                                            "letters and digits).") % {"value": value[:80]}))
        if self.names:
            name = " ".join(part for i in self.names if (part := cells[i].strip()))
            if len(name) > 200:
                problems.append((self.column(self.names[0]), _("A name has at most 200 characters.")))
            row.name = name[:200]
        for index in self.tags:
            row.tags.extend(split_tags(cells[index]))
        for index, key in self.fields:
            if value := cells[index].strip():
                if len(value) > MAX_FIELD_VALUE:
                    problems.append((self.column(index), _("At most %(n)d characters.") % {"n": MAX_FIELD_VALUE}))
                row.fields[key] = split_tags(value) if key in self.several else value
        if not problems and not (row.email or row.phone or row.line_user_id):
            problems.append(("", _("This row has no email address, phone number or LINE user ID.")))
        return row


def problem_text(problems: Iterable[Sequence[str]]) -> str:
    """Problems of a row in one line, each with the column it is in."""
    return " / ".join(f"{column}: {message}" if column else message for column, message in problems)
