"""Forms of the ladder pages. They only parse and present; the catalog's services decide what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.catalog.choices import Billing, Interval, OfferRole, PremiumKind, ProductKind, TaxCategory
from musubi.web.forms import PercentField, ServiceErrorsMixin

YEN: dict[str, Any] = {"min_value": 0, "max_value": 10**12}


class ProductForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Product name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=ProductKind.choices)
    tax_category = forms.ChoiceField(label=_("Consumption tax"), choices=TaxCategory.choices)
    goods_cost = forms.IntegerField(label=_("Cost of goods (yen, excl. tax)"), initial=0, **YEN)
    shipping_cost = forms.IntegerField(label=_("Shipping per unit (yen)"), initial=0, **YEN)
    fulfilment_cost = forms.IntegerField(label=_("Packing and fulfilment per unit (yen)"), initial=0, **YEN)
    payment_fee = forms.IntegerField(label=_("Payment fee per unit (yen)"), initial=0, **YEN)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class OfferForm(ServiceErrorsMixin):
    product_id = forms.TypedChoiceField(label=_("Product"), coerce=int)
    name = forms.CharField(label=_("Offer name"), max_length=200,
                           help_text=_("What the customer sees, e.g. “お試しセット 980円”."))
    role = forms.ChoiceField(label=_("Role in the ladder"), choices=OfferRole.choices,
                             help_text=_("Front-end: wins the customer. Back-end: makes the profit."))
    price = forms.IntegerField(label=_("Price (yen, incl. tax)"), **YEN)
    billing = forms.ChoiceField(label=_("Billing"), choices=Billing.choices)
    interval = forms.ChoiceField(label=_("Delivered"), choices=[("", "—"), *Interval.choices], required=False)
    cycles = forms.IntegerField(label=_("Number of deliveries"), required=False, min_value=1,
                                help_text=_("Leave empty for “until cancelled”."))
    first_price = forms.IntegerField(label=_("Discounted first delivery (yen, incl. tax)"), required=False, **YEN,
                                     help_text=_("定期初回: leave empty when the first delivery costs the same."))
    min_deliveries = forms.IntegerField(label=_("Minimum number of deliveries"), required=False, min_value=2,
                                        help_text=_("最低継続回数: the customer can cancel only after this many "
                                                    "deliveries. Leave empty for none."))
    upsell_offer_id = forms.TypedChoiceField(
        label=_("Upsell after a purchase"), coerce=int, required=False, empty_value=None,
        help_text=_("アップセル: offered with one click right after a purchase of this offer, paid the same way."))

    def __init__(self, *args: Any, products: list[tuple[int, str]], offers: list[tuple[int, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product_id"].choices = products  # type: ignore[attr-defined]
        self.fields["upsell_offer_id"].choices = [("", "—"), *(offers or [])]  # type: ignore[attr-defined]


class PremiumForm(ServiceErrorsMixin):
    description = forms.CharField(label=_("What the premium is"), max_length=200,
                                  help_text=_("e.g. “おつまみ一品”"))
    kind = forms.ChoiceField(label=_("Kind of premium"), choices=PremiumKind.choices)
    legal_value = forms.IntegerField(label=_("Normal selling price (yen, incl. tax)"), **YEN,
                                     help_text=_("The law values a premium at what it normally sells for, not at "
                                                 "what it costs you."))
    cost = forms.IntegerField(label=_("What it costs you (yen)"), initial=0, **YEN)
    purchase_required = forms.BooleanField(label=_("Only with a purchase"), required=False, initial=True)
    visit_required = forms.BooleanField(label=_("Only for visiting the shop"), required=False)
    cheapest_normal_purchase = forms.IntegerField(
        label=_("Cheapest normal purchase in the shop (yen, incl. tax)"), required=False, **YEN,
        help_text=_("For a premium for visiting without buying: the law then takes this, or 100 yen if it is "
                    "less, as the value of the transaction."))


class LadderForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Ladder name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StepForm(ServiceErrorsMixin):
    front_id = forms.TypedChoiceField(label=_("Front-end"), coerce=int)
    back_id = forms.TypedChoiceField(label=_("Leads to (back-end)"), coerce=int)
    take_rate = PercentField(label=_("Take rate (%)"),
                             help_text=_("The share of the front-end's buyers who buy this back-end."))
    retention = PercentField(label=_("Retention per delivery (%)"), required=False,
                             help_text=_("For a subscription: the share who stay from one delivery to the next."))

    def __init__(self, *args: Any, fronts: list[tuple[int, str]], backs: list[tuple[int, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["front_id"].choices = fronts  # type: ignore[attr-defined]
        self.fields["back_id"].choices = backs  # type: ignore[attr-defined]
