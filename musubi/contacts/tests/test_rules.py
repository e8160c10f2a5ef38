import pytest

from musubi.contacts.rules import (
    InvalidAddress,
    may_send_marketing,
    normalise_email,
    normalise_line_user_id,
    normalise_phone,
    pseudonym,
    wording_hash,
)


@pytest.mark.parametrize(("typed", "stored"), [
    ("Taro@Example.JP", "taro@example.jp"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),  # typed on a Japanese keyboard in full width
    ("  hanako@example.com ", "hanako@example.com"),
])
def test_emails_are_stored_one_way(typed, stored):
    assert normalise_email(typed) == stored


@pytest.mark.parametrize("bad", ["taro", "taro@", "@example.jp", "taro@example", "ta ro@example.jp"])
def test_malformed_emails_are_refused(bad):
    with pytest.raises(InvalidAddress):
        normalise_email(bad)


@pytest.mark.parametrize(("typed", "e164"), [
    ("090-1234-5678", "+819012345678"),
    ("０９０（１２３４）５６７８", "+819012345678"),
    ("03-1234-5678", "+81312345678"),
    ("+81 90 1234 5678", "+819012345678"),
    ("+1 (415) 555-0100", "+14155550100"),
])
def test_phone_numbers_become_e164(typed, e164):
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize("bad", ["12345", "090-1234-567a", "4155550100", "+12"])
def test_phone_numbers_that_cannot_be_read_are_refused(bad):
    with pytest.raises(InvalidAddress):
        normalise_phone(bad)


def test_line_user_ids_have_their_documented_shape():
    assert normalise_line_user_id(" U" + "a" * 32 + " ") == "U" + "a" * 32
    with pytest.raises(InvalidAddress):
        normalise_line_user_id("U123")


def test_the_same_wording_hashes_the_same_whatever_the_spacing():
    assert wording_hash("メールマガジンを 受け取る") == wording_hash(" メールマガジンを\n受け取る ")
    assert wording_hash("受け取る") != wording_hash("受け取らない")


def test_pseudonyms_are_stable_and_do_not_contain_the_address():
    assert pseudonym("taro@example.jp") == pseudonym("taro@example.jp")
    assert "taro" not in pseudonym("taro@example.jp")


@pytest.mark.parametrize(("basis", "withdrawn", "suppressed", "allowed"), [
    (True, False, False, True),
    (False, False, False, False),
    (True, True, False, False),
    (True, False, True, False),  # suppression beats every basis
])
def test_marketing_needs_a_basis_not_withdrawn_and_no_suppression(basis, withdrawn, suppressed, allowed):
    assert may_send_marketing(has_basis=basis, withdrawn=withdrawn, suppressed=suppressed) is allowed
