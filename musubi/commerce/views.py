"""Public pages of selling: the hosted checkout and its confirmation screen, the order's page (bank details,
the way back from 3-D Secure), the customer's subscription page, and Stripe's webhook. None needs a sign-in;
links to an order or a subscription are signed."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from musubi.capture.rules import hash_ip
from musubi.catalog.choices import ProductKind
from musubi.catalog.models import Offer
from musubi.commerce import (
    access,
    checkout,
    documents,
    hosted_checkout,
    notices,
    order_lifecycle,
    payment_setup,
    stripe_events,
    subscriptions,
    upsells,
)
from musubi.commerce.choices import OrderStatus, PaymentMethod, SubscriptionStatus
from musubi.commerce.forms import CheckoutForm
from musubi.commerce.models import Order
from musubi.integrations import stripe_payments
from musubi.kernel import ratelimit, tokens
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput, MusubiError, NotFound
from musubi.workspaces.models import Workspace

logger = logging.getLogger("musubi.commerce")
CHECKOUT = "checkout"
MAX_FORM_BYTES = 32 * 1024


def _offer(offer_id: int) -> Offer:
    try:
        return checkout.offer_for_sale(offer_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _form(offer: Offer, data: Any = None, initial: dict[str, Any] | None = None) -> CheckoutForm:
    methods = checkout.methods_for(offer)
    return CheckoutForm(data, initial=initial, methods=methods, physical=offer.product.kind == ProductKind.PHYSICAL,
                        max_quantity=checkout.max_quantity(offer))


def _legal_url(offer: Offer) -> str:
    return reverse("legal_notice", args=[offer.workspace.slug])


def _checkout_page(request: HttpRequest, offer: Offer, form: CheckoutForm, *, status: int = 200,
                   problem: str = "", invite: str = "") -> HttpResponse:
    from musubi.workspaces.queries import legal_profile

    terms = checkout.terms_of(offer)
    return render(request, "commerce/checkout.html", {
        "offer": offer, "terms": terms, "form": form, "problem": problem, "shop": offer.workspace,
        "legal": legal_profile(offer.workspace), "legal_url": _legal_url(offer),
        "methods_available": bool(checkout.methods_for(offer)), "invite": invite,
    }, status=status)


def _not_invited(request: HttpRequest, offer: Offer, invite: str) -> HttpResponse | None:
    """For an offer sold only to invited customers: the refusal page, unless ``invite`` is a valid invitation
    to this very offer."""
    if not access.is_invitation_only(offer):
        return None
    try:
        access.check_invitation(offer, invite)
    except Forbidden as exc:
        return render(request, "commerce/not_invited.html", {
            "offer": offer, "shop": offer.workspace, "problem": exc.message, "legal_url": _legal_url(offer)},
            status=403)
    return None


def _too_many(request: HttpRequest) -> bool:
    ip = request.META.get("REMOTE_ADDR", "")
    return not ratelimit.hit("checkout:" + hash_ip(ip, key=settings.SECRET_KEY), limit=settings.MUSUBI_CHECKOUT_LIMIT,
                             window_seconds=settings.MUSUBI_CHECKOUT_WINDOW_SECONDS)


def _refused(request: HttpRequest, offer: Offer, message: str, *, status: int) -> HttpResponse:
    response = _checkout_page(request, offer, _form(offer), status=status, problem=message)
    if status == 429:
        response["Retry-After"] = str(settings.MUSUBI_CHECKOUT_WINDOW_SECONDS)
    return response


def _entry(request: HttpRequest, form: CheckoutForm) -> checkout.Entry:
    data = form.cleaned_data
    return checkout.Entry(
        quantity=data["quantity"], name=data["name"], email=data["email"], phone=data.get("phone", ""),
        postal_code=data.get("postal_code", ""), address=data.get("address", ""),
        payment_method=data["payment_method"],
        consented=bool(data.get("consent")), ip_address=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:500], discount_code=data.get("discount_code", "") or "")


@require_http_methods(["GET", "POST"])
def entries(request: HttpRequest, offer_id: int) -> HttpResponse:
    """Step 1: the offer and the buyer's entries; a valid post shows the final confirmation screen."""
    offer = _offer(offer_id)
    invite = request.GET.get("invite", "") if request.method == "GET" else request.POST.get("invite", "")
    if refusal := _not_invited(request, offer, invite):
        return refusal
    if request.method == "GET":
        return _checkout_page(request, offer, _form(offer), invite=invite)
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_FORM_BYTES:
        return _refused(request, offer, _("That was more than a checkout form can hold."), status=413)
    if _too_many(request):
        return _refused(request, offer, _("Too many orders were sent from your connection. Please wait a few "
                                          "minutes and try again."), status=429)
    form = _form(offer, request.POST)
    if not form.is_valid():
        return _checkout_page(request, offer, form, status=400, problem=_("Some entries need attention."),
                              invite=invite)
    try:
        prepared = checkout.prepare(offer=offer, entry=_entry(request, form), legal_url=_legal_url(offer))
    except InvalidInput as exc:
        for name, message in exc.fields.items():
            form.add_error(name if name in form.fields else None, message)
        return _checkout_page(request, offer, form, status=400, problem=exc.message, invite=invite)
    return _confirmation_page(request, offer, prepared, invite=invite)


