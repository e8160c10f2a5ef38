"""One of every kind of object in a workspace, marked so a leak is visible, and a snapshot of the workspace,
so the outsider sweeps can assert that another workspace's requests saw nothing and changed nothing."""

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from musubi.capture import coupons, line, points
from musubi.capture import services as capture
from musubi.capture.models import (
    CapturePoint,
    CapturePointVersion,
    Coupon,
    CouponDefinition,
    LineChannel,
    Redemption,
    Source,
    SourceCost,
    Submission,
    TrackingLink,
)
from musubi.catalog import services as catalog
from musubi.catalog.models import Ladder, LadderStep, Offer, Premium, Product
from musubi.commerce import checkout, discounts, downloads, payment_setup
from musubi.commerce.models import (
    DiscountCode,
    DiscountUse,
    Download,
    InvitationOnly,
    OfferFile,
    Order,
    OrderEvent,
    PaymentSettings,
    Refund,
    Renewal,
    SalesDocument,
    Subscription,
    WebhookEndpoint,
)
from musubi.contacts import services as contacts
from musubi.contacts.models import ConsentRecord, Contact, Identity, Segment
from musubi.imports import services as imports
from musubi.imports.models import Import, ImportRow
from musubi.kernel.facts import record_fact
from musubi.kernel.models import Fact
from musubi.messaging import authoring as messaging
from musubi.messaging import broadcasts, conversations, enrollments, line_images, richmenus
from musubi.messaging.models import (
    Answer,
    AutoReply,
    Broadcast,
    BroadcastRun,
    Delivery,
    Enrollment,
    InboxMessage,
    LineImage,
    LineRequest,
    OutboxMessage,
    RichMenu,
    RichMenuLink,
    SenderProfile,
    Sequence,
    Step,
    Template,
)
from musubi.planner import services as planner
from musubi.planner.models import Plan
from musubi.testing.images import png
from musubi.testing.legal import fill_legal_profile
from musubi.workspaces import services
from musubi.workspaces.models import ApiKey, AuditEntry, LegalProfile, Membership, User, Workspace
from musubi.workspaces.rules import LEGAL_FIELDS

# Every object the owner's workspace gets carries this in a name or in its data: it must never reach an outsider.
MARKER = "zq-owners-own-zq"

# Object ids and a slug that exist nowhere: an outsider must get exactly the answer these get.
MISSING = {"slug": "no-such-workspace", "membership_id": 999999, "key_id": 999999, "fact_id": 999999,
           "product_id": 999999, "offer_id": 999999, "ladder_id": 999999, "step_id": 999999, "plan_id": 999999,
           "contact_id": 999999, "source_id": 999999, "link_id": 999999, "point_id": 999999,
           "capture_point_id": 999999, "code": "ZZZZZZZZZZ", "import_id": 999999,
           "line_channel_id": 999999, "segment_id": 999999, "coupon_id": 999999, "template_id": 999999,
           "sequence_id": 999999, "sequence_step_id": 999999, "broadcast_id": 999999, "delivery_id": 999999,
           "run_id": 999999, "auto_reply_id": 999999, "rich_menu_id": 999999,
           "outbox_id": 999999,  # the web's messaging pages
           "kind": "svg", "order_id": 999999, "subscription_id": 999999, "file_id": 999999,
           "discount_code_id": 999999}


