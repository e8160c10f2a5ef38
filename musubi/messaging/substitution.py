"""Filling a template that is only text and ``{{ value }}`` expressions by plain substitution.

Most mail templates name a few values (``{{ name }}``, ``{{ fields.plan }}``) and nothing else; rendering
them through Jinja costs a new context and a generated function call per part for every recipient. Here such
a template is cut once into its text and the values it names, and each mail is joined from them, with the
same escaping (``markupsafe.escape``, what Jinja's autoescape applies), the same newline handling (Jinja
turns ``\\r\\n`` and ``\\r`` in template text into ``\\n``) and the same answer for a value that is not there
(an empty string). Anything else — tags (``{% %}``), comments, filters, whitespace control, other
expressions — is left to Jinja: :meth:`Substitution.of` returns None for it. The tests compare both on
varied templates and values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from markupsafe import escape

_EXPRESSION = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))? *\}\}")
_NEWLINES = re.compile(r"\r\n|\r")
# A part of ``fields`` named like a method of dict would be that method in Jinja, not the field.
_DICT_NAMES = frozenset(dir(dict))
_MISSING = object()


class Substitution:
    def __init__(self, parts: list[str], names: list[tuple[str, str | None]], *, autoescape: bool,
                 finalize: Callable[[Any], Any] | None) -> None:
        self.parts = parts  # text before each name, and after the last one
        self.names = names
        self.autoescape = autoescape
        self.finalize = finalize

    @classmethod
    def of(cls, source: str, *, autoescape: bool, finalize: Callable[[Any], Any] | None = None
           ) -> Substitution | None:
        if "{%" in source or "{#" in source:
            return None
        parts: list[str] = []
        names: list[tuple[str, str | None]] = []
        start = 0
        for match in _EXPRESSION.finditer(source):
            name, key = match.group(1), match.group(2)
            if key is not None and (name != "fields" or key in _DICT_NAMES):
                return None
            parts.append(source[start:match.start()])
            names.append((name, key))
            start = match.end()
        parts.append(source[start:])
        if any("{{" in part or "}}" in part for part in parts) or any(part.endswith("{") for part in parts[:-1]):
            return None  # an expression of another shape ("{{{ name }}" is one too): Jinja's
        return cls([_NEWLINES.sub("\n", part) for part in parts], names, autoescape=autoescape, finalize=finalize)

    def render(self, ctx: dict[str, Any]) -> str:
        out = [self.parts[0]]
        for (name, key), after in zip(self.names, self.parts[1:], strict=True):
            value = ctx.get(name, _MISSING)
            if key is not None:
                value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
            if value is _MISSING:  # not there: Jinja's undefined renders as nothing
                out.append("")
            else:
                if self.finalize is not None:
                    value = self.finalize(value)
                out.append(str(escape(value)) if self.autoescape else str(value))
            out.append(after)
        return "".join(out)
