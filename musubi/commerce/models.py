"""Orders and their lines, timeline and refunds; subscriptions and their renewals; how a workspace is paid."""

from __future__ import annotations

from django.db import models

from musubi.catalog.models import Offer
from musubi.commerce.choices import DocumentKind, OrderStatus, PaymentMethod, RenewalOutcome, SubscriptionStatus
from musubi.contacts.models import Contact
from musubi.kernel.claims import DurableWork
from musubi.kernel.models import WorkspaceOwned
from musubi.kernel.secrets import EncryptedTextField


class PaymentSettings(WorkspaceOwned):
    """How a workspace takes money: which methods its checkout offers, the bank account a transfer goes to,
    the cash-on-delivery fee, the shipping fee of physical goods, and its Stripe keys.

    The Stripe secret key and webhook secret are write-only: pages and the API say whether one is set, never
    what it is.
    """

    bank_transfer_enabled = models.BooleanField(default=False)
    bank_account = models.TextField(blank=True, default="", help_text="Shown to a buyer who pays by transfer.")
    bank_transfer_days = models.PositiveSmallIntegerField(default=7)
    cod_enabled = models.BooleanField(default=False)
    cod_fee = models.PositiveBigIntegerField(default=330)
    card_enabled = models.BooleanField(default=False)
    konbini_enabled = models.BooleanField(default=False, help_text="コンビニ決済 through Stripe (one-time orders).")
    konbini_days = models.PositiveSmallIntegerField(default=3, help_text="Days the buyer has to pay at the store.")
    shipping_fee = models.PositiveBigIntegerField(default=0, help_text="Per order of physical goods, tax-incl.")
    stripe_secret_key = EncryptedTextField(blank=True, default="")
    stripe_webhook_secret = EncryptedTextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="paymentsettings_one_per_workspace")]

    def enabled_methods(self) -> list[str]:
        methods: list[str] = []
        if self.card_enabled and self.stripe_secret_key:
            methods.append(PaymentMethod.CARD)
        if self.bank_transfer_enabled and self.bank_account.strip():
            methods.append(PaymentMethod.BANK_TRANSFER)
        if self.cod_enabled:
            methods.append(PaymentMethod.CASH_ON_DELIVERY)
        if self.konbini_enabled and self.stripe_secret_key:
            methods.append(PaymentMethod.KONBINI)
        return methods


class Subscription(WorkspaceOwned):
    """A 定期購入: a contact receives a recurring offer every interval until the cycles run out or they
    cancel. ``deliveries`` counts the orders made so far (the first one at checkout). The card saved at the
    first payment (``stripe_customer``/``stripe_payment_method``) pays the renewals off-session."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    quantity = models.PositiveIntegerField(default=1)
    payment_method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    deliveries = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    stripe_customer = models.CharField(max_length=100, blank=True, default="")
    stripe_payment_method = models.CharField(max_length=100, blank=True, default="")
    shipping = models.JSONField(default=dict, blank=True)
    # A discount code's terms when it applies to every delivery (``rules.Discount`` as a dict), kept as the
    # buyer saw them: renewals apply them even if the code is disabled later.
    discount = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "status"], name="subscription_ws_status")]

    def __str__(self) -> str:
        return f"{self.offer} × {self.quantity} ({self.status})"


class Order(WorkspaceOwned):
    """An order: what a contact bought, at which tax-inclusive total, paid how, and where it stands.

    ``confirmation`` is exactly what the buyer saw on the final confirmation screen (特定商取引法 Art. 12-6),
    stored as the rows that screen was rendered from. A renewal order carries its subscription and cycle;
    the pair is unique, so however many workers run, one cycle makes one order.
    """

    number = models.CharField(max_length=20)
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(Subscription, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="orders")
    cycle = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.AWAITING_PAYMENT)
    payment_method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    currency = models.CharField(max_length=3, default="JPY")
    subtotal = models.PositiveBigIntegerField()
    shipping_fee = models.PositiveBigIntegerField(default=0)
    payment_fee = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField()
    refunded = models.PositiveBigIntegerField(default=0)
    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200)
    shipping = models.JSONField(default=dict, blank=True)
    confirmation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    pay_by = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=100, blank=True, default="")
    tracking_number = models.CharField(max_length=100, blank=True, default="")
    stripe_payment_intent = models.CharField(max_length=100, blank=True, default="")
    # The Stripe Checkout Session the buyer pays on (a card at checkout, a konbini slip), and what Stripe
    # returned for a konbini payment: the slip's address, its deadline and the stores' numbers.
    stripe_checkout_session = models.CharField(max_length=100, blank=True, default="")
    payment_instructions = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="order_ws_created"),
            models.Index(fields=["stripe_checkout_session"], name="order_checkout_session"),
            models.Index(fields=["workspace", "status", "pay_by"], name="order_ws_status_payby"),
            models.Index(fields=["stripe_payment_intent"], name="order_payment_intent"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "number"], name="order_unique_number"),
            models.UniqueConstraint(fields=["subscription", "cycle"], name="order_one_per_cycle",
                                    condition=models.Q(subscription__isnull=False)),
        ]

    @property
    def refundable(self) -> int:
        return self.total - self.refunded

    def __str__(self) -> str:
        return self.number


class OrderLine(WorkspaceOwned):
    """One line of an order: a product, a fee or shipping, at a tax-inclusive amount and its own tax rate.
    A discount is a negative line at the rate of the goods it reduces, so the tax per rate stays right."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField()
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4)

    class Meta:
        indexes = [models.Index(fields=["workspace", "order"], name="orderline_ws_order")]


