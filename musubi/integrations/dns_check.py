"""Is a sending domain ready? SPF, DKIM and DMARC records read from DNS and checked against how we send.

Each check gives a :class:`Check`: a status (``ok``, ``missing``, ``wrong``, or ``unknown`` when DNS did
not answer) and a code naming the reason in plain words, which the domain page translates (the codes are
listed on :class:`Check`). Nothing here writes anything.

- SPF (RFC 7208): the one ``v=spf1`` TXT record of the domain must authorise each sending IP given (our own
  SMTP host) — evaluated the way a receiver does, through ``include:``, ``a``, ``mx``, ``ip4``/``ip6`` and
  ``redirect=``, within the limit of 10 DNS lookups — and reach each ``include:`` domain given (an email
  service's, e.g. ``_spf.example-esp.com``). ``+all`` lets anyone send as the domain and is wrong.
- DKIM (RFC 6376): the TXT record at ``<selector>._domainkey.<domain>`` must hold our public key.
- DMARC (RFC 7489): the TXT record at ``_dmarc.<domain>`` (or, failing that, at the organisational domain's)
  gives the policy; a signing domain, if given, must be aligned with the From domain under the record's
  ``adkim`` mode.

The resolver asks ``MUSUBI_DNS_SERVER`` ("host:port") when set, else the system's resolvers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings

__all__ = ["Check", "DomainCheck", "Status", "check_dkim", "check_dmarc", "check_domain", "check_spf",
           "organisational_domain", "resolver"]

SPF_LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4
# Registrable under these, so the organisational domain has one label more (a short list, not the whole
# Public Suffix List: Japanese shops use these; anything else counts as a two-label domain).
_MULTI_LABEL_SUFFIXES = frozenset({
    "co.jp", "ne.jp", "or.jp", "ac.jp", "ad.jp", "ed.jp", "go.jp", "gr.jp", "lg.jp",
    "co.uk", "org.uk", "ac.uk", "com.au", "net.au", "co.kr", "com.tw", "com.cn", "com.hk", "com.sg",
})


class Status(StrEnum):
    OK = "ok"
    MISSING = "missing"
    WRONG = "wrong"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Check:
    """The result of one check. ``code`` is one of:

    SPF: ``spf_ok``, ``spf_missing``, ``spf_multiple`` (more than one v=spf1 record: receivers reject all),
    ``spf_sender_not_listed`` (``missing`` names the IPs or includes not authorised), ``spf_allows_anyone``
    (+all), ``spf_too_many_lookups``, ``spf_lookup_failed``.
    DKIM: ``dkim_ok``, ``dkim_missing``, ``dkim_key_mismatch``, ``dkim_revoked`` (empty p=),
    ``dkim_lookup_failed``.
    DMARC: ``dmarc_ok``, ``dmarc_policy_none`` (ok, but only monitoring), ``dmarc_missing``,
    ``dmarc_multiple``, ``dmarc_invalid``, ``dmarc_not_aligned``, ``dmarc_lookup_failed``.
    """

    kind: str
    status: Status
    code: str
    record: str = ""
    missing: tuple[str, ...] = ()
    policy: str = ""
    aligned: bool | None = None


@dataclass(frozen=True)
class DomainCheck:
    spf: Check
    dkim: Check
    dmarc: Check

    @property
    def ready(self) -> bool:
        return all(check.status == Status.OK for check in (self.spf, self.dkim, self.dmarc))


class _LookupFailed(Exception):
    pass


def resolver() -> Any:
    """A dnspython resolver asking ``MUSUBI_DNS_SERVER`` if set, else the system's resolvers."""
    import dns.resolver

    server = getattr(settings, "MUSUBI_DNS_SERVER", "")
    if not server:
        found = dns.resolver.Resolver()
    else:
        host, port = _host_and_port(server)
        found = dns.resolver.Resolver(configure=False)
        found.nameservers = [host]
        found.port = port
    found.lifetime = float(getattr(settings, "MUSUBI_DNS_TIMEOUT", 5.0))
    return found


