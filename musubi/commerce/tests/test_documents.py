"""Receipts, invoices and refund notes: what they say (the tax once per rate, the reduced-rate mark, the
registration number or its absence), how they are numbered and given out again, and who may have them."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from musubi.commerce import documents, order_lifecycle, payment_setup
from musubi.commerce.choices import DocumentKind
from musubi.commerce.document_content import split_by_rate
from musubi.commerce.models import Order, SalesDocument
from musubi.commerce.notices import order_token
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel.errors import Conflict, Forbidden
from musubi.workspaces.choices import Role
from musubi.workspaces.services import SYSTEM, Actor
from musubi.workspaces.services import save_legal_profile as save_legal

REGISTRATION = "T1234567890123"


def text_of(pdf: bytes) -> str:
    """The PDF's text with each line's runs of spaces made one, so assertions read like the page."""
    page_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in page_text.splitlines())


@pytest.fixture
def registered(workspace):
    save_legal(workspace=workspace, actor=SYSTEM, invoice_registration_number=REGISTRATION)


@pytest.fixture
def mixed(client, shop, workspace):
    """Three trial sets at the reduced 8% (2,940 yen) with shipping (516) and the cash-on-delivery fee (340)
    at 10%: per line the 10% tax would be 46 + 30 = 76 yen, once over the rate's 856 yen it is 77."""
    payment_setup.save_payment_settings(workspace=workspace, actor=SYSTEM, shipping_fee=516, cod_fee=340)
    page, token = confirmation(client, shop["trial"], quantity="3", payment_method="cod")
    place(client, shop["trial"], page, token)
    return Order.objects.get()


def staff(workspace, order, kind, **extra):
    return documents.for_staff(workspace=workspace, actor=SYSTEM, order_id=order.pk, kind=kind, **extra)


def paid(workspace, order):
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    order.refresh_from_db()
    return order


# --- What the documents say -----------------------------------------------------------------------------------

def test_the_invoice_gives_the_total_and_the_tax_once_per_rate(mixed, workspace, registered):
    text = text_of(staff(workspace, mixed, DocumentKind.INVOICE).pdf)
    assert text.splitlines()[0] == "適格請求書"
    assert "登録番号 T1234567890123" in text and "株式会社すこやか" in text
    assert "佐藤 花子 様" in text
    assert "10%対象\n¥856\n（うち消費税 ¥77）" in text  # not 76, the sum of each line's rounded tax
    assert "8%対象※\n¥2,940\n（うち消費税 ¥217）" in text
    assert "合計（税込）\n¥3,796" in text
    assert "初回限定 お試しセット ※" in text and "※軽減税率対象の品目です。" in text
    assert "送料\n1\n¥516\n¥516\n10%\n" in text  # shipping is not a reduced-rate item
    assert f"注文番号\n{mixed.number}" in text and "取引年月日" in text
    assert "No. 000001" in text


def test_the_document_keeps_the_taxes_it_printed(mixed, workspace, registered):
    document = staff(workspace, mixed, DocumentKind.INVOICE).document
    assert document.qualified
    assert document.content["taxes"] == [{"rate": "0.1000", "gross": 856, "tax": 77},
                                         {"rate": "0.0800", "gross": 2940, "tax": 217}]
    assert [line["reduced"] for line in document.content["lines"]] == [True, False, False]


def test_a_receipt_says_what_was_received_and_when(mixed, workspace, registered):
    text = text_of(staff(workspace, paid(workspace, mixed), DocumentKind.RECEIPT).pdf)
    assert text.splitlines()[0] == "領収書"
    assert "金額\n¥3,796 -（税込）" in text and "上記の金額を正に領収いたしました" in text
    assert "領収日" in text and "登録番号 T1234567890123" in text and "再発行" not in text


def test_a_shop_without_a_registration_number_issues_documents_that_do_not_claim_to_be_qualified(mixed, workspace):
    invoice = staff(workspace, mixed, DocumentKind.INVOICE)
    receipt = staff(workspace, paid(workspace, mixed), DocumentKind.RECEIPT)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=mixed.pk, amount=500)
    note = staff(workspace, mixed, DocumentKind.REFUND_NOTE)
    for given, title in ((invoice, "請求書"), (receipt, "領収書"), (note, "返金明細書")):
        text = text_of(given.pdf)
        assert text.splitlines()[0] == title
        assert "適格" not in text and "登録番号" not in text
        assert not given.document.qualified
    assert "うち消費税 ¥77" in text_of(invoice.pdf)  # the tax per rate is still shown


