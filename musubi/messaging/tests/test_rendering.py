"""The template sandbox and the link rewriting, without a database."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from musubi.kernel.errors import InvalidInput
from musubi.messaging import rendering


def track(url: str) -> str:
    return f"<T:{url}>"


def test_an_address_in_parentheses_or_before_a_full_stop_is_tracked_without_them():
    text = "定期便のご案内 (https://kenko.example.jp/teiki) と https://kenko.example.jp/a. 詳しくは https://x.jp/(b)"
    assert rendering.rewrite_text_links(text, track) == (
        "定期便のご案内 (<T:https://kenko.example.jp/teiki>) と <T:https://kenko.example.jp/a>. "
        "詳しくは <T:https://x.jp/(b)>")


def test_japanese_running_straight_on_after_an_address_is_not_part_of_it():
    # What the text part derived from "<a href=…>こちらのメニュー</a>をご覧ください。" reads like.
    text = "こちらのメニュー (https://example.com/menu)をご覧ください。https://example.com/b?q=1、以上"
    assert rendering.rewrite_text_links(text, track) == (
        "こちらのメニュー (<T:https://example.com/menu>)をご覧ください。<T:https://example.com/b?q=1>、以上")


def test_html_links_are_tracked_with_their_entities_decoded_once():
    html = '<a href="https://kenko.example.jp/g?x=1&amp;y=2">here</a> <a href="mailto:a@b.jp">mail</a>'
    assert rendering.rewrite_html_links(html, track) == (
        '<a href="&lt;T:https://kenko.example.jp/g?x=1&amp;y=2&gt;">here</a> <a href="mailto:a@b.jp">mail</a>')


def test_the_text_of_html_keeps_paragraphs_items_and_link_addresses():
    text = rendering.text_from_html("<p>こんにちは<br>山田様</p><ul><li>一</li></ul><a href='https://x.jp'>見る</a>"
                                    "<style>p{}</style>")
    assert text == "こんにちは\n山田様\n\n・一\n\n見る (https://x.jp)\n"


@pytest.mark.parametrize("source", ["{{ secret_key }}", "{{ name.__class__ }}{{ request }}", "{% for x in %}"])
def test_unknown_names_and_broken_syntax_are_refused_when_saved(source):
    with pytest.raises(InvalidInput) as refused:
        rendering.check(source, field="html")
    assert "html" in refused.value.fields


def test_the_sandbox_refuses_to_reach_python_internals():
    compiled = rendering.Compiled.of(subject="{{ name.__class__.__mro__ }}")
    with pytest.raises(SecurityError):
        compiled.subject.render(rendering.context(name="x", email="", fields={}, workspace="w", today="t"))


def test_html_is_escaped_and_personal_text_is_detected():
    compiled = rendering.Compiled.of(html_source="<p>{{ name }}</p>")
    context = rendering.context(name="<b>x</b>", email="", fields={}, workspace="w", today="t")
    assert compiled.html.render(context) == "<p>&lt;b&gt;x&lt;/b&gt;</p>"
    assert rendering.is_personal("{{ name }}さん") and not rendering.is_personal("雨の日は半額")


PERSONAL_HTML = ("<html><body><p>{{ name }}様</p><p>{{ fields.plan }}のご案内です。<br>&amp; 特典つき</p>"
                 "<ul><li>{{ workspace }}</li></ul><a href='https://kenko.example.jp/order'>ご注文</a></body></html>")


@pytest.mark.parametrize("name", ["山田 太郎", "<b>A&B</b>", "複数\n行の\t名前", ""])
def test_the_text_part_made_once_from_html_reads_as_the_text_of_each_rendered_mail(name):
    compiled = rendering.Compiled.of(html_source=PERSONAL_HTML)
    context = rendering.context(name=name, email="a@b.jp", fields={"plan": "定期便"}, workspace="すこやか",
                                today="2026-11-23")

    assert compiled.text_from_html
    assert compiled.render_text(context, "") == rendering.text_from_html(compiled.html.render(context))


@pytest.mark.parametrize("source", ["{% if name %}<p>{{ name }}</p>{% endif %}", "<p>{{ name|safe }}</p>",
                                    "<p>{# a note #}{{ name }}</p>"])
def test_html_with_control_flow_or_raw_values_makes_its_text_part_per_mail(source):
    compiled = rendering.Compiled.of(html_source=source)
    context = rendering.context(name="<b>山田</b>", email="", fields={}, workspace="w", today="t")

    assert compiled.text is None and not compiled.text_from_html
    assert compiled.render_text(context, compiled.html.render(context)) == rendering.text_from_html(
        compiled.html.render(context))
