"""Personalisation in a sandbox: templates can read the contact's name and fields and the links given to
them, and nothing else (no attributes of Python objects, no imports, no I/O) — Jinja's sandboxed
environment, with plain dictionaries as the only context. Templates are checked when saved, so a typo is
named to the author instead of sending a blank to thousands."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django.utils.translation import gettext as _
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from musubi.kernel.errors import InvalidInput
from musubi.messaging import substitution

# What a template may name. `fields` holds the contact's custom fields and survey answers.
VARIABLES = frozenset({"name", "email", "fields", "workspace", "today"})


@functools.cache
def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=autoescape, keep_trailing_newline=True)


def check(source: str, *, field: str, html_text: bool = False) -> None:
    """Raise ``InvalidInput`` naming ``field`` when ``source`` does not parse or names unknown variables."""
    env = _environment(html_text)
    try:
        parsed = env.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(_("Some fields need attention."),
                           fields={field: _("Line %(line)s: %(message)s") % {"line": exc.lineno,
                                                                              "message": exc.message}}) from exc
    unknown = sorted(meta.find_undeclared_variables(parsed) - VARIABLES)
    if unknown:
        raise InvalidInput(_("Some fields need attention."), fields={field: _(
            "Unknown name %(names)s. You can use: %(allowed)s.") % {
            "names": ", ".join(unknown), "allowed": ", ".join(sorted(VARIABLES))}})


def is_personal(source: str) -> bool:
    """Whether the text depends on the recipient (a LINE message that does can not go by multicast)."""
    parsed = _environment(False).parse(source)
    return bool(meta.find_undeclared_variables(parsed) & {"name", "email", "fields"})


def plain_template(source: str) -> Any:
    """A plain-text template parsed once, rendered per recipient."""
    return _environment(False).from_string(source)


@dataclass(frozen=True)
class Compiled:
    """A template parsed once and rendered per recipient. ``text_from_html`` marks a plain-text template that
    was derived from the HTML one (see :func:`text_template_of`); what it renders goes through
    :func:`tidy_text`."""

    subject: Any
    html: Any | None
    text: Any | None
    line: tuple[Any, ...] = ()  # messaging.line_messages.CompiledMessage
    text_from_html: bool = False

    @classmethod
    def of(cls, *, subject: str = "", html_source: str = "", text: str = "", line: tuple[Any, ...] = ()) -> Compiled:
        html = _fillable(html_source, autoescape=True) if html_source.strip() else None
        derived = text_template_of(html_source, html) if html is not None and not text.strip() else None
        return cls(subject=_fillable(subject), html=html, text=_fillable(text) if text.strip() else derived,
                   line=line, text_from_html=derived is not None)

    def render_text(self, ctx: dict[str, Any], html_body: str) -> str:
        """The plain-text body: the text template's, or one made from the rendered HTML."""
        if self.text is None:
            return text_from_html(html_body)
        text: str = self.text.render(ctx)
        return tidy_text(text) if self.text_from_html else text


def _fillable(source: str, *, autoescape: bool = False) -> Any:
    """``source`` as something with ``render(ctx)``: filled by plain substitution when it is only text and
    ``{{ value }}`` expressions (most mail), else the sandboxed Jinja template."""
    return (substitution.Substitution.of(source, autoescape=autoescape)
            or _environment(autoescape).from_string(source))


def context(*, name: str, email: str, fields: dict[str, Any], workspace: str, today: str) -> dict[str, Any]:
    # Only strings, numbers and lists of them reach the template: nothing with methods worth calling.
    safe_fields = {str(k): (v if isinstance(v, (str, int, float, list)) else str(v)) for k, v in fields.items()}
    return {"name": name, "email": email, "fields": safe_fields, "workspace": workspace, "today": today}


_HREF = re.compile(r'(<a\b[^>]*?\bhref\s*=\s*)(["\'])(https?://[^"\']+)\2', re.IGNORECASE)
# An address in plain text is the ASCII characters a URL may hold (RFC 3986). Japanese text usually runs straight
# on after an address with no space — "(https://…/menu)をご覧ください。" — so any other character ends it.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")


def rewrite_html_links(source: str, track: Any) -> str:
    """Every http(s) link in an <a href> goes through ``track(url) -> url``."""
    return _HREF.sub(lambda m: f"{m.group(1)}{m.group(2)}{html.escape(track(html.unescape(m.group(3))))}"
                     f"{m.group(2)}", source)


def rewrite_text_links(source: str, track: Any) -> str:
    """Every http(s) address in plain text goes through ``track``. Punctuation right after an address — the
    closing parenthesis of "(https://…)", a full stop — ends the sentence, not the address."""
    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)]" and not (url[-1] == ")" and url.count("(") >= url.count(")")):
            url, trail = url[:-1], url[-1] + trail
        return track(url) + trail

    return _URL.sub(one, source)


class _TextOfHtml(HTMLParser):
    BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "li", "tr", "table", "ul", "ol", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")
        if tag == "li":
            self.parts.append("・")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.href:
            self.parts.append(f" ({self.href})")
            self.href = None
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def text_from_html(source: str) -> str:
    """A readable plain-text part for mail written only in HTML: paragraphs, line breaks, list items and
    each link's address after its words."""
    parser = _TextOfHtml()
    parser.feed(source)
    parser.close()
    return tidy_text("".join(parser.parts))


def tidy_text(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _one_line(value: Any) -> Any:
    # What the HTML parser does to a rendered value (a run of spaces or line breaks becomes one space).
    return re.sub(r"\s+", " ", value) if isinstance(value, str) else value


@functools.cache
def _derived_environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True, finalize=_one_line)


_SAMPLE = {"name": "山田 太郎", "email": "yamada@example.jp", "fields": {}, "workspace": "ワークスペース",
           "today": "2026-01-02"}


def text_template_of(html_source: str, html: Any) -> Any | None:
    """The plain-text part of an HTML-only template, made into a template of its own once, so each mail
    renders it instead of parsing its rendered HTML (which cost more than the rest of composing it).

    Only for HTML whose template parts are plain ``{{ value }}`` expressions: control flow (``{% %}``), comments
    and ``safe`` could put tags in or take them out per recipient, so such templates keep
    :func:`text_from_html` per mail. The result is checked once against the per-mail way for a sample
    person; the two can differ only in a run of spaces where a person's value begins or ends with one."""
    if "{%" in html_source or "{#" in html_source or "safe" in html_source:
        return None
    try:
        text_source = text_from_html(html_source)
        derived = (substitution.Substitution.of(text_source, autoescape=False, finalize=_one_line)
                   or _derived_environment().from_string(text_source))
        same = tidy_text(derived.render(_SAMPLE)) == text_from_html(html.render(_SAMPLE))
    except Exception:  # noqa: BLE001 -- anything odd: keep the per-mail way
        return None
    return derived if same else None
