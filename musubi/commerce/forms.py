"""The checkout form: what the buyer types, checked for shape here and for meaning by ``services.prepare``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.commerce.choices import PaymentMethod
from musubi.commerce.rules import MAX_QUANTITY


class CheckoutForm(forms.Form):
    quantity = forms.TypedChoiceField(label=_("Quantity"), coerce=int,
                                      choices=[(n, str(n)) for n in range(1, MAX_QUANTITY + 1)], initial=1)
    name = forms.CharField(label=_("Name"), max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.CharField(label=_("Email address"), max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}))
    phone = forms.CharField(label=_("Phone number"), max_length=40, required=False,
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}))
    postal_code = forms.CharField(label=_("Postal code"), max_length=10, required=False,
                                  widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric",
                                                                "placeholder": "100-0001"}))
    address = forms.CharField(label=_("Delivery address"), max_length=300, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "street-address"}))
    payment_method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)
    discount_code = forms.CharField(label=_("Discount code (if you have one)"), required=False, max_length=40,
                                    widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                                  "spellcheck": "false"}))
    consent = forms.BooleanField(label=_("Send me news and offers from this shop by email."), required=False)

    # No card field: the card is entered on Stripe's hosted page after the confirmation screen.
    def __init__(self, *args: Any, methods: list[str], physical: bool, max_quantity: int = MAX_QUANTITY,
                 **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if max_quantity == 1:  # no menu to choose from; another number posted is refused by the checkout
            self.fields["quantity"].widget = forms.HiddenInput()
        self.fields["payment_method"].choices = [  # type: ignore[attr-defined]
            (m, PaymentMethod(m).label) for m in methods]
        if len(methods) == 1:
            self.fields["payment_method"].initial = methods[0]
        if not physical:
            for name in ("postal_code", "address"):
                del self.fields[name]