def test_registering_later_does_not_change_a_document_issued_before(mixed, workspace):
    staff(workspace, mixed, DocumentKind.INVOICE)
    save_legal(workspace=workspace, actor=SYSTEM, invoice_registration_number=REGISTRATION)
    again = staff(workspace, mixed, DocumentKind.INVOICE)
    assert again.copy and text_of(again.pdf).splitlines()[0] == "再発行"
    assert "適格" not in text_of(again.pdf) and "T1234567890123" not in text_of(again.pdf)


def test_an_invoice_for_a_transfer_awaiting_payment_names_the_deadline_and_the_account(client, shop, workspace,
                                                                                        registered):
    page, token = confirmation(client, shop["trial"], quantity="2")
    place(client, shop["trial"], page, token)
    order = Order.objects.get()
    text = text_of(staff(workspace, order, DocumentKind.INVOICE).pdf)
    assert "お支払期限" in text and "すこやか銀行 本店営業部" in text and "ご請求金額\n¥1,960 -（税込）" in text
    assert "8%対象※\n¥1,960\n（うち消費税 ¥145）" in text


# --- Numbering and giving out again ---------------------------------------------------------------------------

def test_documents_are_numbered_in_sequence_across_orders_and_kinds(client, shop, mixed, workspace):
    first = staff(workspace, mixed, DocumentKind.INVOICE).document
    receipt = staff(workspace, paid(workspace, mixed), DocumentKind.RECEIPT).document
    page, token = confirmation(client, shop["trial"], quantity="1")
    place(client, shop["trial"], page, token)
    other = Order.objects.exclude(pk=mixed.pk).get()
    third = staff(workspace, other, DocumentKind.INVOICE).document
    assert [first.number, receipt.number, third.number] == [1, 2, 3]
    assert third.display_number == "000003"


def test_downloading_again_gives_the_same_document_marked_reissued(mixed, workspace, registered):
    first = staff(workspace, mixed, DocumentKind.INVOICE)
    second = staff(workspace, mixed, DocumentKind.INVOICE)
    third = staff(workspace, mixed, DocumentKind.INVOICE)
    assert not first.copy and second.copy and third.copy
    assert first.document.pk == second.document.pk == third.document.pk
    assert SalesDocument.objects.count() == 1
    assert SalesDocument.objects.get().copies == 2
    original, copy = text_of(first.pdf), text_of(second.pdf)
    assert "再発行" not in original
    assert copy.startswith("再発行\n") and "再発行日" in copy
    # Apart from the mark, the copy says exactly what the original said.
    assert [line for line in copy.splitlines() if "再発行" not in line] == original.splitlines()
    kinds = list(mixed.timeline.filter(kind__startswith="document_").values_list("kind", flat=True))
    assert kinds == ["document_issued", "document_copied", "document_copied"]


def test_the_same_document_renders_to_the_same_bytes(mixed, workspace, registered):
    from musubi.commerce import pdf_layout

    document = staff(workspace, mixed, DocumentKind.INVOICE).document
    assert pdf_layout.render(document) == pdf_layout.render(document)


def test_a_receipt_waits_for_the_payment(mixed, workspace):
    with pytest.raises(Conflict):
        staff(workspace, mixed, DocumentKind.RECEIPT)
    assert not SalesDocument.objects.exists()


def test_a_cancelled_order_has_no_invoice(mixed, workspace):
    order_lifecycle.cancel_order(workspace=workspace, actor=SYSTEM, order_id=mixed.pk)
    with pytest.raises(Conflict):
        staff(workspace, mixed, DocumentKind.INVOICE)
    assert not SalesDocument.objects.exists()


def test_a_viewer_cannot_issue_documents(mixed, workspace):
    with pytest.raises(Forbidden):
        documents.for_staff(workspace=workspace, actor=Actor(role=Role.VIEWER), order_id=mixed.pk,
                            kind=DocumentKind.INVOICE)
    assert not SalesDocument.objects.exists()


# --- Refunds after issue --------------------------------------------------------------------------------------

