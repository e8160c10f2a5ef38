import pytest

from musubi.capture.rules import hash_ip, is_web_url, looks_like_bot, with_utm


def test_utm_parameters_are_added_without_overriding_the_owners_own():
    url = with_utm("https://shop.example.jp/trial?utm_source=flyer&x=1",
                   {"utm_source": "table-12", "utm_medium": "store_spot", "utm_campaign": "ABC"})
    assert url == "https://shop.example.jp/trial?utm_source=flyer&x=1&utm_medium=store_spot&utm_campaign=ABC"


@pytest.mark.parametrize(("agent", "bot"), [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1.15 Mobile/15E148 Line/13.1.0", False),
    ("Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36", False),
    ("facebookexternalhit/1.1", True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1)", True),
    ("Slackbot-LinkExpanding 1.0", True),
    ("", True),
])
def test_people_and_link_previews_are_told_apart(agent, bot):
    assert looks_like_bot(agent) is bot


def test_the_ip_hash_is_keyed_and_stable():
    assert hash_ip("203.0.113.9", key="a") == hash_ip("203.0.113.9", key="a")
    assert hash_ip("203.0.113.9", key="a") != hash_ip("203.0.113.9", key="b")
    assert "203" not in hash_ip("203.0.113.9", key="a")


@pytest.mark.parametrize(("url", "ok"), [("https://a.jp/x", True), ("http://a.jp", True),
                                         ("javascript:alert(1)", False), ("//a.jp", False), ("ftp://a.jp", False)])
def test_only_web_addresses_are_targets(url, ok):
    assert is_web_url(url) is ok