def _confirmation_page(request: HttpRequest, offer: Offer, prepared: checkout.Prepared, *, problem: str = "",
                       status: int = 200, invite: str = "") -> HttpResponse:
    entry = asdict(prepared.entry)
    token = tokens.sign({"offer": offer.pk, "entry": entry, "screen": prepared.screen, "invite": invite},
                        purpose=CHECKOUT)
    return render(request, "commerce/confirm.html", {
        "offer": offer, "shop": offer.workspace, "screen": prepared.screen, "token": token,
        "lines": prepared.quote.lines, "legal_url": _legal_url(offer), "problem": problem}, status=status)


@require_POST
def confirm(request: HttpRequest, offer_id: int) -> HttpResponse:
    """Step 2: the buyer pressed 注文を確定する (or went back to change the order). The entries come back
    signed; the quantity and total the page shows are posted beside them, and any difference, a foreign offer
    or an expired screen refuses the order with nothing written."""
    offer = _offer(offer_id)
    if _too_many(request):
        return _refused(request, offer, _("Too many orders were sent from your connection. Please wait a few "
                                          "minutes and try again."), status=429)
    try:
        signed = tokens.unsign(request.POST.get("token", ""), purpose=CHECKOUT,
                               max_age_seconds=settings.MUSUBI_CHECKOUT_FORM_SECONDS)
    except signing.SignatureExpired:
        return _refused(request, offer, _("This confirmation screen has expired. Please enter your order again."),
                        status=410)
    except signing.BadSignature:
        return _refused(request, offer, _("The order could not be verified (it was changed after the "
                                          "confirmation screen). Please enter it again."), status=400)
    entry = checkout.Entry(**signed["entry"])
    invite = signed.get("invite", "")
    if refusal := _not_invited(request, offer, invite):
        return refusal
    if request.POST.get("back"):
        initial = {**signed["entry"], "consent": signed["entry"]["consented"]}
        return _checkout_page(request, offer, _form(offer, initial=initial), invite=invite)
    screen = signed["screen"]
    if signed["offer"] != offer.pk or screen.get("offer_id") != offer.pk:
        return _refused(request, offer, _("This confirmation belongs to another offer. Please order again."),
                        status=400)
    if (request.POST.get("quantity") != str(screen["quantity"]) or request.POST.get("total") != str(screen["total"])):
        return _refused(request, offer, _("The quantity or the price was changed after the confirmation screen. "
                                          "Nothing was ordered; please check the order and confirm again."),
                        status=400)
    try:
        prepared = checkout.prepare(offer=offer, entry=entry, legal_url=_legal_url(offer))
        placed = checkout.place_order(prepared=prepared, seen=screen)
    except Conflict as exc:  # the offer changed under the buyer: show the new screen to confirm again
        return _confirmation_page(request, offer, checkout.prepare(offer=offer, entry=entry,
                                                                   legal_url=_legal_url(offer)),
                                  problem=exc.message, status=409, invite=invite)
    except InvalidInput as exc:  # e.g. the discount code's last use went to someone else meanwhile
        return _entries_again(request, offer, signed["entry"], exc, invite=invite)
    order = placed.order
    if placed.outcome.state == "needs_buyer" and placed.outcome.redirect_url:
        return HttpResponseRedirect(placed.outcome.redirect_url)
    if upsell := upsells.pending(order):  # shown right after the purchase, before the thanks page
        return redirect("upsell_page", upsells.token(upsell))
    return redirect("order_status", notices.order_token(order))