def test_a_refund_after_issue_goes_on_a_refund_note_and_leaves_the_receipt_as_it_was(mixed, workspace, registered):
    receipt = staff(workspace, paid(workspace, mixed), DocumentKind.RECEIPT)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=mixed.pk, amount=3796, reason="返品")
    again = staff(workspace, mixed, DocumentKind.RECEIPT)
    assert again.document.content == receipt.document.content
    assert "¥3,796 -（税込）" in text_of(again.pdf)
    note = staff(workspace, mixed, DocumentKind.REFUND_NOTE)
    text = text_of(note.pdf)
    assert text.splitlines()[0] == "適格返還請求書"
    assert "ご返金額\n¥3,796 -（税込）" in text and "（返品）" in text
    assert "10%返金額\n¥856\n（うち消費税 ¥77）" in text and "8%返金額※\n¥2,940\n（うち消費税 ¥217）" in text
    assert f"先に発行した書類\nNo. {receipt.document.display_number}" in text
    assert "元のお取引の内容" in text and "登録番号 T1234567890123" in text


def test_each_later_refund_gets_a_new_note_and_earlier_notes_stay_available(mixed, workspace, registered):
    paid(workspace, mixed)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=mixed.pk, amount=1000)
    first = staff(workspace, mixed, DocumentKind.REFUND_NOTE)
    assert staff(workspace, mixed, DocumentKind.REFUND_NOTE).copy  # nothing new refunded: the same note
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=mixed.pk, amount=200)
    second = staff(workspace, mixed, DocumentKind.REFUND_NOTE)
    assert not second.copy and second.document.number == first.document.number + 1
    assert second.document.content["total"] == 200
    assert [r["amount"] for r in second.document.content["refunds"]] == [200]
    earlier = staff(workspace, mixed, DocumentKind.REFUND_NOTE, number=first.document.number)
    assert earlier.copy and earlier.document.content["total"] == 1000
    # 1,000 yen shared by 856 : 2,940 → 225.5 at 10% and 774.5 at 8%; the tie goes to the higher rate.
    assert first.document.content["taxes"] == [{"rate": "0.1000", "gross": 226, "tax": 20},
                                                {"rate": "0.0800", "gross": 774, "tax": 57}]


def test_there_is_no_refund_note_without_a_refund(mixed, workspace):
    paid(workspace, mixed)
    with pytest.raises(Conflict):
        staff(workspace, mixed, DocumentKind.REFUND_NOTE)


TEN, EIGHT = Decimal("0.10"), Decimal("0.08")


@pytest.mark.parametrize(("amount", "gross_by_rate", "shares"), [
    (3796, [(TEN, 856), (EIGHT, 2940)], [(TEN, 856), (EIGHT, 2940)]),  # a full refund: each rate's total
    (1, [(TEN, 856), (EIGHT, 2940)], [(EIGHT, 1)]),  # the larger remainder takes the only yen
    (3, [(TEN, 1000), (EIGHT, 1000)], [(TEN, 2), (EIGHT, 1)]),  # a tie goes to the higher rate
    (500, [(EIGHT, 1980)], [(EIGHT, 500)]),
])
def test_a_refund_is_shared_between_rates_in_proportion_and_adds_up(amount, gross_by_rate, shares):
    split = split_by_rate(amount, gross_by_rate)
    assert split == shares
    assert sum(share for _rate, share in split) == amount


# --- Where people get them ------------------------------------------------------------------------------------

