"""The printed form of a receipt, an invoice or a refund note: one A4 page drawn with reportlab.

The wording is Japanese whatever the reader's language: these are Japanese tax documents, and the words the
invoice system looks for (適格請求書, 登録番号, 軽減税率対象, 消費税) are part of what makes them valid.
A document issued without a registration number never uses the word 適格.

The text uses reportlab's built-in Japanese CID font (HeiseiKakuGo-W5), which every PDF reader supplies, so
no font file ships with Musubi. ``invariant`` drops the creation time and random file id from the PDF, so
the same document renders to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from decimal import Decimal
from typing import Any

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from musubi.commerce.models import SalesDocument
from musubi.kernel import clock
from musubi.kernel.money import Money

FONT = "HeiseiKakuGo-W5"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

WIDTH, HEIGHT = A4
LEFT, RIGHT = 50.0, WIDTH - 50.0
GREY = Color(0.45, 0.45, 0.45)
RED = Color(0.75, 0.1, 0.1)
REDUCED_MARK = "※"
ROUNDING_NOTE = "消費税額は税率ごとに合計した金額から計算し、1円未満を切り捨てています。"
REFUND_NOTE = "この書類は先に発行した書類を変更するものではなく、その後の返金をお知らせするものです。"

TITLES = {  # (qualified, not qualified)
    "receipt": ("領収書", "領収書"),
    "invoice": ("適格請求書", "請求書"),
    "refund_note": ("適格返還請求書", "返金明細書"),
}


def title_of(document: SalesDocument) -> str:
    qualified, plain = TITLES[document.kind]
    return qualified if document.qualified else plain


def japanese_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


def rate_label(rate: str) -> str:
    return f"{(Decimal(rate) * 100).normalize():f}%"


def render(document: SalesDocument, *, copy: bool = False) -> bytes:
    """The document as PDF; ``copy`` marks it 再発行 with today's date (in the workspace's time zone)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"{title_of(document)} No. {document.display_number}")
    _Page(canvas, document, copy=copy).draw()
    canvas.save()
    return buffer.getvalue()


