"""Sending-domain checks against a DNS server on 127.0.0.1 serving the records each test sets."""

from __future__ import annotations

import pytest

from musubi.integrations.dkim import generate_key
from musubi.integrations.dns_check import (
    Status,
    check_dkim,
    check_dmarc,
    check_domain,
    check_spf,
    organisational_domain,
    resolver,
)

DOMAIN = "kenko.example.jp"
KEY = generate_key()


def test_the_resolver_asks_the_configured_server(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 -all")

    check_spf(DOMAIN)

    assert resolver().nameservers == ["127.0.0.1"]
    assert dns_server.queries == [(DOMAIN, "TXT")]


def test_spf_authorising_our_ip_directly_is_ok(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 ip4:203.0.113.0/24 -all", "google-site-verification=abc")

    check = check_spf(DOMAIN, sending_ips=["203.0.113.25"])

    assert (check.status, check.code, check.record) == (Status.OK, "spf_ok", "v=spf1 ip4:203.0.113.0/24 -all")


def test_spf_through_includes_a_and_mx_is_followed(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 mx include:_spf.shop.example a:relay.kenko.example.jp ~all")
    dns_server.txt("_spf.shop.example", "v=spf1 include:_netblocks.shop.example ?all")
    dns_server.txt("_netblocks.shop.example", "v=spf1 ip4:198.51.100.0/25 ip6:2001:db8::/32 -all")
    dns_server.records[(DOMAIN, "MX")] = ["10 mx1.kenko.example.jp."]
    dns_server.records[("mx1.kenko.example.jp", "A")] = ["192.0.2.10"]
    dns_server.records[("relay.kenko.example.jp", "A")] = ["192.0.2.77"]

    check = check_spf(DOMAIN, sending_ips=["198.51.100.7", "2001:db8::25", "192.0.2.10", "192.0.2.77"],
                      includes=["_netblocks.shop.example"])

    assert (check.status, check.code) == (Status.OK, "spf_ok")


def test_spf_not_listing_our_ip_or_the_services_include_is_wrong(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 ip4:203.0.113.5 include:_spf.other.example -all")
    dns_server.txt("_spf.other.example", "v=spf1 ip4:192.0.2.0/24 -all")

    check = check_spf(DOMAIN, sending_ips=["203.0.113.6", "203.0.113.5"], includes=["_spf.esp.example"])

    assert (check.status, check.code) == (Status.WRONG, "spf_sender_not_listed")
    assert check.missing == ("203.0.113.6", "_spf.esp.example")


def test_an_ip_under_a_fail_qualifier_is_not_authorised(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 -ip4:203.0.113.6 ip4:203.0.113.0/24 -all")

    assert check_spf(DOMAIN, sending_ips=["203.0.113.6"]).missing == ("203.0.113.6",)


def test_spf_redirect_is_followed(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 redirect=_spf.kenko.example.jp")
    dns_server.txt("_spf.kenko.example.jp", "v=spf1 ip4:203.0.113.9 -all")

    assert check_spf(DOMAIN, sending_ips=["203.0.113.9"]).status == Status.OK


def test_no_spf_record_is_missing(dns_server):
    dns_server.txt(DOMAIN, "some other text")

    assert (check_spf(DOMAIN).status, check_spf(DOMAIN).code) == (Status.MISSING, "spf_missing")


def test_an_unknown_domain_is_missing_everything(dns_server):
    result = check_domain("nowhere.example", selector="musubi", public_key=KEY.dns_value)

    assert [c.status for c in (result.spf, result.dkim, result.dmarc)] == [Status.MISSING] * 3
    assert not result.ready


def test_two_spf_records_are_wrong(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 ip4:203.0.113.5 -all", "v=spf1 include:_spf.esp.example -all")

    assert check_spf(DOMAIN).code == "spf_multiple"


def test_plus_all_is_wrong(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 +all")

    assert (check_spf(DOMAIN).status, check_spf(DOMAIN).code) == (Status.WRONG, "spf_allows_anyone")


def test_more_than_ten_lookups_is_wrong(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 " + " ".join(f"include:n{i}.example" for i in range(11)) + " -all")
    for i in range(11):
        dns_server.txt(f"n{i}.example", "v=spf1 -all")

    assert check_spf(DOMAIN, sending_ips=["192.0.2.1"]).code == "spf_too_many_lookups"


def test_a_failing_dns_server_is_unknown_not_missing(dns_server):
    dns_server.failing = True

    result = check_domain(DOMAIN, selector="musubi", public_key=KEY.dns_value)

    assert {c.status for c in (result.spf, result.dkim, result.dmarc)} == {Status.UNKNOWN}
    assert (result.spf.code, result.dkim.code, result.dmarc.code) == (
        "spf_lookup_failed", "dkim_lookup_failed", "dmarc_lookup_failed")


def test_the_published_dkim_key_split_into_strings_matches(dns_server):
    dns_server.txt(f"musubi._domainkey.{DOMAIN}", KEY.dns_value)  # over 255 bytes: served as several strings

    check = check_dkim(DOMAIN, selector="musubi", public_key=KEY.dns_value)

    assert len(KEY.dns_value) > 255
    assert (check.status, check.code, check.record) == (Status.OK, "dkim_ok", KEY.dns_value)


def test_another_key_at_the_selector_is_a_mismatch(dns_server):
    dns_server.txt(f"musubi._domainkey.{DOMAIN}", generate_key().dns_value)

    assert check_dkim(DOMAIN, selector="musubi", public_key=KEY.dns_value).code == "dkim_key_mismatch"


def test_an_empty_key_is_revoked_and_none_is_missing(dns_server):
    dns_server.txt(f"old._domainkey.{DOMAIN}", "v=DKIM1; k=rsa; p=")

    assert check_dkim(DOMAIN, selector="old", public_key=KEY.dns_value).code == "dkim_revoked"
    assert check_dkim(DOMAIN, selector="musubi", public_key=KEY.dns_value).status == Status.MISSING


@pytest.mark.parametrize(("record", "status", "code", "policy"), [
    ("v=DMARC1; p=reject; rua=mailto:dmarc@kenko.example.jp", Status.OK, "dmarc_ok", "reject"),
    ("v=DMARC1; p=quarantine; adkim=s", Status.OK, "dmarc_ok", "quarantine"),
    ("v=DMARC1; p=none", Status.OK, "dmarc_policy_none", "none"),
    ("v=DMARC1; p=maybe", Status.WRONG, "dmarc_invalid", "maybe"),
])
def test_the_dmarc_policy_is_read(dns_server, record, status, code, policy):
    dns_server.txt(f"_dmarc.{DOMAIN}", record)

    check = check_dmarc(DOMAIN, signing_domain=DOMAIN)

    assert (check.status, check.code, check.policy, check.record) == (status, code, policy, record)
    assert check.aligned is (True if status == Status.OK else None)


def test_dmarc_falls_back_to_the_organisational_domain(dns_server):
    dns_server.txt("_dmarc.kenko.co.jp", "v=DMARC1; p=quarantine")

    check = check_dmarc("mail.kenko.co.jp", signing_domain="kenko.co.jp")

    assert (check.status, check.policy, check.aligned) == (Status.OK, "quarantine", True)


def test_a_signing_domain_outside_the_organisation_is_not_aligned(dns_server):
    dns_server.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=reject")
    dns_server.txt("_dmarc.news.kenko.example.jp", "v=DMARC1; p=reject; adkim=s")

    relaxed = check_dmarc(DOMAIN, signing_domain="esp-mailer.example")
    strict = check_dmarc("news.kenko.example.jp", signing_domain=DOMAIN)

    assert (relaxed.status, relaxed.code, relaxed.aligned) == (Status.WRONG, "dmarc_not_aligned", False)
    assert (strict.code, strict.aligned) == ("dmarc_not_aligned", False)


def test_two_dmarc_records_are_wrong(dns_server):
    dns_server.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=reject", "v=DMARC1; p=none")

    assert check_dmarc(DOMAIN).code == "dmarc_multiple"


def test_a_domain_set_up_right_is_ready(dns_server):
    dns_server.txt(DOMAIN, "v=spf1 ip4:203.0.113.25 -all")
    dns_server.txt(f"musubi._domainkey.{DOMAIN}", KEY.dns_value)
    dns_server.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=quarantine")

    result = check_domain(DOMAIN, selector="musubi", public_key=KEY.dns_value, sending_ips=["203.0.113.25"])

    assert result.ready
    assert (result.spf.code, result.dkim.code, result.dmarc.code) == ("spf_ok", "dkim_ok", "dmarc_ok")


@pytest.mark.parametrize(("domain", "organisation"), [
    ("mail.kenko.co.jp", "kenko.co.jp"), ("kenko.co.jp", "kenko.co.jp"), ("a.b.example.com", "example.com"),
    ("example.jp", "example.jp"),
])
def test_the_organisational_domain(domain, organisation):
    assert organisational_domain(domain) == organisation
