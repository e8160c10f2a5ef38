"""The file the demo's guide delivers: a one-page PDF, made here so the demo needs no binary in the tree."""

from __future__ import annotations

import io

from musubi.commerce import downloads
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor


def one_page_pdf(lines: list[str]) -> bytes:
    """A valid PDF 1.4 of one A4 page showing ``lines`` (ASCII) in Helvetica."""
    text = "BT /F1 16 Tf 56 780 Td 22 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for line in lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("ascii")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def add_guide_pdf(workspace: Workspace, actor: Actor, offer_id: int) -> None:
    data = one_page_pdf(["Side-business start guide (Musubi demo)", "",
                         "1. Decide before you start", "2. Your first 10,000 yen", "3. Making the time"])
    downloads.add_file(workspace=workspace, actor=actor, offer_id=offer_id, upload=io.BytesIO(data),
                       file_name="副業スタートガイド.pdf", size=len(data), content_type="application/pdf",
                       name="副業スタートガイド（PDF・全3章）")
