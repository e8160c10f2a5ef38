"""Issuing receipts, invoices and refund notes for orders, and giving them out again.

The first request for an order's receipt (or invoice) issues it: the next number of the workspace, the
content fixed as it is then (``document_content``). Every later request gives out that same document again,
counted and marked 再発行, so a buyer cannot hold two originals of one payment. A refund made after a
document was issued never changes that document: it goes on a refund note of its own, which covers the
refunds no earlier note covers.

Staff ask through ``for_staff`` (their role must allow day-to-day work); a buyer through ``for_buyer``
with the order their signed link names. Both lock the order while deciding, so two clicks at once issue
one document.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from musubi.commerce import document_content, pdf_layout
from musubi.commerce.choices import DocumentKind, OrderStatus, PaymentMethod
from musubi.commerce.models import Order, OrderEvent, PaymentSettings, Refund, SalesDocument
from musubi.kernel import clock
from musubi.kernel.errors import Conflict, NotFound
from musubi.workspaces.models import Workspace
from musubi.workspaces.queries import legal_profile
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

# An invoice asks for money an order still owes or records what it cost; an order that never bound the
# buyer (cancelled or expired unpaid) has nothing to invoice.
NOT_INVOICEABLE = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
NUMBER_ATTEMPTS = 5


@dataclass(frozen=True)
class GivenOut:
    """A document as handed out this time: its row, whether this is a copy (再発行), and the PDF."""

    document: SalesDocument
    copy: bool
    pdf: bytes

    @property
    def filename(self) -> str:
        return f"{self.document.kind}-{self.document.display_number}.pdf"


def for_staff(*, workspace: Workspace, actor: Actor, order_id: int, kind: str, number: int | None = None) -> GivenOut:
    """The order's document of ``kind`` for a member of its workspace (or an API key)."""
    actor.require(Action.OPERATE)
    order = Order.objects.for_workspace(workspace).filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("This workspace has no such order."))
    given = _give_out(order=order, kind=kind, number=number, by=str(actor.user or actor.api_key or ""))
    record_audit(workspace=workspace, actor=actor, action="order.document_copied" if given.copy else
                 "order.document_issued", obj=order, changes={"kind": kind, "number": given.document.number})
    return given


def for_buyer(*, order: Order, kind: str, number: int | None = None) -> GivenOut:
    """The order's document of ``kind`` for its buyer, who reached it through the order's signed link."""
    return _give_out(order=order, kind=kind, number=number, by=_("the buyer"))


def issued_for(order: Order) -> list[SalesDocument]:
    return list(SalesDocument.objects.filter(workspace_id=order.workspace_id, order=order).order_by("number"))


def available_kinds(order: Order) -> list[str]:
    """The documents a person may ask for now: a receipt once paid, an invoice for an order that bound the
    buyer, a refund note once something was refunded."""
    kinds: list[str] = []
    if order.status not in NOT_INVOICEABLE or order.paid_at is not None:
        kinds.append(DocumentKind.INVOICE)
    if order.paid_at is not None:
        kinds.insert(0, DocumentKind.RECEIPT)
    if order.refunded:
        kinds.append(DocumentKind.REFUND_NOTE)
    return kinds


def _give_out(*, order: Order, kind: str, number: int | None, by: str) -> GivenOut:
    if kind not in DocumentKind.values:
        raise NotFound(_("There is no such document."))
    with transaction.atomic():
        locked = Order.objects.select_for_update().select_related("workspace").get(pk=order.pk)
        existing = _existing(locked, kind, number)
        if existing is None:
            document = _issue(locked, kind)
            copy = False
            _log(locked, "document_issued", _("%(document)s No. %(number)s issued (%(by)s)"), document, by)
        else:
            document, copy = existing, True
            document.copies += 1
            document.last_copied_at = clock.now()
            document.save(update_fields=["copies", "last_copied_at"])
            _log(locked, "document_copied", _("%(document)s No. %(number)s given out again (再発行, %(by)s)"),
                 document, by)
    return GivenOut(document=document, copy=copy, pdf=pdf_layout.render(document, copy=copy))


def _existing(order: Order, kind: str, number: int | None) -> SalesDocument | None:
    """The document to give out again, if there is one; None when a new one is to be issued."""
    documents = SalesDocument.objects.filter(workspace_id=order.workspace_id, order=order, kind=kind)
    if number is not None:
        found = documents.filter(number=number).first()
        if found is None:
            raise NotFound(_("This order has no such document."))
        return found
    if kind == DocumentKind.REFUND_NOTE:
        return None if _uncovered_refunds(order) else documents.order_by("-number").first()
    return documents.first()


def _uncovered_refunds(order: Order) -> list[Refund]:
    covered: set[int] = set()
    for content in SalesDocument.objects.filter(order=order, kind=DocumentKind.REFUND_NOTE).values_list(
            "content", flat=True):
        covered.update(refund["id"] for refund in content["refunds"])
    return [refund for refund in Refund.objects.filter(order=order).order_by("at", "pk") if refund.pk not in covered]


def _issue(order: Order, kind: str) -> SalesDocument:
    profile = legal_profile(order.workspace)
    if kind == DocumentKind.RECEIPT:
        if order.paid_at is None:
            raise Conflict(_("A receipt is issued once the order is paid."), code="not_paid")
        content = document_content.for_order(order=order, profile=profile, kind=kind,
                                             payment_label=str(PaymentMethod(order.payment_method).label))
    elif kind == DocumentKind.INVOICE:
        if order.status in NOT_INVOICEABLE and order.paid_at is None:
            raise Conflict(_("A cancelled or expired order has nothing to invoice."), code="not_invoiceable")
        bank = PaymentSettings.objects.filter(workspace_id=order.workspace_id).values_list(
            "bank_account", flat=True).first() or ""
        content = document_content.for_order(
            order=order, profile=profile, kind=kind, payment_label=str(PaymentMethod(order.payment_method).label),
            bank_account=bank if order.payment_method == PaymentMethod.BANK_TRANSFER else "")
    else:
        refunds = _uncovered_refunds(order)
        if not refunds:
            raise Conflict(_("Nothing was refunded on this order."), code="nothing_refunded")
        earlier = [document.display_number for document in issued_for(order)]
        content = document_content.for_refunds(order=order, profile=profile, refunds=refunds, earlier=earlier)
    return _numbered(order, kind=kind, content=content, qualified=bool(profile.invoice_registration_number))


def _numbered(order: Order, *, kind: str, content: dict[str, object], qualified: bool) -> SalesDocument:
    """Save the document under the workspace's next number. Two orders of one workspace may take the same
    number at the same moment; the unique constraint refuses the second, which takes the next one."""
    for _attempt in range(NUMBER_ATTEMPTS):
        latest = SalesDocument.objects.filter(workspace_id=order.workspace_id).aggregate(Max("number"))
        try:
            with transaction.atomic():
                return SalesDocument.objects.create(
                    workspace_id=order.workspace_id, order=order, kind=kind, number=(latest["number__max"] or 0) + 1,
                    issued_at=clock.now(), qualified=qualified, content=content)
        except IntegrityError:
            continue
    raise Conflict(_("The document could not be numbered; please try again."), code="numbering_busy")


def _log(order: Order, kind: str, text: str, document: SalesDocument, by: str) -> None:
    note = text % {"document": DocumentKind(document.kind).label, "number": document.display_number, "by": by}
    OrderEvent.objects.create(workspace_id=order.workspace_id, order=order, at=clock.now(), kind=kind,
                              note=note[:500])
