"""Files delivered to the buyers of an offer: the guide's PDF reaches its paying buyer from the members' page,
through a link signed for that order and that file, and nobody else gets anything from any link."""

import io
import re
from urllib.parse import quote

import pytest
from django.core.files.storage import storages
from django.test import override_settings

from musubi.catalog import services as catalog
from musubi.commerce import downloads, notices, order_lifecycle
from musubi.commerce.download_views import attachment_header
from musubi.commerce.models import CustomerMail, Download, OfferFile, Order, OrderEvent
from musubi.commerce.tests.conftest import BUYER
from musubi.commerce.tests.test_access import buy_guide, member_path
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel import tokens
from musubi.kernel.errors import InvalidInput
from musubi.kernel.models import Fact
from musubi.workspaces.services import SYSTEM

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 700 + b"\n%%EOF\n"  # not valid UTF-8, and longer than one block
JAPANESE_NAME = "副業スタートガイド 第2版.pdf"


def attach(workspace, offer, data=PDF, file_name=JAPANESE_NAME, **extra):
    return downloads.add_file(workspace=workspace, actor=SYSTEM, offer_id=offer.pk, upload=io.BytesIO(data),
                              file_name=file_name, size=len(data), content_type="application/pdf", **extra)


@pytest.fixture
def guide_file(shop, workspace):
    return attach(workspace, shop["guide"], name="副業スタートガイド（PDF）")


def paid_guide(client, shop, workspace, email="guide-buyer@example.jp"):
    order = buy_guide(client, shop, workspace, email=email)
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    order.refresh_from_db()
    return order


def download_links(page: str) -> list[str]:
    return re.findall(r'href="(/dl/[^"]+)"', page)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_paying_buyer_downloads_the_exact_bytes_under_its_japanese_name(client, shop, workspace, guide_file):
    order = paid_guide(client, shop, workspace)
    page = client.get(member_path(order)).content.decode()
    assert "副業スタートガイド（PDF）" in page and "ダウンロード" in page
    [link] = download_links(page)
    response = client.get(link)
    assert response.status_code == 200
    assert body_of(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(PDF))
    assert response["Content-Disposition"] == (
        "attachment; filename=\"download.pdf\"; filename*=UTF-8''" + quote(JAPANESE_NAME, safe=""))
    assert "%E5%89%AF%E6%A5%AD" in response["Content-Disposition"]  # 副業, UTF-8 percent-encoded (RFC 5987)
    assert response["Cache-Control"] == "private, no-store"
    assert response["Accept-Ranges"] == "none"
    ranged = client.get(link, HTTP_RANGE="bytes=0-99")  # no ranges: the whole file, as a plain 200
    assert ranged.status_code == 200 and body_of(ranged) == PDF


def test_a_download_is_recorded_on_the_order_and_as_a_fact_about_the_buyer(client, shop, workspace, guide_file,
                                                                            owner_client):
    order = paid_guide(client, shop, workspace)
    [link] = download_links(client.get(member_path(order)).content.decode())
    body_of(client.get(link))
    assert Download.objects.filter(order=order, offer_file=guide_file).count() == 1
    event = OrderEvent.objects.get(order=order, kind="downloaded")
    assert event.note == "「副業スタートガイド（PDF）」をダウンロード"
    fact = Fact.objects.get(kind="file.downloaded")
    assert (fact.contact_id, fact.workspace_id) == (order.contact_id, workspace.pk)
    assert fact.data == {"order": order.pk, "offer": shop["guide"].pk, "file": "副業スタートガイド（PDF）"}
    staff_page = owner_client.get(f"/w/{workspace.slug}/orders/{order.pk}/").content.decode()
    assert "「副業スタートガイド（PDF）」をダウンロード" in staff_page
    contact_page = owner_client.get(f"/w/{workspace.slug}/contacts/{order.contact_id}/").content.decode()
    assert "購入したファイルをダウンロード" in contact_page and "「副業スタートガイド（PDF）」" in contact_page


def test_the_paid_mail_names_the_files_and_the_order_page_links_them_too(client, shop, workspace, guide_file):
    order = paid_guide(client, shop, workspace)
    mail = CustomerMail.objects.get(kind="access_granted", order=order)
    assert "・副業スタートガイド（PDF）（副業スタートガイド 第2版.pdf、" in mail.body
    order_page = client.get(notices.order_url(order).split("8000", 1)[-1]).content.decode()
    [link] = download_links(order_page)
    assert body_of(client.get(link)) == PDF


