"""A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests, answering from records the test sets.

``standin.records[(name, type)] = [values]`` in zone-file text form, except TXT values, which are given as
the plain text and split into 255-byte strings as a DNS host does. Unknown names answer NXDOMAIN; a known
name without the asked type answers an empty NOERROR. ``standin.failing = True`` answers SERVFAIL.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def _txt_text(value: str) -> str:
    data = value.encode("utf-8")
    pieces = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join('"' + piece.decode("utf-8", "surrogateescape").replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for piece in pieces)


@dataclass
class DnsStandin:
    host: str
    port: int
    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    failing: bool = False
    queries: list[tuple[str, str]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def txt(self, name: str, *values: str) -> None:
        self.records[(name.lower().rstrip("."), "TXT")] = list(values)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        values = self.records.get((name, rdtype))
        if values:
            texts = [_txt_text(v) for v in values] if rdtype == "TXT" else values
            response.answer.append(dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, rdtype, texts))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()


@contextmanager
def dns_standin() -> Iterator[DnsStandin]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    standin = DnsStandin(host="127.0.0.1", port=sock.getsockname()[1])
    running = True

    def serve() -> None:
        while running:
            try:
                wire, client = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = standin.answer(wire)
            except Exception:  # noqa: BLE001 -- a malformed query is dropped, as a real server would
                reply = b""
            if reply:
                sock.sendto(reply, client)

    thread = threading.Thread(target=serve, name="dns-standin", daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        running = False
        thread.join(2)
        sock.close()