def _entries_again(request: HttpRequest, offer: Offer, entry: dict[str, Any], exc: InvalidInput, *,
                   invite: str) -> HttpResponse:
    """The checkout page again with the buyer's entries and the reason on the field it concerns."""
    form = _form(offer, {**entry, "consent": "on" if entry.get("consented") else ""})
    form.is_valid()
    for name, message in exc.fields.items():
        form.add_error(name if name in form.fields else None, message)
    return _checkout_page(request, offer, form, status=400, problem=exc.message, invite=invite)


def _order_from(token: str) -> Order:
    try:
        value = tokens.unsign(token, purpose=notices.ORDER_LINK)
    except signing.BadSignature as exc:
        raise Http404(_("This link is not valid.")) from exc
    order = Order.objects.select_related("workspace", "offer", "subscription").filter(
        pk=value.get("o"), workspace_id=value.get("w")).first()
    if order is None:
        raise Http404(_("This link is not valid."))
    return order


@require_GET
def order_status(request: HttpRequest, token: str) -> HttpResponse:
    """The buyer's page of one order: thanks, what to do next (the bank account to transfer to), and exactly
    the confirmation screen they agreed to."""
    order = _order_from(token)
    if request.GET.get("payment_intent"):  # back from 3-D Secure
        order = order_lifecycle.finish_authentication(order=order)
        if upsell := upsells.pending(order):
            return redirect("upsell_page", upsells.token(upsell))
    back_from_stripe = request.GET.get("checkout", "")
    if back_from_stripe == "returned":
        # Ask Stripe once, then show the plain address: a reload (or the page's own refresh) reads only the
        # order, which Stripe's event settles. A paid order with an upsell goes on to it.
        hosted_checkout.finish_checkout(order)
        if upsell := upsells.pending(order):
            return redirect("upsell_page", upsells.token(upsell))
        return redirect("order_status", token)
    awaiting = order.status == OrderStatus.AWAITING_PAYMENT
    hosted = order.payment_method in (PaymentMethod.CARD, PaymentMethod.KONBINI) and bool(
        order.stripe_checkout_session)
    turned_back = awaiting and hosted and back_from_stripe == "cancelled"
    slip = order.payment_instructions if awaiting and order.payment_method == PaymentMethod.KONBINI else {}
    upsell = upsells.pending(order)
    return render(request, "commerce/order.html", {
        "upsell_url": reverse("upsell_page", args=[upsells.token(upsell)]) if upsell else "",
        # The guide or the course opens on its members' page: link it here too, not only from the mail.
        "member_url": access.member_url(order) if (
            access.delivers_access(order) and order.status in access.HAS_BOUGHT) else "",
        "pay_url": reverse("order_pay", args=[token]),
        "order": order, "shop": order.workspace, "screen": order.confirmation,
        "bank_account": payment_setup.payment_settings(order.workspace).bank_account,
        "manage": notices.subscription_url(order.subscription) if order.subscription else "",
        "legal_url": reverse("legal_notice", args=[order.workspace.slug]),
        "awaiting": awaiting, "turned_back": turned_back,
        "checking": awaiting and hosted and order.payment_method == PaymentMethod.CARD and not turned_back,
        "slip": slip, "slip_deadline": _moment(slip.get("expires_at", "")),
        "token": token, "document_kinds": documents.available_kinds(order),
    })