def populate(workspace: Workspace, member: User) -> dict[str, Any]:
    """One of each object in ``workspace``, named with ``MARKER``; returns the ids by URL parameter name."""
    actor = services.SYSTEM
    key, _ = services.create_api_key(workspace=workspace, actor=actor, name=f"key {MARKER}")
    fact, _ = record_fact(workspace_id=workspace.pk, kind="optin", contact_id=1, data={"marker": MARKER})
    fill_legal_profile(workspace, responsible_person=f"person {MARKER}")
    product = catalog.create_product(workspace=workspace, actor=actor, name=f"product {MARKER}", goods_cost=100)
    front = catalog.create_offer(workspace=workspace, actor=actor, product_id=product.pk, name=f"front {MARKER}",
                                 role="front", price=980)
    back = catalog.create_offer(workspace=workspace, actor=actor, product_id=product.pk, name=f"back {MARKER}",
                                role="back", price=4980)
    catalog.set_premium(workspace=workspace, actor=actor, offer_id=front.pk, description=f"gift {MARKER}",
                        legal_value=100)
    ladder = catalog.create_ladder(workspace=workspace, actor=actor, name=f"ladder {MARKER}")
    step = catalog.add_step(workspace=workspace, actor=actor, ladder_id=ladder.pk, front_id=front.pk,
                            back_id=back.pk, take_rate=Decimal("0.2"))
    plan = planner.create_plan(workspace=workspace, actor=actor, name=f"plan {MARKER}", ladder_id=ladder.pk,
                               front_offer_id=front.pk)
    contact, _ = contacts.find_or_create_contact(
        workspace=workspace, addresses=contacts.normalise(email=f"{MARKER}@example.jp"), name=f"contact {MARKER}")
    contacts.record_consent(workspace=workspace, contact=contact, channel="email", address=f"{MARKER}@example.jp")
    source = capture.create_source(workspace=workspace, actor=actor, kind="ad", name=f"source {MARKER}")
    capture.add_cost(workspace=workspace, actor=actor, source_id=source.pk, amount=1234, spent_on=dt.date(2026, 1, 1))
    link = capture.create_link(workspace=workspace, actor=actor, source_id=source.pk,
                               target_url=f"https://example.jp/{MARKER}")
    definition = coupons.create_definition(workspace=workspace, actor=actor, terms=coupons.Terms(
        name=f"coupon {MARKER}", benefit=f"benefit {MARKER}", cost=100))
    point = points.create_capture_point(
        workspace=workspace, actor=actor,
        setup=points.Setup(name=f"form {MARKER}", incentive="coupon", coupon_id=definition.pk),
        wording=points.Wording(headline=f"headline {MARKER}", consent_text="ok", purpose_text="news",
                               sender_name=f"sender {MARKER}"))
    submission = points.submit(point=point, entry=points.Entry(email=f"optin-{MARKER}@example.jp", name="x",
                                                               consented=True))
    coupon = Coupon.objects.get(contact=submission.contact)
    coupons.redeem(workspace=workspace, actor=actor, code=coupon.code)
    line_channel = line.connect_channel(workspace=workspace, actor=actor, name=f"line {MARKER}",
                                        channel_id=str(2_000_000_000 + workspace.pk), channel_secret="a" * 32,
                                        access_token="t" * 40, greeting=f"hello {MARKER}")
    data = f"メールアドレス,氏名\r\n{MARKER}@example.jp,{MARKER}\r\nnot-an-address,{MARKER}\r\n".encode()
    job = imports.upload(workspace=workspace, actor=actor, file_name=f"{MARKER}.csv", size=len(data), chunks=[data])
    imports.configure(workspace=workspace, actor=actor, import_id=job.pk, mapping=job.mapping, basis="consent",
                      note=f"note {MARKER}", tags=[MARKER])
    contacts.tag(workspace=workspace, contact=contact, names=[f"tag {MARKER}"])
    segment = contacts.create_segment(workspace=workspace, actor=actor, name=f"segment {MARKER}", definition={
        "conditions": [{"type": "tag", "op": "has", "tag": f"tag {MARKER}"}]})
    messaging_ids = _messaging(workspace, actor, contact, segment, line_channel)
    messaging_ids["outbox_id"] = _kept_mail(workspace, messaging_ids["delivery_id"])
    order = _order(workspace, product)
    offer_file = downloads.add_file(workspace=workspace, actor=actor, offer_id=front.pk, upload=io.BytesIO(b"pdf"),
                                    file_name=f"{MARKER}.pdf", size=3, name=f"file {MARKER}", max_downloads=3)
    return {**messaging_ids, "slug": workspace.slug, "contact_id": contact.pk, "order_id": order.pk,
            "discount_code_id": order.discount_use.discount_code_id,
            "subscription_id": order.subscription_id, "source_id": source.pk, "link_id": link.pk, "kind": "svg",
            "point_id": point.pk, "capture_point_id": point.pk, "code": coupon.code, "import_id": job.pk,
            "line_channel_id": line_channel.pk, "segment_id": segment.pk,
            "coupon_id": definition.pk,
            "membership_id": Membership.objects.get(workspace=workspace, user=member).pk,
            "key_id": key.pk, "fact_id": fact.pk, "product_id": product.pk, "offer_id": front.pk,
            "ladder_id": ladder.pk, "step_id": step.pk, "plan_id": plan.pk, "file_id": offer_file.pk}