def test_the_staff_page_offers_the_documents_and_serves_pdf(owner_client, mixed, workspace, registered):
    page = owner_client.get(f"/w/kenko/orders/{mixed.pk}/").content.decode()
    assert 'id="download-invoice"' in page and 'id="download-receipt"' not in page
    response = owner_client.get(f"/w/kenko/orders/{mixed.pk}/invoice.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="invoice-000001.pdf"'
    assert text_of(response.content).splitlines()[0] == "適格請求書"
    page = owner_client.get(f"/w/kenko/orders/{mixed.pk}/").content.decode()
    assert "000001" in page and "適格請求書" in page


def test_the_staff_page_explains_a_refused_receipt(owner_client, mixed):
    response = owner_client.get(f"/w/kenko/orders/{mixed.pk}/receipt.pdf", follow=True)
    assert "領収書はご入金の確認後に発行します。" in response.content.decode()
    assert not SalesDocument.objects.exists()


def test_a_viewer_gets_no_document_from_the_page(client, mixed, workspace):
    from musubi.workspaces.models import User
    from musubi.workspaces.services import add_member

    viewer = User.objects.create_user("viewer@example.com", "pw-viewer-123")
    add_member(workspace=workspace, actor=SYSTEM, email=viewer.email, role=Role.VIEWER)
    client.force_login(viewer)
    assert client.get(f"/w/kenko/orders/{mixed.pk}/invoice.pdf").status_code == 403
    assert not SalesDocument.objects.exists()


def test_the_buyer_downloads_from_the_order_link(client, mixed, workspace, registered):
    token = order_token(mixed)
    page = client.get(f"/orders/{token}").content.decode()
    assert 'id="invoice-link"' in page and 'id="receipt-link"' not in page
    response = client.get(f"/orders/{token}/invoice.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "佐藤 花子 様" in text_of(response.content)
    refused = client.get(f"/orders/{token}/receipt.pdf")
    assert refused.status_code == 409 and "領収書はご入金の確認後に発行します。" in refused.content.decode()
    paid(workspace, mixed)
    assert 'id="receipt-link"' in client.get(f"/orders/{token}").content.decode()
    assert client.get(f"/orders/{token}/receipt.pdf")["X-Document-Copy"] == "false"
    assert client.get(f"/orders/{token}/receipt.pdf")["X-Document-Copy"] == "true"
    assert mixed.timeline.filter(kind="document_copied").count() == 1


def test_a_forged_order_link_gets_no_document(client, mixed):
    assert client.get(f"/orders/{order_token(mixed)}x/invoice.pdf").status_code == 404
    assert client.get("/orders/not-a-token/invoice.pdf").status_code == 404
    assert not SalesDocument.objects.exists()


def api(client, key, path):
    return client.get(f"/api/v1{path}", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_api_serves_the_documents_as_pdf(client, owner_key, mixed, workspace, registered):
    invoice = api(client, owner_key, f"/orders/{mixed.pk}/invoice")
    assert invoice.status_code == 200 and invoice["Content-Type"] == "application/pdf"
    assert invoice["X-Document-Number"] == "000001" and invoice["X-Document-Copy"] == "false"
    assert "うち消費税 ¥77" in text_of(invoice.content)
    refused = api(client, owner_key, f"/orders/{mixed.pk}/receipt")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_paid"
    paid(workspace, mixed)
    assert api(client, owner_key, f"/orders/{mixed.pk}/receipt").status_code == 200
    listed = api(client, owner_key, f"/orders/{mixed.pk}/documents").json()
    assert [(d["number"], d["kind"], d["qualified"], d["total"]) for d in listed] == [
        ("000001", "invoice", True, 3796), ("000002", "receipt", True, 3796)]


def test_the_api_refund_note_by_number(client, owner_key, mixed, workspace):
    paid(workspace, mixed)
    assert api(client, owner_key, f"/orders/{mixed.pk}/refund-note").status_code == 409
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=mixed.pk, amount=100)
    assert api(client, owner_key, f"/orders/{mixed.pk}/refund-note").status_code == 200
    assert api(client, owner_key, f"/orders/{mixed.pk}/refund-note?number=1")["X-Document-Copy"] == "true"
    missing = api(client, owner_key, f"/orders/{mixed.pk}/refund-note?number=7")
    assert missing.status_code == 404
    bad = api(client, owner_key, f"/orders/{mixed.pk}/refund-note?number=abc")
    assert bad.status_code == 400 and "number" in bad.json()["error"]["fields"]


def test_the_openapi_document_says_the_documents_are_pdf(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for kind in ("receipt", "invoice", "refund-note"):
        assert "application/pdf" in paths[f"/api/v1/orders/{{order_id}}/{kind}"]["get"]["responses"]["200"]["content"]


def test_the_members_page_links_the_receipt(client, shop, workspace):
    from urllib.parse import urlsplit

    from musubi.commerce.access import member_url

    page, token = confirmation(client, shop["guide"], payment_method="bank_transfer", postal_code="", address="")
    place(client, shop["guide"], page, token)
    order = paid(workspace, Order.objects.get())
    members = client.get(urlsplit(member_url(order)).path).content.decode()
    link = re.search(r'id="receipt-link" href="([^"]+)"', members).group(1)
    receipt = client.get(link)
    assert receipt["Content-Type"] == "application/pdf"
    assert "¥2,980 -（税込）" in text_of(receipt.content)
