"""Requests to addresses a workspace typed in (its outgoing webhook), which must not reach this machine or
the networks behind it.

An address is refused unless it is ``https://`` (``http://`` only with ``MUSUBI_WEBHOOK_ALLOW_HTTP``) and
every IP its name resolves to is public: not loopback, private, shared (CGNAT), link-local, multicast,
reserved, unspecified or documentation — for IPv4 and IPv6 alike, looking inside IPv4-mapped, NAT64, 6to4 and
Teredo IPv6 addresses at the IPv4 they carry. ``MUSUBI_WEBHOOK_ALLOWED_ADDRESSES`` lists exceptions (the test
settings allow 127.0.0.1 for their local receiver).

The check is made when the address is saved (:func:`check_url`, for a clear message) and again for every
request (:func:`post`): the name is resolved anew, the connection is made to an address that passed, and
the address the socket is actually connected to is checked once more — so a name that resolves to a public
address when saved and to an internal one later (DNS rebinding) is refused. Redirects are never followed:
the status is returned as it is. Proxies from the environment are not used.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from musubi.integrations.dns_check import resolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeAddress(ValueError):
    """The address may not be used. ``reason`` is one of ``scheme``, ``malformed``, ``unresolvable`` or
    ``internal``; ``address`` is the IP that was refused, when there is one."""

    def __init__(self, reason: str, detail: str, address: str = ""):
        super().__init__(detail)
        self.reason = reason
        self.address = address


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def _allowed_exceptions() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False)
            for item in getattr(settings, "MUSUBI_WEBHOOK_ALLOWED_ADDRESSES", []) or []]


def is_public(address: str | IPAddress) -> bool:
    """May a request go to this IP address?"""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if any(ip in network for network in _allowed_exceptions()):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public(embedded)
    refused = (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
               or ip.is_unspecified or not ip.is_global)
    return not refused


def parse(url: str) -> Target:
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeAddress("malformed", f"not a valid address: {exc}") from exc
    allowed = ("https", "http") if getattr(settings, "MUSUBI_WEBHOOK_ALLOW_HTTP", False) else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeAddress("scheme", f"the address must start with {' or '.join(s + '://' for s in allowed)}")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise UnsafeAddress("malformed", "the address needs a host name and no user name or password")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=parts.hostname, port=port or (443 if parts.scheme == "https" else 80),
                  path=path)


def resolve(host: str) -> list[IPAddress]:
    """The IP addresses of ``host`` (itself when it is one), through the resolver the DNS checks use."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    import dns.exception
    import dns.resolver

    found: list[IPAddress] = []
    ask = resolver()
    for rdtype in ("A", "AAAA"):
        try:
            answer = ask.resolve(host, rdtype, search=False)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except dns.exception.DNSException as exc:
            raise UnsafeAddress("unresolvable", f"{host} could not be resolved: {exc}") from exc
        found.extend(ipaddress.ip_address(record.address) for record in answer)
    if not found:
        raise UnsafeAddress("unresolvable", f"{host} does not resolve to any address")
    return found


def checked_addresses(target: Target) -> list[IPAddress]:
    """Every address of the target's host, refused as a whole if any one of them is internal (a name with
    one public and one private address could be steered to the private one)."""
    addresses = resolve(target.host)
    for address in addresses:
        if not is_public(address):
            raise UnsafeAddress("internal", f"{target.host} resolves to {address}, which is not a public address",
                                address=str(address))
    return addresses


def check_url(url: str) -> Target:
    target = parse(url)
    checked_addresses(target)
    return target


def _connect(address: IPAddress, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((str(address), port), timeout=timeout)
    peer = sock.getpeername()[0]
    if not is_public(peer.split("%", 1)[0]):
        sock.close()
        raise UnsafeAddress("internal", f"connected to {peer}, which is not a public address", address=peer)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to the host's name (for the Host header) made to an address already checked."""

    def __init__(self, target: Target, address: IPAddress, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)  # type: ignore[arg-type]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: the certificate is verified for the host's name, not the address."""

    def __init__(self, target: Target, address: IPAddress, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)  # type: ignore[arg-type]
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` and return the response's status (a redirect's too: it is not followed).
    Raises :class:`UnsafeAddress` when the address may not be reached, ``OSError`` when it cannot be."""
    target = parse(url)
    addresses = checked_addresses(target)
    last_error: OSError | None = None
    for address in addresses:
        kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        connection = kind(target, address, timeout)
        try:
            connection.request("POST", target.path, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read(64 * 1024)  # enough to end the exchange; the body is not used
            return int(response.status)
        except UnsafeAddress:
            raise
        except OSError as exc:
            last_error = exc
        finally:
            connection.close()
    assert last_error is not None  # noqa: S101 - addresses is never empty
    raise last_error
