"""Message bytes from a skeleton, read back with the stdlib parser."""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import UTC, datetime
from email.header import decode_header, make_header

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musubi.integrations.mime import BadHeader, MailSkeleton, encode_words

SKELETON = MailSkeleton(from_address="info@kenko.example.jp", from_name="すこやか健康食品店 お客様窓口",
                        reply_to="support@kenko.example.jp", reply_to_name="サポート",
                        headers={"Feedback-ID": "step3:kenko:musubi"})
UNSUBSCRIBE = "https://kenko.example.jp/u/Zm9vYmFy-0123456789"


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # only CRLF line ends
    return data[:-2].split(b"\r\n")


def text_of(part) -> str:
    return part.get_content().replace("\r\n", "\n")


def render(**overrides) -> bytes:
    values = {"to_address": "taro@example.com", "to_name": "山田 太郎", "subject": "山田様、3日目のご案内です",
              "text": "山田様\nこんにちは。", "html": "<p>山田様</p><p>こんにちは。</p>",
              "unsubscribe_url": UNSUBSCRIBE, "message_id": "delivery-42",
              "date": datetime(2026, 11, 22, 10, 30, tzinfo=UTC)}
    return SKELETON.render(**(values | overrides))


def test_every_header_round_trips_japanese_included():
    message = parse(render(unsubscribe_mailto="mailto:unsubscribe@kenko.example.jp?subject=stop"))

    assert message["From"].addresses[0].display_name == "すこやか健康食品店 お客様窓口"
    assert message["From"].addresses[0].addr_spec == "info@kenko.example.jp"
    assert message["Reply-To"].addresses[0].display_name == "サポート"
    assert message["Reply-To"].addresses[0].addr_spec == "support@kenko.example.jp"
    assert message["To"].addresses[0].display_name == "山田 太郎"
    assert message["To"].addresses[0].addr_spec == "taro@example.com"
    assert message["Subject"] == "山田様、3日目のご案内です"
    assert message["Message-ID"] == "<delivery-42@kenko.example.jp>"
    assert email.utils.parsedate_to_datetime(message["Date"]) == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@kenko.example.jp?subject=stop>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Feedback-ID"] == "step3:kenko:musubi"
    assert message["MIME-Version"] == "1.0"
    assert message.defects == []


def test_an_ideographic_space_in_a_name_is_kept():
    data = render(to_name="山田\u3000太郎")
    raw_to = data.split(b"\r\nTo: ")[1].split(b" <")[0]  # the encoded-words, unfolded below

    assert str(make_header(decode_header(raw_to.decode("ascii").replace("\r\n", "")))) == "山田\u3000太郎"


def test_both_bodies_round_trip_as_alternatives_text_first():
    message = parse(render())

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert text_of(message.get_body(("plain",))) == "山田様\nこんにちは。"
    assert text_of(message.get_body(("html",))) == "<p>山田様</p><p>こんにちは。</p>"
    assert {p.get_content_charset() for p in parts} == {"utf-8"}
    assert {p["Content-Transfer-Encoding"] for p in parts} == {"base64"}


def test_one_body_makes_a_single_part_message():
    text_only = parse(render(html=""))
    html_only = parse(render(text=""))

    assert (text_only.get_content_type(), text_of(text_only)) == ("text/plain", "山田様\nこんにちは。")
    assert html_only.get_content_type() == "text/html"
    assert not text_only.is_multipart()


def test_without_an_unsubscribe_url_there_is_no_one_click_header():
    message = parse(render(unsubscribe_url="", unsubscribe_mailto="mailto:u@kenko.example.jp"))
    plain = parse(render(unsubscribe_url=""))

    assert message["List-Unsubscribe"] == "<mailto:u@kenko.example.jp>"
    assert message["List-Unsubscribe-Post"] is None
    assert plain["List-Unsubscribe"] is None


