"""The file the demo's guide delivers: a short PDF in Japanese, made here so the demo needs no binary in the tree."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from musubi.commerce import downloads
from musubi.workspaces.models import Workspace
from musubi.workspaces.services import Actor

# reportlab's built-in Japanese font: every PDF reader supplies it, so nothing is embedded.
FONT = "HeiseiKakuGo-W5"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

GUIDE = ("副業スタートガイド", [
    ("第1章 副業を始める前に決めること",
     ["使える時間は週に何時間か。", "最初の3か月で目指す金額。", "家族に伝えておくこと。"]),
    ("第2章 最初の1万円を稼ぐまで",
     ["得意なことを一つ選び、小さく売ってみる。", "買ってくれた人の声を聞き、次に活かす。"]),
    ("第3章 続けるための時間の作り方", ["朝の30分を固定する。", "やらないことを先に決める。"]),
])


def guide_pdf(title: str, chapters: list[tuple[str, list[str]]]) -> bytes:
    """An A4 PDF: the title, then each chapter's heading and its points."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    y = A4[1] - 72
    canvas.setFont(FONT, 22)
    canvas.drawString(56, y, title)
    y -= 40
    for heading, points in chapters:
        canvas.setFont(FONT, 15)
        canvas.drawString(56, y, heading)
        y -= 24
        canvas.setFont(FONT, 11)
        for point in points:
            canvas.drawString(72, y, f"・{point}")
            y -= 18
        y -= 14
    canvas.setFont(FONT, 8)
    canvas.drawString(56, 40, "Musubi デモ")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def add_guide_pdf(workspace: Workspace, actor: Actor, offer_id: int) -> None:
    title, chapters = GUIDE
    data = guide_pdf(title, chapters)
    downloads.add_file(workspace=workspace, actor=actor, offer_id=offer_id, upload=io.BytesIO(data),
                       file_name="副業スタートガイド.pdf", size=len(data), content_type="application/pdf",
                       name="副業スタートガイド（PDF・全3章）")
