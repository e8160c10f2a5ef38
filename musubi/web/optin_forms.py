"""Forms of the owner's pages for capture points (opt-in forms) and coupons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from musubi.capture.choices import FieldKind, Incentive
from musubi.capture.coupons import Terms
from musubi.capture.models import CapturePoint, CapturePointVersion
from musubi.capture.points import Setup, Wording
from musubi.web.forms import ServiceErrorsMixin


class CapturePointForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Name (only you see it)"), max_length=200,
                           help_text=_("e.g. “LINE登録で唐揚げ1皿無料（テーブルQR）”"))
    offer_id = forms.TypedChoiceField(label=_("Front-end offer"), coerce=int, required=False, empty_value=None)
    source_id = forms.TypedChoiceField(label=_("Source when no link brought the person"), coerce=int,
                                       required=False, empty_value=None)
    headline = forms.CharField(label=_("Headline"), max_length=200)
    body = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    image = forms.FileField(label=_("Image (PNG, JPEG, WebP or GIF, up to 2 MB)"), required=False)
    remove_image = forms.BooleanField(label=_("Remove the current image"), required=False)
    ask_name = forms.BooleanField(label=_("Ask for the name"), required=False, initial=True)
    ask_email = forms.BooleanField(label=_("Ask for the email address"), required=False, initial=True)
    ask_phone = forms.BooleanField(label=_("Ask for the phone number"), required=False)
    consent_text = forms.CharField(
        label=_("Consent checkbox text"), max_length=500,
        initial=_("I agree to receive news and offers by email."),
        help_text=_("The box is never ticked in advance: the person ticks it."))
    consent_required = forms.BooleanField(label=_("The box must be ticked to register"), required=False,
                                          initial=True)
    purpose_text = forms.CharField(label=_("Purpose of use"), widget=forms.Textarea(attrs={"rows": 3}),
                                   initial=_("We use your details to send you the coupon and our news and offers."))
    sender_name = forms.CharField(label=_("Sender's legal name"), max_length=200,
                                  help_text=_("The company or person sending the messages, as the law asks."))
    privacy_url = forms.CharField(label=_("Privacy policy URL"), max_length=2000, required=False)
    tokushoho_url = forms.CharField(label=_("URL of the 特定商取引法 notice"), max_length=2000, required=False)
    button_label = forms.CharField(label=_("Button label"), max_length=50, required=False,
                                  help_text=_("Empty: “Register”."))
    thanks_text = forms.CharField(label=_("Thank-you text"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    incentive = forms.ChoiceField(label=_("What the person gets"), choices=Incentive.choices)
    coupon_id = forms.TypedChoiceField(label=_("Coupon"), coerce=int, required=False, empty_value=None)
    download_url = forms.CharField(label=_("Download URL"), max_length=2000, required=False)
    double_opt_in = forms.BooleanField(
        label=_("Double opt-in: confirm the address by mail first"), required=False,
        help_text=_("Until the person opens the link in the mail, nothing is sent to them and nothing is given."))
    tags = forms.CharField(label=_("Tags for everyone who registers"), max_length=1000, required=False,
                           help_text=_("Separate with commas."))
    active = forms.BooleanField(label=_("Open (accepting registrations)"), required=False, initial=True)

    def __init__(self, *args: Any, offers: list[tuple[int, str]], sources: list[tuple[int, str]],
                 coupons: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        none = [("", "—")]
        self.fields["offer_id"].choices = none + offers  # type: ignore[attr-defined]
        self.fields["source_id"].choices = none + sources  # type: ignore[attr-defined]
        self.fields["coupon_id"].choices = none + coupons  # type: ignore[attr-defined]

    def setup(self) -> Setup:
        data = self.cleaned_data
        return Setup(name=data["name"], offer_id=data["offer_id"], source_id=data["source_id"],
                     double_opt_in=data["double_opt_in"], consent_required=data["consent_required"],
                     incentive=data["incentive"], coupon_id=data["coupon_id"], download_url=data["download_url"],
                     tags=[t.strip() for t in data["tags"].replace("、", ",").split(",") if t.strip()],
                     active=data["active"])

    def wording(self, questions: list[dict[str, Any]]) -> Wording:
        data = self.cleaned_data
        return Wording(headline=data["headline"], body=data["body"], ask_email=data["ask_email"],
                       ask_name=data["ask_name"], ask_phone=data["ask_phone"], questions=questions,
                       consent_text=data["consent_text"], purpose_text=data["purpose_text"],
                       sender_name=data["sender_name"], privacy_url=data["privacy_url"],
                       tokushoho_url=data["tokushoho_url"], button_label=data["button_label"],
                       thanks_text=data["thanks_text"])

    @staticmethod
    def initial_for(point: CapturePoint, version: CapturePointVersion) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": point.name, "offer_id": point.offer_id, "source_id": point.source_id,
            "double_opt_in": point.double_opt_in, "consent_required": point.consent_required,
            "incentive": point.incentive, "coupon_id": point.coupon_id, "download_url": point.download_url,
            "tags": ", ".join(point.tags), "active": point.active}
        for name in ("headline", "body", "ask_email", "ask_name", "ask_phone", "consent_text", "purpose_text",
                     "sender_name", "privacy_url", "tokushoho_url", "button_label", "thanks_text"):
            initial[name] = getattr(version, name)
        return initial


class QuestionForm(forms.Form):
    """One survey question; its key is made from its position unless it already has one (kept on edits, so
    answers collected earlier stay under the same key)."""

    key = forms.CharField(required=False, widget=forms.HiddenInput)
    label = forms.CharField(label=_("Question"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Answer"), choices=FieldKind.choices, required=False)
    options = forms.CharField(label=_("Choices (one per line)"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
    required = forms.BooleanField(label=_("Required"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


QuestionFormSet = forms.formset_factory(QuestionForm, extra=2, max_num=20, absolute_max=20)


def questions_from(formset: Any) -> list[dict[str, Any]]:
    """The questions typed in the formset, in order; rows without a question are skipped."""
    questions: list[dict[str, Any]] = []
    taken = {f.cleaned_data.get("key") for f in formset.forms if f.cleaned_data.get("key")}
    number = 1
    for form in formset.forms:
        data = form.cleaned_data
        if not data.get("label", "").strip():
            continue
        key = data.get("key") or ""
        while not key:
            candidate = f"q{number}"
            number += 1
            if candidate not in taken:
                key = candidate
                taken.add(key)
        kind = data.get("kind") or FieldKind.TEXT
        options = [line.strip() for line in data.get("options", "").splitlines() if line.strip()]
        questions.append({"key": key, "label": data["label"].strip(), "kind": kind,
                          "required": bool(data.get("required")),
                          "options": options if kind in (FieldKind.SINGLE, FieldKind.MULTIPLE) else []})
    return questions


def question_initial(version: CapturePointVersion) -> list[dict[str, Any]]:
    return [{**q, "options": "\n".join(q["options"])} for q in version.questions]


class CouponDefinitionForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Name (only you see it)"), max_length=200)
    benefit = forms.CharField(label=_("What the coupon gives"), max_length=200,
                              help_text=_("As the customer reads it, e.g. “唐揚げ1皿無料”."))
    offer_id = forms.TypedChoiceField(label=_("Front-end offer"), coerce=int, required=False, empty_value=None)
    cost = forms.IntegerField(label=_("Cost to you per use (yen)"), min_value=0, initial=0,
                              help_text=_("What one use costs the shop (the dish's cost, not its price)."))
    valid_days = forms.IntegerField(label=_("Valid for (days after it is given)"), min_value=1, max_value=3650,
                                    required=False)
    valid_until = forms.DateField(label=_("Last day it can be used"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    max_redemptions = forms.IntegerField(label=_("Uses per coupon"), min_value=1, max_value=1000, initial=1)
    active = forms.BooleanField(label=_("Being given out (untick to stop giving it and to refuse it at the counter)"),
                                required=False, initial=True)

    def __init__(self, *args: Any, offers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["offer_id"].choices = [("", "—"), *offers]  # type: ignore[attr-defined]

    def terms(self, end_of_day: Any) -> Terms:
        data = self.cleaned_data
        until: dt.date | None = data["valid_until"]
        return Terms(name=data["name"], benefit=data["benefit"], offer_id=data["offer_id"], cost=data["cost"],
                     valid_days=data["valid_days"], valid_until=end_of_day(until) if until else None,
                     max_redemptions=data["max_redemptions"])


class RedeemForm(forms.Form):
    code = forms.CharField(label=_("Coupon code"), max_length=64,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                         "inputmode": "text", "placeholder": "ABCDE-FGHJK"}))


class LineChannelForm(ServiceErrorsMixin):
    name = forms.CharField(label=_("Name"), max_length=200, help_text=_("e.g. the Official Account's name."))
    channel_id = forms.CharField(label=_("Channel ID"), max_length=20)
    channel_secret = forms.CharField(label=_("Channel secret"), max_length=64, required=False,
                                     widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))
    access_token = forms.CharField(label=_("Channel access token (long-lived)"), required=False,
                                   widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))
    greeting = forms.CharField(label=_("Greeting sent when someone adds the account"), required=False,
                               widget=forms.Textarea(attrs={"rows": 3}))
    coupon_id = forms.TypedChoiceField(label=_("Coupon sent with the greeting"), coerce=int, required=False,
                                       empty_value=None)
    basic_id = forms.CharField(label=_("The account's ID (@…)"), max_length=40, required=False,
                               help_text=_("For the add-friend link, e.g. @123abcde."))
    login_channel_id = forms.CharField(
        label=_("LINE Login channel ID (optional)"), max_length=20, required=False,
        help_text=_("With a LINE Login channel linked to the account, a friend who adds it through a Musubi link or "
                    "QR code is credited to that link's source; without one, to “LINE（経路不明）”."))
    login_channel_secret = forms.CharField(label=_("LINE Login channel secret"), max_length=64, required=False,
                                           widget=forms.PasswordInput(render_value=False,
                                                                      attrs={"autocomplete": "off"}))

    def __init__(self, *args: Any, coupons: list[tuple[int, str]], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coupon_id"].choices = [("", "—"), *coupons]  # type: ignore[attr-defined]
        if editing:
            self.fields["active"] = forms.BooleanField(
                label=_("Connected (untick to stop: the webhook is refused and nothing is sent)"), required=False)
            self.fields["channel_id"].disabled = True
            for name in ("channel_secret", "access_token", "login_channel_secret"):
                self.fields[name].help_text = _("Saved and hidden. Leave empty to keep it; paste a new one to "
                                                "replace it.")