def test_the_message_is_seven_bit_and_lines_stay_short():
    long_subject = "【本日限定】" + "青汁トライアルセットのご案内、" * 12
    data = render(subject=long_subject, text="あ" * 3000, html="<p>" + "い" * 3000 + "</p>")

    assert data.isascii()
    assert max(len(line) for line in lines(data)) <= 78
    assert parse(data)["Subject"] == long_subject


def test_a_long_ascii_subject_is_folded_between_words():
    subject = " ".join(f"word{n}" for n in range(60))
    data = render(subject=subject)

    header = data.split(b"\r\n\r\n")[0]
    assert b"=?" not in header.split(b"Subject:")[1].split(b"\r\nDate")[0]
    assert max(len(line) for line in lines(data)) <= 78
    assert parse(data)["Subject"] == subject


def test_an_unbreakable_long_url_stays_whole_and_within_the_hard_limit():
    url = "https://kenko.example.jp/u/" + "a" * 300
    data = render(unsubscribe_url=url)

    assert max(len(line) for line in lines(data)) <= 998
    assert parse(data)["List-Unsubscribe"] == f"<{url}>"


@pytest.mark.parametrize("field", ["subject", "to_name", "to_address", "unsubscribe_url"])
def test_a_line_break_in_a_header_value_is_refused(field):
    value = {"subject": "hi\r\nBcc: x@evil.example", "to_name": "太郎\nBcc: x@evil.example",
             "to_address": "taro@example.com\r\nBcc: x@evil.example",
             "unsubscribe_url": "https://kenko.example.jp/u\r\nBcc: x"}[field]

    with pytest.raises(BadHeader):
        render(**{field: value})


@pytest.mark.parametrize("address", ["taro", "太郎@example.com", "taro@exa mple.com", "<taro@example.com>"])
def test_an_address_that_is_not_plain_ascii_is_refused(address):
    with pytest.raises(BadHeader, match="To"):
        render(to_address=address)


def test_an_unsubscribe_url_must_be_https():
    with pytest.raises(BadHeader, match="https"):
        render(unsubscribe_url="http://kenko.example.jp/u/1")


def test_an_extra_header_may_not_replace_ours():
    with pytest.raises(BadHeader, match="Subject"):
        MailSkeleton(from_address="info@kenko.example.jp", headers={"Subject": "fixed"})


def test_message_ids_are_random_unless_given():
    first, second = parse(render(message_id="")), parse(render(message_id=""))

    assert first["Message-ID"] != second["Message-ID"]
    assert first["Message-ID"].endswith("@kenko.example.jp>")


def test_an_encoded_word_is_never_longer_than_75_characters():
    words = encode_words("漢字とかなカナ😀" * 30)

    assert max(len(word) for word in words) <= 75


header_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=200)
# Names: any printable character, with plain and ideographic spaces (as in 山田　太郎) among them.
name_text = st.text(st.one_of(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                              st.sampled_from(" \u3000")), max_size=60)
body_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=500)


@given(subject=header_text, name=name_text, text=body_text, html=body_text)
def test_any_subject_name_and_bodies_round_trip(subject, name, text, html):
    data = render(subject=subject, to_name=name, text=text or "x", html=html)
    message = parse(data)

    assert data.isascii()
    assert max(len(line) for line in lines(data)) <= 78
    assert str(message["Subject"]) == subject
    # The stdlib reads a phrase with its whitespace runs collapsed, so compare words.
    assert message["To"].addresses[0].display_name.split() == name.split()
    assert text_of(message.get_body(("plain",))) == (text or "x").replace("\r\n", "\n")
    if html:
        assert text_of(message.get_body(("html",))) == html


def test_the_date_is_now_unless_given():
    before = datetime.now(UTC).replace(microsecond=0)
    message = parse(render(date=None))
    after = datetime.now(UTC)

    assert before <= email.utils.parsedate_to_datetime(message["Date"]) <= after