def _messaging(workspace: Workspace, actor: Any, contact: Contact, segment: Segment,
               line_channel: Any) -> dict[str, int]:
    messaging.save_sender_profile(workspace=workspace, actor=actor, values={
        "from_name": f"from {MARKER}", "from_address": "news@example.jp", "legal_name": f"legal {MARKER}",
        "postal_address": f"address {MARKER}", "contact_info": f"contact {MARKER}"})
    template = messaging.create_template(workspace=workspace, actor=actor, data=messaging.TemplateInput(
        name=f"template {MARKER}", channel="email", subject=f"subject {MARKER}", html=f"<p>{MARKER}</p>"))
    picture = line_images.store(workspace=workspace, data=png(300, 200), name=f"{MARKER}.png", field="image")
    line_template = messaging.create_template(workspace=workspace, actor=actor, data=messaging.TemplateInput(
        name=f"line {MARKER}", channel="line", line_messages=[
            {"kind": "text", "text": f"hello {MARKER}"}, {"kind": "image", "image": str(picture.key)},
            {"kind": "buttons", "alt_text": f"alt {MARKER}", "image": str(picture.key), "title": f"title {MARKER}",
             "text": f"text {MARKER}", "actions": [{"kind": "uri", "label": "open", "uri": f"https://example.jp/{MARKER}"},
                                                    {"kind": "postback", "label": "pb", "data": f"data {MARKER}"}]}]))
    sequence = messaging.create_sequence(workspace=workspace, actor=actor, data=messaging.SequenceInput(
        name=f"sequence {MARKER}", trigger="api", active=True, goal_tag=f"goal {MARKER}",
        quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0)))  # no quiet hours: the first step is due at once
    step = messaging.add_step(workspace=workspace, actor=actor, sequence_id=sequence.pk,
                              data=messaging.StepInput(template_id=template.pk))
    enrollments.enroll(sequence=sequence, contact=contact)
    enrollments.run_scheduler()
    broadcast = messaging.create_broadcast(workspace=workspace, actor=actor, data=messaging.BroadcastInput(
        name=f"broadcast {MARKER}", template_id=line_template.pk, segment_id=segment.pk,
        line_channel_id=line_channel.pk))
    run, _started = broadcasts.start_run(broadcast=broadcast)
    rule = conversations.save_auto_reply(workspace=workspace, actor=actor, name=f"rule {MARKER}",
                                         keywords=[MARKER], texts=[f"answer {MARKER}"])
    conversations.answer(workspace=workspace, actor=actor, contact_id=contact.pk, channel="email",
                         text=f"hello {MARKER}")
    rich_menu = richmenus.create_menu(
        workspace=workspace, actor=actor, line_channel_id=line_channel.pk, image=png(2500, 843),
        data=richmenus.RichMenuInput(name=f"menu {MARKER}", chat_bar_text="menu", height=843, segment_id=segment.pk,
                                     areas=[{"bounds": {"x": 0, "y": 0, "width": 100, "height": 100},
                                             "action": {"type": "message", "text": f"hello {MARKER}"}}]))
    RichMenuLink.objects.create(workspace=workspace, line_channel=line_channel, user_id=f"U{MARKER}",
                                rich_menu=rich_menu, linked_at=rich_menu.created_at)
    return {"auto_reply_id": rule.pk, "template_id": template.pk, "sequence_id": sequence.pk,
            "sequence_step_id": step.pk, "rich_menu_id": rich_menu.pk,
            "broadcast_id": broadcast.pk, "run_id": run.pk,
            "delivery_id": Delivery.objects.for_workspace(workspace).get(step=step).pk}


def _kept_mail(workspace: Workspace, delivery_id: int) -> int:
    """A mail in the outbox, as the demo's transport keeps it (the web's outbox pages)."""
    return OutboxMessage.objects.create(
        workspace=workspace, delivery_id=delivery_id, recipient=f"{MARKER}@example.jp", subject=f"kept {MARKER}",
        raw=f"Subject: kept {MARKER}\nTo: {MARKER}@example.jp\n\n{MARKER}\n",
        at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).pk