def test_no_file_is_offered_before_the_order_is_paid(client, shop, workspace, guide_file):
    order = buy_guide(client, shop, workspace)
    page = client.get(notices.order_url(order).split("8000", 1)[-1]).content.decode()
    assert download_links(page) == [] and "副業スタートガイド（PDF）" not in page


def refused(client, token, contains_not=PDF):
    response = client.get(f"/dl/{token}")
    assert response.status_code == 404
    assert contains_not not in response.content
    assert "このリンクは無効か、有効期限が切れています。購入者専用ページを開き直すと" in response.content.decode()
    return re.sub(rb'"X-CSRFToken": "\w+"', b"", response.content)  # masked anew for every response


def test_every_bad_link_is_the_same_bare_404_and_records_nothing(client, shop, workspace, guide_file, other_workspace):
    order = paid_guide(client, shop, workspace)
    good = downloads.link_token(order, guide_file)
    unpaid = buy_guide(client, shop, workspace, email="unpaid@example.jp")
    page, confirm_token = confirmation(client, shop["trial"], **{**BUYER, "email": "trial-buyer@example.jp"})
    place(client, shop["trial"], page, confirm_token)
    trial_order = Order.objects.get(email="trial-buyer@example.jp")
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=trial_order.pk)
    other_offer_file = attach(workspace, shop["trial"], file_name="trial.pdf")
    other_workspace_product = catalog.create_product(workspace=other_workspace, actor=SYSTEM, name="x",
                                                     kind="digital")
    other_workspace_offer = catalog.create_offer(workspace=other_workspace, actor=SYSTEM,
                                                 product_id=other_workspace_product.pk, name="x", role="front",
                                                 price=100)
    other_workspace_file = attach(other_workspace, other_workspace_offer)
    answers = {
        "forged": refused(client, good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")),
        "garbage": refused(client, "not-a-token"),
        "unpaid": refused(client, downloads.link_token(unpaid, guide_file)),
        "another offer's buyer": refused(client, downloads.link_token(trial_order, guide_file)),
        "another offer's file": refused(client, downloads.link_token(order, other_offer_file)),
        "another workspace's file": refused(client, downloads.link_token(order, other_workspace_file)),
        "order claimed in another workspace": refused(client, tokens.sign(
            {"o": order.pk, "f": guide_file.pk, "w": other_workspace.pk}, purpose=downloads.DOWNLOAD)),
        "a member link is not a download link": refused(client, tokens.sign(
            {"o": order.pk, "f": guide_file.pk, "w": workspace.pk}, purpose="member")),
        "not numbers": refused(client, tokens.sign({"o": str(order.pk), "f": guide_file.pk, "w": workspace.pk},
                                                   purpose=downloads.DOWNLOAD)),
    }
    with override_settings(MUSUBI_DOWNLOAD_LINK_SECONDS=-1):  # every link is older than its lifetime
        answers["expired"] = refused(client, good)
    assert len(set(answers.values())) == 1, "a refusal must not tell why"
    assert not Download.objects.exists() and not Fact.objects.filter(kind="file.downloaded").exists()
    assert body_of(client.get(f"/dl/{good}")) == PDF  # the genuine link works


def test_a_refunded_or_cancelled_order_gets_nothing(client, shop, workspace, guide_file):
    order = paid_guide(client, shop, workspace)
    token = downloads.link_token(order, guide_file)
    order_lifecycle.refund(workspace=workspace, actor=SYSTEM, order_id=order.pk, amount=order.total)
    refused(client, token)
    assert download_links(client.get(f"/members/{tokens.sign({'o': order.pk, 'w': workspace.pk}, purpose='member')}")
                          .content.decode()) == []
    cancelled = buy_guide(client, shop, workspace, email="cancelled@example.jp")
    order_lifecycle.cancel_order(workspace=workspace, actor=SYSTEM, order_id=cancelled.pk)
    refused(client, downloads.link_token(cancelled, guide_file))
    assert not Download.objects.exists()


def test_the_download_limit_is_counted_per_order_and_said_plainly_when_used_up(client, shop, workspace):
    limited = attach(workspace, shop["guide"], name="特典動画", file_name="bonus.mp4", data=b"video" * 100,
                     max_downloads=2)
    order = paid_guide(client, shop, workspace)
    other = paid_guide(client, shop, workspace, email="second-buyer@example.jp")
    page = client.get(member_path(order)).content.decode()
    assert "あと2回ダウンロードできます" in page
    for _ in range(2):
        assert client.get(download_links(page)[0]).status_code == 200
    used_up = client.get(download_links(page)[0])
    assert used_up.status_code == 403
    assert "「特典動画」は、このご購入でダウンロードできる上限の2回に達しました" in used_up.content.decode()
    page = client.get(member_path(order)).content.decode()
    assert download_links(page) == [] and "ダウンロードできる回数を使い切りました" in page
    assert Download.objects.filter(order=order, offer_file=limited).count() == 2
    # Another buyer's count is their own.
    assert client.get(download_links(client.get(member_path(other)).content.decode())[0]).status_code == 200


def test_a_removed_file_leaves_the_storage_and_its_links_stop_working(client, shop, workspace, guide_file,
                                                                      django_capture_on_commit_callbacks):
    order = paid_guide(client, shop, workspace)
    token = downloads.link_token(order, guide_file)
    assert storages["downloads"].exists(guide_file.stored_name)
    with django_capture_on_commit_callbacks(execute=True):
        downloads.remove_file(workspace=workspace, actor=SYSTEM, offer_id=shop["guide"].pk, file_id=guide_file.pk)
    assert not storages["downloads"].exists(guide_file.stored_name)
    refused(client, token)


def test_the_stored_name_is_random_and_never_shown(client, shop, workspace, guide_file):
    assert "副業" not in guide_file.stored_name and ".pdf" not in guide_file.stored_name
    assert len(guide_file.stored_name.rsplit("/", 1)[-1]) >= 32
    order = paid_guide(client, shop, workspace)
    page = client.get(member_path(order)).content.decode()
    assert guide_file.stored_name.rsplit("/", 1)[-1] not in page


@pytest.mark.parametrize(("changes", "field"), [
    ({"upload": None, "size": 0}, "file"),
    ({"upload": io.BytesIO(b""), "size": 0}, "file"),
    ({"name": "x" * 201}, "name"),
    ({"max_downloads": 0}, "max_downloads"),
    ({"max_downloads": 1001}, "max_downloads"),
])
def test_bad_input_names_its_field_and_keeps_nothing(shop, workspace, changes, field):
    arguments = {"workspace": workspace, "actor": SYSTEM, "offer_id": shop["guide"].pk, "upload": io.BytesIO(PDF),
                 "file_name": "guide.pdf", "size": len(PDF), **changes}
    with pytest.raises(InvalidInput) as caught:
        downloads.add_file(**arguments)
    assert field in caught.value.fields
    assert not OfferFile.objects.exists()
    assert storages["downloads"].listdir("")[1] == []


def test_a_file_over_the_size_limit_is_refused(shop, workspace, settings):
    settings.MUSUBI_DOWNLOAD_MAX_BYTES = len(PDF) - 1
    with pytest.raises(InvalidInput) as caught:
        attach(workspace, shop["guide"])
    assert "を超えています" in caught.value.fields["file"]
    assert not OfferFile.objects.exists()


@pytest.mark.parametrize(("given", "kept"), [
    ("C:\\Users\\hanako\\ガイド.pdf", "ガイド.pdf"),
    ("../../etc/passwd", "passwd"),
    ("カ\u3099イド.pdf", "ガイド.pdf"),  # a macOS upload's decomposed ガ becomes one character
    ("line\nbreak.pdf", "linebreak.pdf"),
    ("", "download"),
    ("あ" * 250 + ".pdf", "あ" * 196 + ".pdf"),  # 200 characters, the extension kept
])
def test_file_names_are_cleaned_for_the_buyers_browser(given, kept):
    assert downloads.clean_file_name(given) == kept


def test_the_attachment_header_keeps_an_ascii_name_and_escapes_quotes():
    assert attachment_header("guide v2.pdf") == "attachment; filename=\"guide v2.pdf\"; filename*=UTF-8''guide%20v2.pdf"
    assert attachment_header('a"b.zip') == "attachment; filename=\"ab.zip\"; filename*=UTF-8''a%22b.zip"
    assert attachment_header("動画.mp4").startswith('attachment; filename="download.mp4"; ')


def test_the_content_type_is_kept_when_plain_and_guessed_otherwise(shop, workspace):
    def stored(content_type, file_name="x.zip"):
        return downloads.add_file(workspace=workspace, actor=SYSTEM, offer_id=shop["guide"].pk,
                                  upload=io.BytesIO(b"x"), file_name=file_name, size=1,
                                  content_type=content_type).content_type

    assert stored("video/mp4; codecs=avc1") == "video/mp4"
    assert stored("") == "application/zip"
    assert stored("application/octet-stream", "x.pdf") == "application/pdf"
    assert stored("text/html\r\nX-Evil: 1", "x.bin") == "application/octet-stream"