class OrderEvent(WorkspaceOwned):
    """A line of an order's timeline: placed, paid, shipped, refunded, reminded, expired."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["workspace", "order", "at"], name="orderevent_ws_order_at")]
        ordering = ["at", "pk"]


class SalesDocument(WorkspaceOwned):
    """A receipt (領収書), an invoice (請求書) or a refund note (返金明細書) issued for an order.

    ``content`` is what the document says, fixed when it is issued: the issuer and its registration number,
    the recipient, the dates, the lines and the tax per rate. Every later download renders the same content
    marked 再発行, and a refund after issue gets a refund note of its own, so a document once handed out never
    changes. ``qualified`` says whether it was issued as a qualified invoice (適格請求書), which only a
    workspace with a registration number may issue. Numbers run 1, 2, 3 … per workspace across all kinds.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    number = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    qualified = models.BooleanField()
    content = models.JSONField()
    copies = models.PositiveIntegerField(default=0, help_text="How many times it was given out again (再発行).")
    last_copied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "number"], name="salesdocument_unique_number"),
            models.UniqueConstraint(fields=["order", "kind"], name="salesdocument_one_receipt_or_invoice",
                                    condition=models.Q(kind__in=[DocumentKind.RECEIPT, DocumentKind.INVOICE])),
        ]
        indexes = [models.Index(fields=["workspace", "order"], name="salesdocument_ws_order")]
        ordering = ["number"]

    @property
    def display_number(self) -> str:
        return f"{self.number:06d}"

    def __str__(self) -> str:
        return f"{self.kind} {self.display_number}"


class Refund(WorkspaceOwned):
    """Money given back on an order, in full or in part."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    amount = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField()
    stripe_refund = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["workspace", "order"], name="refund_ws_order")]


class Renewal(WorkspaceOwned, DurableWork):
    """The next delivery of a subscription, due at ``due_at``: a worker claims it when due, creates that
    cycle's order (one per subscription and cycle, by constraint) and charges it, then schedules the next.
    The customer's page moves the date (``next_attempt_at``) or skips it."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="renewals")
    cycle = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=RenewalOutcome.choices, blank=True, default="")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    charge_attempts = models.PositiveSmallIntegerField(default=0)

    max_attempts = 12

    class Meta(DurableWork.Meta):
        constraints = [models.UniqueConstraint(fields=["subscription", "cycle"], name="renewal_one_per_cycle")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="commerce_renewal_ready"),
            models.Index(fields=["status", "lease_until"], name="commerce_renewal_lease"),
            models.Index(fields=["workspace", "subscription"], name="renewal_ws_subscription"),
        ]