def _order(workspace: Workspace, product: Product) -> Order:
    """An order of a subscription by bank transfer, placed through the checkout's services."""
    actor = services.SYSTEM
    monthly = catalog.create_offer(workspace=workspace, actor=actor, product_id=product.pk, name=f"monthly {MARKER}",
                                   role="back", price=4980, billing="recurring", interval="month")
    catalog.publish_offer(workspace=workspace, actor=actor, offer_id=monthly.pk)
    payment_setup.save_payment_settings(workspace=workspace, actor=actor, bank_transfer_enabled=True,
                                        bank_account=f"bank {MARKER}")
    discounts.create_code(workspace=workspace, actor=actor, data=discounts.CodeInput(
        code=MARKER, kind="amount", value=500, offer_ids=(monthly.pk,), max_uses=10, every_delivery=True))
    prepared = checkout.prepare(offer=checkout.offer_for_sale(monthly.pk), legal_url="/legal/", entry=checkout.Entry(
        quantity=1, name=f"buyer {MARKER}", email=f"buyer-{MARKER}@example.jp", payment_method="bank_transfer",
        phone="090-1234-5678", postal_code="100-0001", address=f"address {MARKER}", discount_code=MARKER))
    return checkout.place_order(prepared=prepared, seen=prepared.screen).order


def workspace_state(workspace: Workspace) -> tuple[Any, ...]:
    def rows(model: Any, *fields: str) -> list[Any]:
        return sorted(model.objects.for_workspace(workspace).values_list("pk", *fields))

    return (
        rows(Membership, "role"), rows(ApiKey, "revoked_at"), AuditEntry.objects.for_workspace(workspace).count(),
        Fact.objects.for_workspace(workspace).count(), rows(Product, "name", "goods_cost"),
        rows(Offer, "name", "price", "status"), rows(Premium, "legal_value"), rows(Ladder, "name"),
        rows(LadderStep, "take_rate"), rows(Plan, "name", "inputs"), rows(Contact, "name", "erased_at"),
        rows(Identity, "value"), rows(ConsentRecord, "address"), rows(Source, "name"), rows(SourceCost, "amount"),
        rows(TrackingLink, "target_url", "active"), rows(CouponDefinition, "name", "active"),
        rows(CapturePoint, "name", "active", "incentive"), rows(CapturePointVersion, "headline"),
        rows(Submission, "status"), rows(Coupon, "redemptions_count"), rows(Redemption, "number"),
        rows(LineChannel, "name", "greeting", "channel_secret", "access_token"),
        rows(Import, "phase", "status", "mapping", "basis", "note", "tags", "skip_invalid", "dry_run"),
        ImportRow.objects.for_workspace(workspace).count(),
        rows(Segment, "name", "definition"),
        rows(SenderProfile, "from_name", "from_address", "legal_name"),
        rows(Template, "name", "subject", "line_messages"), rows(LineImage, "key", "file"),
        rows(Sequence, "name", "active", "trigger"), rows(Step, "position", "template_id", "archived_at"),
        rows(Enrollment, "status", "last_position"), rows(Broadcast, "name", "scheduled_at"),
        rows(BroadcastRun, "state", "status", "planned"), rows(Delivery, "status", "outcome", "opened_at"),
        rows(LineRequest, "status", "fixed"),
        rows(OutboxMessage, "recipient", "subject"),
        rows(LineRequest, "status", "fixed"), rows(AutoReply, "name", "keywords", "messages", "active"),
        rows(InboxMessage, "text", "read_at"), rows(Answer, "status"),
        rows(LegalProfile, *LEGAL_FIELDS),
        rows(Order, "status", "refunded", "tracking_number", "paid_at"), rows(Subscription, "status", "cancelled_at"),
        rows(Renewal, "next_attempt_at", "status"), rows(Refund, "amount"),
        rows(SalesDocument, "number", "copies", "last_copied_at"),
        rows(PaymentSettings, "bank_account", "stripe_secret_key", "card_enabled"),
        OrderEvent.objects.for_workspace(workspace).count(), rows(InvitationOnly, "offer_id"),
        rows(WebhookEndpoint, "url", "secret"),
        rows(OfferFile, "name", "stored_name", "max_downloads"), Download.objects.for_workspace(workspace).count(),
        rows(DiscountCode, "code", "active", "uses"), rows(DiscountUse, "order_id", "released_at"),
        rows(RichMenu, "name", "state", "areas", "segment_id", "priority", "image"),
        rows(RichMenuLink, "user_id", "rich_menu_id"),
        Workspace.objects.values_list("name", "timezone").get(pk=workspace.pk),
    )