def _host_and_port(server: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, or a bare host or IPv6 address (port 53)."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


def _query(name: str, rdtype: str, dns_resolver: Any) -> list[Any]:
    """The answers, or [] when the name or the type does not exist; raises _LookupFailed when DNS fails."""
    import dns.exception
    import dns.resolver

    try:
        return list(dns_resolver.resolve(name, rdtype, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.DNSException, OSError) as exc:
        raise _LookupFailed(f"{name} {rdtype}: {exc}") from exc


def _txt(name: str, dns_resolver: Any) -> list[str]:
    # A TXT record is one or more strings of up to 255 bytes; a long key is split and must be joined.
    return [b"".join(answer.strings).decode("utf-8", "replace") for answer in _query(name, "TXT", dns_resolver)]


def _normalise(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


# --- SPF -------------------------------------------------------------------------------------------------

class _Spf:
    """A small SPF evaluator: enough to tell whether an IP is authorised and which includes are reached."""

    def __init__(self, dns_resolver: Any) -> None:
        self.resolver = dns_resolver
        self.lookups = 0
        self.includes_seen: set[str] = set()

    def count_lookup(self) -> None:
        self.lookups += 1
        if self.lookups > SPF_LOOKUP_LIMIT:
            raise _TooManyLookups

    def record(self, domain: str) -> str | None:
        records = [r for r in _txt(domain, self.resolver) if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]
        return records[0] if len(records) == 1 else None

    def passes(self, domain: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
               record: str | None = None) -> bool:
        """Whether ``record`` (or ``domain``'s) gives "pass" for ``ip``; with no IP it only walks includes."""
        record = record if record is not None else self.record(domain)
        if record is None:
            return False
        redirect = None
        for term in record.split()[1:]:
            lower = term.lower()
            if lower.startswith("redirect="):
                redirect = lower.split("=", 1)[1]
                continue
            if "=" in lower.split(":", 1)[0]:
                continue  # another modifier (exp=)
            qualifier = "+"
            if lower[0] in "+-~?":
                qualifier, lower = lower[0], lower[1:]
            if self.matches(domain, lower, ip):
                return qualifier == "+"
        if redirect:
            self.count_lookup()
            return self.passes(redirect, ip)
        return False

    def matches(self, domain: str, mechanism: str, ip: Any) -> bool:
        name, _, argument = mechanism.partition(":")
        name, _, cidr = name.partition("/")
        if "%" in argument:
            return False  # macros are not evaluated here
        if name == "all":
            return ip is not None
        if name == "include":
            self.count_lookup()
            self.includes_seen.add(_normalise(argument))
            return self.passes(_normalise(argument), ip)
        if name in ("a", "mx"):
            self.count_lookup()
            target, _, cidr_arg = (argument or domain).partition("/")
            return ip is not None and self.address_in(ip, self.addresses(name, target), cidr_arg or cidr)
        if name in ("ptr", "exists"):
            self.count_lookup()
            return False  # not evaluated: neither is how a shop should authorise its sender
        if name in ("ip4", "ip6") and ip is not None:
            try:
                return ip in ipaddress.ip_network(argument, strict=False)
            except ValueError:
                return False
        return False

    def addresses(self, kind: str, target: str) -> list[str]:
        hosts = [target]
        if kind == "mx":
            hosts = [str(answer.exchange).rstrip(".") for answer in _query(target, "MX", self.resolver)]
        found = []
        for host in hosts:
            for rdtype in ("A", "AAAA"):
                found += [answer.address for answer in _query(host, rdtype, self.resolver)]
        return found

    @staticmethod
    def address_in(ip: Any, addresses: list[str], cidr: str) -> bool:
        for address in addresses:
            candidate = ipaddress.ip_address(address)
            if candidate.version != ip.version:
                continue
            prefix = int(cidr) if cidr.isdigit() and candidate.version == 4 else candidate.max_prefixlen
            if ip in ipaddress.ip_network(f"{candidate}/{prefix}", strict=False):
                return True
        return False


class _TooManyLookups(Exception):
    pass


def check_spf(domain: str, *, sending_ips: Sequence[str] = (), includes: Sequence[str] = (),
              dns_resolver: Any = None) -> Check:
    """Whether ``domain``'s SPF record authorises every IP in ``sending_ips`` and reaches every domain in
    ``includes`` (directly or through other includes)."""
    domain, dns_resolver = _normalise(domain), dns_resolver or resolver()
    try:
        records = [r for r in _txt(domain, dns_resolver) if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]
        if not records:
            return Check("spf", Status.MISSING, "spf_missing")
        if len(records) > 1:
            return Check("spf", Status.WRONG, "spf_multiple", record=" | ".join(records))
        record = records[0]
        if any(term.lower() in ("all", "+all") for term in record.split()[1:]):
            return Check("spf", Status.WRONG, "spf_allows_anyone", record=record)
        not_listed = []
        evaluator = _Spf(dns_resolver)
        for address in sending_ips:
            evaluator.lookups = 0
            if not evaluator.passes(domain, ipaddress.ip_address(address), record):
                not_listed.append(address)
        evaluator.lookups = 0
        evaluator.passes(domain, None, record)  # walk every include
        not_listed += [include for include in includes if _normalise(include) not in evaluator.includes_seen]
    except _TooManyLookups:
        return Check("spf", Status.WRONG, "spf_too_many_lookups", record=record)
    except _LookupFailed:
        return Check("spf", Status.UNKNOWN, "spf_lookup_failed")
    if not_listed:
        return Check("spf", Status.WRONG, "spf_sender_not_listed", record=record, missing=tuple(not_listed))
    return Check("spf", Status.OK, "spf_ok", record=record)


# --- DKIM ------------------------------------------------------------------------------------------------

def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            tags[name.strip().lower()] = value.strip()
    return tags


def check_dkim(domain: str, *, selector: str, public_key: str, dns_resolver: Any = None) -> Check:
    """Whether ``<selector>._domainkey.<domain>`` publishes ``public_key`` (the ``p=`` value, or the whole
    record we asked the shop to publish)."""
    domain, dns_resolver = _normalise(domain), dns_resolver or resolver()
    expected = "".join(_tags(public_key).get("p", public_key).split())
    try:
        records = [r for r in _txt(f"{selector}._domainkey.{domain}", dns_resolver) if "p=" in r]
    except _LookupFailed:
        return Check("dkim", Status.UNKNOWN, "dkim_lookup_failed")
    if not records:
        return Check("dkim", Status.MISSING, "dkim_missing")
    record = records[0]
    published = "".join(_tags(record).get("p", "").split())
    if not published:
        return Check("dkim", Status.WRONG, "dkim_revoked", record=record)
    if published != expected:
        return Check("dkim", Status.WRONG, "dkim_key_mismatch", record=record)
    return Check("dkim", Status.OK, "dkim_ok", record=record)


# --- DMARC -----------------------------------------------------------------------------------------------

def organisational_domain(domain: str) -> str:
    """The registrable domain (``mail.kenko.co.jp`` → ``kenko.co.jp``), from a short list of suffixes."""
    labels = _normalise(domain).split(".")
    keep = 3 if ".".join(labels[-2:]) in _MULTI_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def aligned(from_domain: str, other: str, mode: str) -> bool:
    """DMARC identifier alignment: the same domain (strict) or the same organisational domain (relaxed)."""
    from_domain, other = _normalise(from_domain), _normalise(other)
    if mode == "s":
        return from_domain == other
    return organisational_domain(from_domain) == organisational_domain(other)


def check_dmarc(domain: str, *, signing_domain: str = "", dns_resolver: Any = None) -> Check:
    """``domain``'s DMARC policy, and whether mail signed by ``signing_domain`` is aligned with it."""
    domain, dns_resolver = _normalise(domain), dns_resolver or resolver()
    try:
        records = _dmarc_records(domain, dns_resolver)
        organisation = organisational_domain(domain)
        if not records and organisation != domain:
            records = _dmarc_records(organisation, dns_resolver)
    except _LookupFailed:
        return Check("dmarc", Status.UNKNOWN, "dmarc_lookup_failed")
    if not records:
        return Check("dmarc", Status.MISSING, "dmarc_missing")
    if len(records) > 1:
        return Check("dmarc", Status.WRONG, "dmarc_multiple", record=" | ".join(records))
    record = records[0]
    tags = _tags(record)
    policy = tags.get("p", "").lower()
    mode = tags.get("adkim", "r").lower()
    if policy not in ("none", "quarantine", "reject") or mode not in ("r", "s"):
        return Check("dmarc", Status.WRONG, "dmarc_invalid", record=record, policy=policy)
    is_aligned = aligned(domain, signing_domain, mode) if signing_domain else None
    if is_aligned is False:
        return Check("dmarc", Status.WRONG, "dmarc_not_aligned", record=record, policy=policy, aligned=False)
    code = "dmarc_policy_none" if policy == "none" else "dmarc_ok"
    return Check("dmarc", Status.OK, code, record=record, policy=policy, aligned=is_aligned)


def _dmarc_records(domain: str, dns_resolver: Any) -> list[str]:
    return [r for r in _txt(f"_dmarc.{domain}", dns_resolver)
            if r.replace(" ", "").upper().startswith("V=DMARC1;") or r.replace(" ", "").upper() == "V=DMARC1"]


def check_domain(domain: str, *, selector: str, public_key: str, sending_ips: Sequence[str] = (),
                 includes: Sequence[str] = (), signing_domain: str = "") -> DomainCheck:
    """All three checks for a sending domain (the From domain). ``signing_domain`` defaults to ``domain``
    (we sign with d= the From domain)."""
    dns_resolver = resolver()
    return DomainCheck(
        spf=check_spf(domain, sending_ips=sending_ips, includes=includes, dns_resolver=dns_resolver),
        dkim=check_dkim(signing_domain or domain, selector=selector, public_key=public_key,
                        dns_resolver=dns_resolver),
        dmarc=check_dmarc(domain, signing_domain=signing_domain or domain, dns_resolver=dns_resolver),
    )
