"""Which addresses a workspace's webhook may reach: public ones only, however the private one is written."""

import pytest

from musubi.integrations import safe_http

REFUSED = [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0", "224.0.0.1",  # noqa: S104 - an address refused, not bound "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.10", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "133.242.0.1", "2606:4700:4700::1111", "2404:6800:4004::200e", "::ffff:8.8.8.8",
          "203.104.128.1"]


@pytest.fixture
def no_exceptions(settings):
    settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = []


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(no_exceptions, address):
    assert not safe_http.is_public(address)
    with pytest.raises(safe_http.UnsafeAddress) as refused:
        safe_http.check_url(f"https://[{address}]/hook" if ":" in address else f"https://{address}/hook")
    assert refused.value.reason == "internal"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(no_exceptions, address):
    assert safe_http.is_public(address)


def test_an_allowed_exception_lets_one_private_address_through(settings):
    settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = ["127.0.0.1"]
    assert safe_http.is_public("127.0.0.1") and safe_http.is_public("::ffff:127.0.0.1")
    assert not safe_http.is_public("127.0.0.2") and not safe_http.is_public("10.0.0.1")


@pytest.mark.parametrize(("url", "reason"), [
    ("http://8.8.8.8/hook", "scheme"), ("ftp://8.8.8.8/", "scheme"), ("file:///etc/passwd", "scheme"),
    ("https://user:pw@8.8.8.8/", "malformed"), ("https:///nohost", "malformed"),
    ("https://8.8.8.8:99999/", "malformed"),
])
def test_only_https_with_a_plain_host(settings, url, reason):
    settings.MUSUBI_WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(safe_http.UnsafeAddress) as refused:
        safe_http.check_url(url)
    assert refused.value.reason == reason


def test_a_name_is_refused_when_any_of_its_addresses_is_internal(no_exceptions, dns_server):
    dns_server.records[("hooks.example.jp", "A")] = ["8.8.8.8"]
    dns_server.records[("hooks.example.jp", "AAAA")] = ["fd00::5"]
    with pytest.raises(safe_http.UnsafeAddress, match="fd00::5"):
        safe_http.check_url("https://hooks.example.jp/hook")
    dns_server.records[("hooks.example.jp", "AAAA")] = ["2404:6800:4004::200e"]
    assert safe_http.check_url("https://hooks.example.jp/hook").host == "hooks.example.jp"


def test_a_name_that_does_not_resolve_is_refused(dns_server):
    with pytest.raises(safe_http.UnsafeAddress) as refused:
        safe_http.check_url("https://nowhere.example.jp/hook")
    assert refused.value.reason == "unresolvable"