class _Page:
    def __init__(self, canvas: Canvas, document: SalesDocument, *, copy: bool) -> None:
        self.canvas = canvas
        self.document = document
        self.content: dict[str, Any] = document.content
        self.copy = copy
        self.currency = self.content.get("currency", "JPY")

    def money(self, amount: int) -> str:
        return Money(int(amount), self.currency).format()

    def text(self, x: float, y: float, value: str, *, size: float = 10, color: Color = black,
             align: str = "left") -> None:
        self.canvas.setFont(FONT, size)
        self.canvas.setFillColor(color)
        if align == "right":
            self.canvas.drawRightString(x, y, value)
        elif align == "centre":
            self.canvas.drawCentredString(x, y, value)
        else:
            self.canvas.drawString(x, y, value)
        self.canvas.setFillColor(black)

    def fitted(self, value: str, width: float, size: float) -> str:
        """``value`` cut with … to fit ``width`` (a product name longer than its column)."""
        if pdfmetrics.stringWidth(value, FONT, size) <= width:
            return value
        while value and pdfmetrics.stringWidth(value + "…", FONT, size) > width:
            value = value[:-1]
        return value + "…"

    def draw(self) -> None:
        self.header()
        y = self.recipient_and_issuer(HEIGHT - 130)
        y = self.amount_box(y - 10)
        y = self.particulars(y - 24)
        y = self.items(y - 16)
        y = self.tax_summary(y - 8)
        self.footnotes(y - 16)

    def header(self) -> None:
        if self.copy:  # first, so a reader of the text meets the mark before anything else
            self.canvas.setStrokeColor(RED)
            self.canvas.setLineWidth(1.5)
            self.canvas.rect(LEFT, HEIGHT - 80, 70, 30)
            self.text(LEFT + 35, HEIGHT - 71, "再発行", size=14, color=RED, align="centre")
            self.text(LEFT, HEIGHT - 94, f"再発行日 {japanese_date(self.local_day(clock.now()))}", size=8,
                      color=RED)
            self.canvas.setStrokeColor(black)
            self.canvas.setLineWidth(1)
        self.text(WIDTH / 2, HEIGHT - 70, title_of(self.document), size=24, align="centre")
        self.text(RIGHT, HEIGHT - 52, f"No. {self.document.display_number}", align="right")
        issued = self.local_day(self.document.issued_at)
        self.text(RIGHT, HEIGHT - 66, f"発行日 {japanese_date(issued)}", align="right")

    def local_day(self, at: dt.datetime) -> str:
        return at.astimezone(zoneinfo.ZoneInfo(self.document.workspace.timezone)).date().isoformat()

    def recipient_and_issuer(self, top: float) -> float:
        name = self.fitted(f"{self.content['recipient']} 様", 250, 15)
        self.text(LEFT, top, name, size=15)
        self.canvas.line(LEFT, top - 5, LEFT + 260, top - 5)
        issuer = self.content["issuer"]
        x, y = 330.0, top
        self.text(x, y, self.fitted(issuer["name"], RIGHT - x, 11), size=11)
        for line in simpleSplit(issuer.get("address", ""), FONT, 9, RIGHT - x)[:3]:
            y -= 13
            self.text(x, y, line, size=9)
        if issuer.get("phone"):
            y -= 13
            self.text(x, y, f"TEL {issuer['phone']}", size=9)
        if self.document.qualified:
            y -= 14
            self.text(x, y, f"登録番号 {issuer['registration_number']}", size=10)
        return min(y, top - 30) - 12

    def amount_box(self, top: float) -> float:
        label = {"receipt": "金額", "invoice": "ご請求金額", "refund_note": "ご返金額"}[self.document.kind]
        self.canvas.setFillColor(Color(0.95, 0.95, 0.95))
        self.canvas.rect(LEFT, top - 40, 300, 40, stroke=1, fill=1)
        self.canvas.setFillColor(black)
        self.text(LEFT + 10, top - 26, label, size=12)
        self.text(LEFT + 290, top - 27, f"{self.money(self.content['total'])} -（税込）", size=16, align="right")
        y = top - 56
        if self.document.kind == "receipt":
            self.text(LEFT, y, "但し 商品代金として、上記の金額を正に領収いたしました。", size=10)
            y -= 14
        return y

    def particulars(self, top: float) -> float:
        rows = [("注文番号", self.content["order_number"]),
                ("取引年月日", japanese_date(self.content["transaction_date"]))]
        kind = self.document.kind
        if kind in ("receipt", "invoice"):
            rows.append(("お支払方法", self.content.get("payment_method", "")))
        if kind == "receipt" or (kind == "invoice" and self.content.get("paid_on")):
            rows.append(("領収日" if kind == "receipt" else "お支払日", japanese_date(self.content["paid_on"])))
        if kind == "invoice" and self.content.get("pay_by"):
            rows.append(("お支払期限", japanese_date(self.content["pay_by"])))
        if kind == "refund_note":
            for refund in self.content["refunds"]:
                reason = f"（{refund['reason']}）" if refund.get("reason") else ""
                rows.append(("返金日", f"{japanese_date(refund['on'])}  {self.money(refund['amount'])}{reason}"))
            if self.content.get("earlier_documents"):
                rows.append(("先に発行した書類", "No. " + ", No. ".join(self.content["earlier_documents"])))
        y = top
        for label, value in rows:
            self.text(LEFT, y, label, size=9, color=GREY)
            self.text(LEFT + 90, y, self.fitted(str(value), RIGHT - LEFT - 90, 10), size=10)
            y -= 15
        if kind == "invoice" and self.content.get("bank_account"):
            self.text(LEFT, y, "お振込先", size=9, color=GREY)
            for line in simpleSplit(self.content["bank_account"], FONT, 10, RIGHT - LEFT - 90)[:4]:
                self.text(LEFT + 90, y, line, size=10)
                y -= 14
        return y

    COLUMNS = (("品目", LEFT + 4, "left"), ("数量", 330.0, "right"), ("単価", 410.0, "right"),
               ("金額", 490.0, "right"), ("税率", RIGHT - 4, "right"))

    def items(self, top: float) -> float:
        if self.document.kind == "refund_note":
            self.text(LEFT, top, "元のお取引の内容", size=10)
            top -= 16
        self.canvas.setFillColor(Color(0.9, 0.9, 0.9))
        self.canvas.rect(LEFT, top - 6, RIGHT - LEFT, 18, stroke=0, fill=1)
        self.canvas.setFillColor(black)
        for heading, x, align in self.COLUMNS:
            self.text(x, top, heading, size=9, align=align)
        y = top - 20
        for line in self.content["lines"]:
            mark = f" {REDUCED_MARK}" if line["reduced"] else ""
            self.text(LEFT + 4, y, self.fitted(line["description"], 230, 10) + mark, size=10)
            self.text(330, y, str(line["quantity"]), size=10, align="right")
            self.text(410, y, self.money(line["unit_price"]), size=10, align="right")
            self.text(490, y, self.money(line["amount"]), size=10, align="right")
            self.text(RIGHT - 4, y, rate_label(line["rate"]) + mark, size=10, align="right")
            self.canvas.setStrokeColor(Color(0.8, 0.8, 0.8))
            self.canvas.line(LEFT, y - 6, RIGHT, y - 6)
            self.canvas.setStrokeColor(black)
            y -= 20
        return y

    def tax_summary(self, top: float) -> float:
        """Per rate: the tax-inclusive total and the consumption tax in it, computed once per rate."""
        reduced = {line["rate"] for line in self.content["lines"] if line["reduced"]}
        what = "返金額" if self.document.kind == "refund_note" else "対象"
        y = top
        for tax in self.content["taxes"]:
            mark = REDUCED_MARK if tax["rate"] in reduced else ""
            self.text(300, y, f"{rate_label(tax['rate'])}{what}{mark}", size=10)
            self.text(420, y, self.money(tax["gross"]), size=10, align="right")
            self.text(RIGHT - 4, y, f"（うち消費税 {self.money(tax['tax'])}）", size=9, align="right")
            y -= 16
        self.canvas.line(300, y + 8, RIGHT, y + 8)
        self.text(300, y - 6, "合計（税込）", size=11)
        self.text(RIGHT - 4, y - 6, self.money(self.content["total"]), size=11, align="right")
        return y - 20

    def footnotes(self, top: float) -> None:
        y = top
        if any(line["reduced"] for line in self.content["lines"]):
            self.text(LEFT, y, f"{REDUCED_MARK}軽減税率対象の品目です。", size=9)
            y -= 13
        self.text(LEFT, y, ROUNDING_NOTE, size=8, color=GREY)
        y -= 12
        if self.document.kind == "refund_note":
            self.text(LEFT, y, REFUND_NOTE, size=8, color=GREY)