class PaymentWebhook(WorkspaceOwned):
    """A provider's webhook event already applied, by its id: a second delivery of it changes nothing."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "provider", "event_id"],
                                               name="paymentwebhook_once")]


class PaymentDeadline(WorkspaceOwned, DurableWork):
    """A bank transfer's reminder before its deadline, or the deadline itself, at which an order still unpaid
    expires. A worker claims each when due; one already paid is simply done."""

    REMIND = "remind"
    EXPIRE = "expire"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8)

    class Meta(DurableWork.Meta):
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="paymentdeadline_once")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="commerce_deadline_ready"),
            models.Index(fields=["status", "lease_until"], name="commerce_deadline_lease"),
        ]


class CustomerMail(WorkspaceOwned, DurableWork):
    """A mail to a buyer (the order's details, the bank account, a subscription's link, a card that needs
    authentication), written when the fact happens and sent by a worker, so a crash loses none."""

    kind = models.CharField(max_length=32)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(Subscription, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+")

    class Meta(DurableWork.Meta):
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="commerce_mail_ready"),
            models.Index(fields=["status", "lease_until"], name="commerce_mail_lease"),
            models.Index(fields=["workspace", "order"], name="customermail_ws_order"),
        ]


class InvitationOnly(WorkspaceOwned):
    """An offer sold only through a signed invitation to a known customer (a back-end course offered to the
    guide's buyers), never to whoever finds the checkout's address."""

    offer = models.OneToOneField(Offer, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "offer"], name="invitationonly_ws_offer")]


class WebhookEndpoint(WorkspaceOwned):
    """Where a workspace wants its sales events posted (its own system, a spreadsheet bridge), signed with a
    secret shown once when the address is saved."""

    url = models.URLField(max_length=500)
    secret = EncryptedTextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="webhookendpoint_one_per_workspace")]


class WebhookDelivery(WorkspaceOwned, DurableWork):
    """One event to post to a workspace's endpoint; its id goes with it so the receiver can apply it once."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(DurableWork.Meta):
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="commerce_webhook_ready"),
            models.Index(fields=["status", "lease_until"], name="commerce_webhook_lease"),
        ]


class OfferFile(WorkspaceOwned):
    """A file delivered to the buyers of an offer (a PDF guide, a video, a zip of worksheets), kept in the
    private ``downloads`` storage under a random name and handed out only through signed, expiring links.

    It belongs to the offer rather than the product: what a buyer paid for is the offer, and two offers of
    one product (the guide alone, the guide with a bonus video) may deliver different files.
    ``max_downloads`` limits how often each order may fetch it (null: no limit)."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    file_name = models.CharField(max_length=200)
    stored_name = models.CharField(max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    max_downloads = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "offer"], name="offerfile_ws_offer")]
        constraints = [models.CheckConstraint(condition=~models.Q(max_downloads=0), name="offerfile_limit_positive")]
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class Download(WorkspaceOwned):
    """One download of an offer's file by the buyer of an order: counted against the file's limit."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    offer_file = models.ForeignKey(OfferFile, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["order", "offer_file"], name="download_order_file")]
class DiscountCode(WorkspaceOwned):
    """A discount code (クーポンコード) a buyer types at the checkout: percent or yen off the goods of all offers
    or of the chosen ones, within its dates, up to a number of uses in all and, if set, once per buyer.

    ``code`` is kept upper-case and compared so; ``uses`` counts the uses not given back, changed only by a
    conditional update under the row's lock, so two buyers racing for the last use cannot both get it."""

    PERCENT = "percent"
    AMOUNT = "amount"
    KINDS = ((PERCENT, "percent"), (AMOUNT, "amount"))

    code = models.CharField(max_length=40)
    kind = models.CharField(max_length=8, choices=KINDS)
    value = models.PositiveBigIntegerField()
    offers = models.ManyToManyField(Offer, blank=True, related_name="+")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    once_per_buyer = models.BooleanField(default=True)
    every_delivery = models.BooleanField(default=False, help_text="Subscriptions: every delivery, not only the first.")
    active = models.BooleanField(default=True)
    uses = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "code"], name="discountcode_unique_code")]

    def __str__(self) -> str:
        return self.code


class DiscountUse(WorkspaceOwned):
    """One order that used a code, by which buyer (their normalised email). A cancelled or expired unpaid
    order gives its use back (``released_at``), and the buyer may use the code again."""

    discount_code = models.ForeignKey(DiscountCode, on_delete=models.PROTECT, related_name="used_by")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="discount_use")
    email = models.CharField(max_length=254)
    amount = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "discount_code", "email"], name="discountuse_ws_code_email")]


class Upsell(WorkspaceOwned):
    """The one-click upsell (アップセル) offered right after ``order`` was paid (or, for a transfer or cash on
    delivery, placed): the buyer accepts or declines it once. ``stripe_customer``/``stripe_payment_method`` are
    the card saved at that payment, which pays the upsell off-session."""

    ACCEPTED = "accepted"
    DECLINED = "declined"

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="upsell")
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    stripe_customer = models.CharField(max_length=100, blank=True, default="")
    stripe_payment_method = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()
    answer = models.CharField(max_length=8, blank=True, default="")
    answered_at = models.DateTimeField(null=True, blank=True)
    upsell_order = models.OneToOneField(Order, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="upsell_of")

    class Meta:
        indexes = [models.Index(fields=["workspace", "order"], name="upsell_ws_order")]
