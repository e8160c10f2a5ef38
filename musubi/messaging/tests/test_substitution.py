"""Plain substitution fills a template exactly as the sandboxed Jinja render does, on varied templates and
values, and leaves to Jinja every template it cannot fill the same way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musubi.messaging import rendering
from musubi.messaging.substitution import Substitution

NAMES = ["name", "email", "workspace", "today", "fields.plan", "fields.points", "fields.tags", "fields.missing",
         "unknown", "fields.items"]
values = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6), st.floats(allow_nan=False, width=32),
                   st.lists(st.text(max_size=4), max_size=3))
text = st.lists(st.sampled_from([*"あ山a <>&\"'\r\n\t{}%#.-", "様", "{{", "}}", "{%", "{#"]),
               max_size=12).map("".join)


def _jinja(source: str, autoescape: bool, finalize=None):
    if finalize is not None:
        return rendering._derived_environment().from_string(source)
    return rendering._environment(autoescape).from_string(source)


@st.composite
def templates(draw):
    pieces = []
    for _ in range(draw(st.integers(0, 5))):
        pieces.append(draw(text))
        spaces = draw(st.sampled_from(["", " ", "  "]))
        pieces.append("{{" + spaces + draw(st.sampled_from(NAMES)) + spaces + "}}")
    pieces.append(draw(text))
    return "".join(pieces)


@st.composite
def contexts(draw):
    ctx = rendering.context(name=draw(st.text(max_size=8)), email=draw(st.text(max_size=8)),
                            workspace=draw(st.text(max_size=8)), today="2026-11-23",
                            fields={"plan": draw(values), "points": draw(values), "tags": draw(values)})
    return ctx


@settings(max_examples=400, deadline=None)
@given(templates(), contexts(), st.sampled_from(["plain", "html", "derived"]))
def test_a_substituted_template_renders_exactly_as_jinja_does(source, ctx, kind):
    autoescape = kind == "html"
    finalize = rendering._one_line if kind == "derived" else None
    try:
        expected = _jinja(source, autoescape, finalize).render(ctx)
    except Exception:  # noqa: BLE001 -- not a template Jinja takes: substitution must not take it either
        assert Substitution.of(source, autoescape=autoescape, finalize=finalize) is None
        return
    filled = Substitution.of(source, autoescape=autoescape, finalize=finalize)
    if filled is not None:
        assert filled.render(ctx) == expected


@pytest.mark.parametrize("source", [
    "{{ name|upper }}様", "{% if name %}{{ name }}{% endif %}", "{# note #}{{ name }}", "{{- name }}",
    "{{ fields['plan'] }}", "{{ name ~ email }}", "{{{ name }}", "{{ fields.keys }}", "{{ workspace.x }}",
    "{{\tname }}"])
def test_templates_that_are_more_than_values_are_left_to_jinja(source):
    assert Substitution.of(source, autoescape=True) is None


def test_a_mail_template_of_values_is_filled_by_substitution_with_escaping_and_newlines_as_jinja():
    source = "<p>{{ name }}様</p>\r\n<p>プラン: {{ fields.plan }} / {{fields.missing}}</p>\r"
    ctx = rendering.context(name="<山田 & \"太郎\">", email="a@example.jp", workspace="店", today="2026-11-23",
                            fields={"plan": "ゴールド's"})
    compiled = rendering.Compiled.of(subject="{{ name }}様へ", html_source=source)
    assert isinstance(compiled.html, Substitution) and isinstance(compiled.subject, Substitution)
    assert compiled.html.render(ctx) == _jinja(source, True).render(ctx)
    assert compiled.html.render(ctx) == "<p>&lt;山田 &amp; &#34;太郎&#34;&gt;様</p>\n<p>プラン: ゴールド&#39;s / </p>\n"
    assert compiled.subject.render(ctx) == "<山田 & \"太郎\">様へ"
    # The plain-text part derived from the HTML takes the same path.
    derived = rendering.Compiled.of(html_source="<p>{{ name }}様、{{ fields.plan }}プランです</p>")
    assert isinstance(derived.text, Substitution)
    assert derived.render_text(ctx, "") == "<山田 & \"太郎\">様、ゴールド'sプランです\n"