def _moment(iso: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(iso) if iso else None


@require_GET
def member_page(request: HttpRequest, token: str) -> HttpResponse:
    """What a digital product's or a course's buyer opens from the link in their mail: the content, and the
    next offers of the ladder (an invitation where the offer is for invited customers only)."""
    try:
        order = access.member_order(token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        return render(request, "commerce/not_invited.html", {
            "offer": None, "shop": None, "problem": exc.message, "legal_url": ""}, status=403)
    return render(request, "commerce/member.html", {
        "order": order, "product": order.offer.product, "shop": order.workspace,
        "next_offers": access.next_offers(order),
        "receipt_url": reverse("buyer_receipt", args=[notices.order_token(order)]),
        "legal_url": reverse("legal_notice", args=[order.workspace.slug])})


@require_http_methods(["GET", "POST"])
def order_pay(request: HttpRequest, token: str) -> HttpResponse:
    """Pay an order still awaiting payment: a renewal the bank wanted authenticated, on-session with the saved
    card; an order whose buyer turned back on Stripe's payment page (or let it expire), on that page again."""
    order = _order_from(token)
    saved = order_lifecycle.saved_card_of(order) if order.payment_method == PaymentMethod.CARD else None
    # A renewal or an upsell the bank wants authenticated is paid with the card saved for it, on-session;
    # anything else goes (back) to Stripe's hosted page.
    on_saved_card = bool(saved and saved[1])
    hosted = order.payment_method in (PaymentMethod.CARD, PaymentMethod.KONBINI) and not on_saved_card
    problem = ""
    if request.method == "POST" and order.status == OrderStatus.AWAITING_PAYMENT:
        if hosted:
            try:
                return HttpResponseRedirect(hosted_checkout.checkout_again(order))
            except Conflict as exc:
                problem = exc.message
        elif on_saved_card:
            outcome = order_lifecycle.pay_with_saved_card(order=order)
            if outcome.state == "needs_buyer" and outcome.redirect_url:
                return HttpResponseRedirect(outcome.redirect_url)
            return redirect("order_status", token)
    return render(request, "commerce/pay.html", {"order": order, "shop": order.workspace, "hosted": hosted,
                                                 "problem": problem,
                                                 "legal_url": reverse("legal_notice", args=[order.workspace.slug])},
                  status=409 if problem else 200)


UPSELL_SCREEN = "upsell-screen"


@require_http_methods(["GET", "POST"])
def upsell_page(request: HttpRequest, token: str) -> HttpResponse:
    """The one-click upsell right after a purchase: its own generated confirmation screen, 注文を確定する and
    “no thanks”. The link is the buyer's own (signed), fresh, and answers once; afterwards it leads to the
    order."""
    try:
        upsell = upsells.from_token(token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    order = upsell.order
    back = redirect("order_status", notices.order_token(order))
    if upsell.answer:
        return back
    legal_url = reverse("legal_notice", args=[order.workspace.slug])
    try:
        prepared = upsells.prepare(upsell, legal_url=legal_url)
    except (NotFound, InvalidInput):  # no longer on sale, or no longer sold the way this buyer pays
        return back
    problem = ""
    if request.method == "POST":
        if _too_many(request):
            return HttpResponse(status=429)
        if request.POST.get("action") == "decline":
            try:
                upsells.decline(upsell)
            except Conflict:
                pass
            return back
        try:
            seen = tokens.unsign(request.POST.get("screen", ""), purpose=UPSELL_SCREEN,
                                 max_age_seconds=upsells.LINK_SECONDS)
            if seen.get("upsell") != upsell.pk:
                raise signing.BadSignature("another upsell's screen")
            placed = upsells.accept(upsell, seen=seen["screen"], legal_url=legal_url)
        except signing.BadSignature:
            problem = _("The order could not be verified (it was changed after the confirmation screen). Please "
                        "check it and confirm again.")
        except Conflict as exc:
            if exc.code == "answered":
                return back
            problem = exc.message
        else:
            if placed.outcome.state == "needs_buyer" and placed.outcome.redirect_url:
                return HttpResponseRedirect(placed.outcome.redirect_url)
            new_token = notices.order_token(placed.order)
            waiting = placed.order.status == OrderStatus.AWAITING_PAYMENT
            if waiting and placed.outcome.reason == "authentication_required":  # the bank wants the buyer
                return redirect("order_pay", new_token)
            return redirect("order_status", new_token)
    signed = tokens.sign({"upsell": upsell.pk, "screen": prepared.screen}, purpose=UPSELL_SCREEN)
    return render(request, "commerce/upsell.html", {
        "order": order, "offer": prepared.offer, "shop": order.workspace, "screen": prepared.screen,
        "signed": signed, "legal_url": legal_url, "problem": problem}, status=409 if problem else 200)


@require_http_methods(["GET", "POST"])
def subscription_page(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's own page of a subscription: the next delivery, skip it, move it, pause, resume, cancel."""
    try:
        subscription = subscriptions.from_token(token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    problem = done = ""
    if request.method == "POST":
        if _too_many(request):
            return HttpResponse(status=429)
        action = request.POST.get("action", "")
        workspace, pk = subscription.workspace, subscription.pk
        try:
            if action == "skip":
                subscriptions.skip_next(workspace=workspace, subscription_id=pk)
                done = _("The next delivery was skipped.")
            elif action == "date":
                try:
                    on = dt.date.fromisoformat(request.POST.get("date", ""))
                except ValueError as exc:
                    raise InvalidInput(_("Choose a date.")) from exc
                subscriptions.change_date(workspace=workspace, subscription_id=pk, on=on)
                done = _("The date of the next delivery was changed.")
            elif action == "pause":
                subscriptions.pause(workspace=workspace, subscription_id=pk)
                done = _("The subscription is paused.")
            elif action == "resume":
                subscriptions.resume(workspace=workspace, subscription_id=pk)
                done = _("The subscription is running again.")
            elif action == "cancel":
                subscriptions.cancel(workspace=workspace, subscription_id=pk)
                done = _("The subscription is cancelled. No further deliveries will be made or charged.")
            else:
                problem = _("Choose what to do.")
        except MusubiError as exc:
            problem = exc.message
        subscription.refresh_from_db()
    renewal = subscriptions.next_renewal(subscription)
    return render(request, "commerce/subscription.html", {
        "minimum": subscription.offer.min_deliveries, "cancellable_from": subscriptions.cancellable_from(subscription),
        "subscription": subscription, "shop": subscription.workspace, "renewal": renewal,
        "problem": problem, "done": done, "active": subscription.status == SubscriptionStatus.ACTIVE,
        "paused": subscription.status == SubscriptionStatus.PAUSED,
        "legal_url": reverse("legal_notice", args=[subscription.workspace.slug]),
    }, status=400 if problem else 200)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, shop: str) -> HttpResponse:
    """Stripe's events for one workspace: the signature is checked on the raw body before anything is read,
    and each event is applied once (Stripe delivers at least once, in any order)."""
    workspace = Workspace.objects.filter(slug=shop).first()
    secret = payment_setup.payment_settings(workspace).stripe_webhook_secret if workspace else ""
    if workspace is None or not secret:
        return HttpResponse(status=404)
    try:
        event = stripe_payments.verify_event(body=request.body, signature=request.headers.get("Stripe-Signature", ""),
                                             webhook_secret=secret)
    except stripe_payments.BadSignature:
        return HttpResponse("bad signature", status=400, content_type="text/plain")
    state = None
    if event.checkout_session and hosted_checkout.needs_state(event.type):
        # The event says a session may have been paid: how it stands is read from Stripe itself (with the
        # card to keep and a konbini slip's numbers). Unreachable: 503, and Stripe delivers it again.
        import stripe

        try:
            state = stripe_payments.checkout_state(
                secret_key=payment_setup.payment_settings(workspace).stripe_secret_key,
                session_id=event.checkout_session)
        except stripe.StripeError:
            logger.warning("stripe event %s: session %s could not be read", event.id, event.checkout_session)
            return HttpResponse("try again", status=503, content_type="text/plain")
    stripe_events.apply_stripe_event(workspace=workspace, event_id=event.id, kind=event.type, intent_id=event.intent_id,
                                     amount=event.amount, order_number=event.order_number,
                                     checkout_session=event.checkout_session, checkout=state)
    return HttpResponse(status=200)

