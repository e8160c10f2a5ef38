"""Products, offers, premiums and ladders."""

from __future__ import annotations

from django.db import models

from musubi.catalog.choices import Billing, Interval, OfferRole, OfferStatus, PremiumKind, ProductKind, TaxCategory
from musubi.kernel.models import WorkspaceOwned


class Product(WorkspaceOwned):
    """Something the business provides: a trial set, a monthly box, a dish, a course.

    Costs are per unit, tax-exclusive, in the workspace currency's minor unit; the planner adds them up.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=ProductKind.choices, default=ProductKind.PHYSICAL)
    tax_category = models.CharField(max_length=16, choices=TaxCategory.choices, default=TaxCategory.STANDARD)
    goods_cost = models.PositiveBigIntegerField(default=0)
    shipping_cost = models.PositiveBigIntegerField(default=0)
    fulfilment_cost = models.PositiveBigIntegerField(default=0)
    payment_fee = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "name"], name="product_ws_name")]

    @property
    def unit_cost(self) -> int:
        return self.goods_cost + self.shipping_cost + self.fulfilment_cost + self.payment_fee

    def __str__(self) -> str:
        return self.name


class Offer(WorkspaceOwned):
    """A product at a price, with its place in the ladder (front-end, middle or back-end) and its billing.

    ``price`` is tax-inclusive. A recurring offer bills every ``interval`` for ``cycles`` deliveries (null:
    until cancelled) and may discount its first delivery (定期初回, ``first_price``); the planner then treats
    that first delivery as the front-end and the deliveries after it as the back-end.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="offers")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=8, choices=OfferRole.choices)
    price = models.PositiveBigIntegerField()
    billing = models.CharField(max_length=16, choices=Billing.choices, default=Billing.ONE_TIME)
    interval = models.CharField(max_length=8, choices=Interval.choices, blank=True, default="")
    cycles = models.PositiveIntegerField(null=True, blank=True)
    first_price = models.PositiveBigIntegerField(null=True, blank=True)
    # 最低継続回数: a subscription the customer may cancel only once this many deliveries were made.
    min_deliveries = models.PositiveIntegerField(null=True, blank=True)
    # アップセル: the offer shown with one click right after a purchase of this one.
    upsell_offer = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "role"], name="offer_ws_role")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(billing="one_time") | ~models.Q(interval=""), name="offer_recurring_has_interval"
            ),
            models.CheckConstraint(condition=~models.Q(cycles=0), name="offer_cycles_positive"),
        ]

    @property
    def is_recurring(self) -> bool:
        return self.billing == Billing.RECURRING

    @property
    def entry_price(self) -> int:
        """What the first purchase costs: the discounted first delivery if there is one."""
        return self.first_price if self.first_price is not None else self.price

    def __str__(self) -> str:
        return self.name


class Premium(WorkspaceOwned):
    """A premium (景品) that comes with an offer: a free dish, a gift, a lottery prize.

    ``legal_value`` is its normal tax-inclusive selling price, which the Premiums and Representations Act
    measures; ``cost`` is what it costs the business, which the economics use. A dish sold at 480 yen that
    costs 150 yen to make has a legal value of 480.
    """

    offer = models.OneToOneField(Offer, on_delete=models.CASCADE, related_name="premium")
    description = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=PremiumKind.choices, default=PremiumKind.GIVEAWAY)
    legal_value = models.PositiveBigIntegerField()
    cost = models.PositiveBigIntegerField(default=0)
    purchase_required = models.BooleanField(default=True)
    visit_required = models.BooleanField(default=False)
    cheapest_normal_purchase = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="For a premium for visiting without buying: the cheapest normal purchase."
    )

    def __str__(self) -> str:
        return self.description


class Ladder(WorkspaceOwned):
    """A ladder: the front-end offers that win customers and the back-end offers they lead to."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class LadderStep(WorkspaceOwned):
    """One step up a ladder: the share of a front-end's buyers who go on to buy a back-end (its take rate).

    ``retention`` is, for a recurring back-end, the share of subscribers who stay from one delivery to the
    next. A recurring offer with a discounted first delivery may lead to itself: the first delivery is the
    front-end, the ones after it the back-end, and the take rate is the share who take the second delivery.
    """

    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="steps")
    front = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    back = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    take_rate = models.DecimalField(max_digits=7, decimal_places=6)
    retention = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ladder", "front", "back"], name="ladderstep_unique")]
        indexes = [models.Index(fields=["workspace", "ladder"], name="ladderstep_ws_ladder")]
