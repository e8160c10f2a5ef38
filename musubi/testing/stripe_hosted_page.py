"""The stand-in's hosted payment page, in place of Stripe Checkout's: what a test (or a person trying the demo)
sees after the shop sends them to a Checkout Session.

``/pay/<session>`` offers Stripe's test cards — one that pays, two that ask for 3-D Secure (answered on the
page, as Checkout does), one that is declined — or, for a konbini session, a button that issues the payment
slip. ``/voucher/<intent>`` is the slip: "pay at the store" or let it lapse. Each step sends the events Stripe
sends, in the order Stripe usually does: the PaymentIntent's first, the session's after.
"""

from __future__ import annotations

import datetime as dt
import html
import urllib.parse
from typing import TYPE_CHECKING, Any

from musubi.testing import stripe_standin as api

if TYPE_CHECKING:
    from musubi.testing.stripe_standin import StripeStandIn

CARDS = [
    ("pm_card_visa", "成功するカード（Visa 4242）"),
    ("pm_card_authenticationRequiredOnSetup", "3Dセキュアが必要なカード（初回のみ。以後の定期便は認証なし）"),
    ("pm_card_threeDSecure2Required", "毎回3Dセキュアが必要なカード"),
    ("pm_card_chargeDeclined", "拒否されるカード"),
]
JST = dt.timezone(dt.timedelta(hours=9))
STORES = ("familymart", "lawson", "ministop", "seicomart")
STORE_NAMES = {"familymart": "ファミリーマート", "lawson": "ローソン", "ministop": "ミニストップ",
               "seicomart": "セイコーマート"}

Page = tuple[int, str]
Answer = tuple[int, str, str]  # status, redirect location ("" for none), HTML


def get(state: StripeStandIn, path: str) -> Page:
    parts = path.strip("/").split("/")
    if parts[0] == "voucher" and len(parts) == 2:
        intent = state.intents.get(parts[1])
        if intent is None or not intent.get("_session"):
            return 404, _page("見つかりません", "<p>この支払い番号はありません。</p>")
        return 200, _voucher(intent)
    session = state.sessions.get(parts[1]) if len(parts) >= 2 else None
    if session is None:
        return 404, _page("見つかりません", "<p>このお支払いページはありません。</p>")
    return 200, _pay_page(session)


def post(state: StripeStandIn, path: str, form: dict[str, Any]) -> Answer:
    parts = path.strip("/").split("/")
    if parts[0] == "voucher" and len(parts) == 2:
        return _store_payment(state, parts[1], paid=form.get("result") == "paid")
    session = state.sessions.get(parts[1]) if len(parts) >= 2 else None
    if session is None:
        return 404, "", _page("見つかりません", "<p>このお支払いページはありません。</p>")
    if session["status"] != "open":
        return 409, "", _pay_page(session)
    if len(parts) == 3 and parts[2] == "3ds":
        return _authenticated(state, session, ok=form.get("result") == "ok")
    if form.get("konbini") and "konbini" in session["payment_method_types"]:
        return _issue_slip(state, session)
    card = str(form.get("card", ""))
    if "card" not in session["payment_method_types"] or card not in dict(CARDS):
        return 400, "", _pay_page(session, problem="カードを選んでください。")
    with state.lock:
        intent = _intent(state, session, card)
        if card == api.DECLINED:
            intent["last_payment_error"] = {"type": "card_error", "code": "card_declined",
                                            "decline_code": "generic_decline", "message": "Your card was declined."}
            return 402, "", _pay_page(session, problem="カードが拒否されました。別のカードをお試しください。")
        if card in (api.NEEDS_3DS, api.NEEDS_3DS_ONCE):
            intent["status"] = "requires_action"
            session["_pending_intent"] = intent["id"]
            return 200, "", _authentication_page(session)
    return _paid(state, session, intent)


# --- What each step does ----------------------------------------------------------------------------------------

def _intent(state: StripeStandIn, session: dict[str, Any], method: str) -> dict[str, Any]:
    data = session["_intent_data"]
    intent = {"id": state._id("pi"), "object": "payment_intent", "amount": session["amount_total"],
              "currency": session["currency"], "customer": session["customer"], "payment_method": method,
              "status": "requires_payment_method", "metadata": data.get("metadata") or {},
              "description": data.get("description"), "next_action": None, "last_payment_error": None,
              "amount_refunded": 0, "return_url": "", "setup_future_usage": data.get("setup_future_usage"),
              "payment_method_types": session["payment_method_types"], "_session": session["id"]}
    state.intents[intent["id"]] = intent
    return intent


def _paid(state: StripeStandIn, session: dict[str, Any], intent: dict[str, Any]) -> Answer:
    with state.lock:
        intent["status"], intent["next_action"], intent["last_payment_error"] = "succeeded", None, None
        if intent["customer"] and intent.get("setup_future_usage"):
            state.customers[intent["customer"]]["payment_methods"].append(intent["payment_method"])
        session["status"], session["payment_status"], session["url"] = "complete", "paid", None
        session["payment_intent"] = intent["id"]
    state.send_event(session["_key"], "payment_intent.succeeded", intent)
    state.send_event(session["_key"], "checkout.session.completed", session)
    return 303, _success_url(session), ""


def _authenticated(state: StripeStandIn, session: dict[str, Any], *, ok: bool) -> Answer:
    intent = state.intents.get(session.get("_pending_intent") or "")
    if intent is None:
        return 400, "", _pay_page(session, problem="認証するお支払いがありません。")
    session["_pending_intent"] = ""
    if ok:
        return _paid(state, session, intent)
    intent["status"] = "requires_payment_method"
    intent["last_payment_error"] = {"type": "card_error", "code": "payment_intent_authentication_failure",
                                    "message": "The cardholder did not authenticate."}
    return 402, "", _pay_page(session, problem="カードの本人認証ができませんでした。別のカードをお試しください。")


def _issue_slip(state: StripeStandIn, session: dict[str, Any]) -> Answer:
    days = int(((session["payment_method_options"] or {}).get("konbini") or {}).get("expires_after_days") or 3)
    # Stripe's slip can be paid until 23:59 (Japan time) of the last day.
    last_day = dt.datetime.now(JST).date() + dt.timedelta(days=days)
    expires = dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=JST)
    with state.lock:
        intent = _intent(state, session, "pm_konbini_" + state._id("x"))
        digits = "".join(c for c in intent["id"] if c.isdigit()).rjust(6, "0")
        intent["status"] = "requires_action"
        intent["next_action"] = {"type": "konbini_display_details", "konbini_display_details": {
            "expires_at": int(expires.timestamp()), "hosted_voucher_url": f"{state.url}/voucher/{intent['id']}",
            "stores": {store: {"confirmation_number": f"{n + 1}{digits}", "payment_code": f"{digits}{n + 1}"}
                       for n, store in enumerate(STORES)}}}
        session["status"], session["url"], session["payment_intent"] = "complete", None, intent["id"]
    state.send_event(session["_key"], "checkout.session.completed", session)
    return 303, _success_url(session), ""


def _store_payment(state: StripeStandIn, intent_id: str, *, paid: bool) -> Answer:
    intent = state.intents.get(intent_id)
    if intent is None or intent["status"] != "requires_action" or not intent.get("_session"):
        return 409, "", _page("お支払い済みまたは期限切れ", "<p>この支払い番号はもう使えません。</p>")
    session = state.sessions[intent["_session"]]
    with state.lock:
        intent["next_action"] = None
        if paid:
            intent["status"], session["payment_status"] = "succeeded", "paid"
        else:
            intent["status"] = "canceled"
    if paid:
        state.send_event(session["_key"], "payment_intent.succeeded", intent)
        state.send_event(session["_key"], "checkout.session.async_payment_succeeded", session)
        paid_text = f"<p id='store-paid'>{intent['amount']:,}円を店頭で支払いました。</p>"
        return 200, "", _page("お支払い完了（テスト）", paid_text)
    state.send_event(session["_key"], "checkout.session.async_payment_failed", session)
    return 200, "", _page("期限切れ（テスト）", "<p id='store-lapsed'>支払われないまま期限が過ぎました。</p>")


def _success_url(session: dict[str, Any]) -> str:
    return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", urllib.parse.quote(session["id"]))


# --- Pages --------------------------------------------------------------------------------------------------------

def _page(title: str, body: str) -> str:
    return ("<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><main>"
            "<p class='brand'>Stripe（テスト用の決済ページ）</p>"
            f"<h1>{html.escape(title)}</h1>{body}</main></body></html>")


def _summary(session: dict[str, Any]) -> str:
    return (f"<p class='item'>{html.escape(session['_name'])}</p>"
            f"<p class='amount' id='amount'>{session['amount_total']:,}円</p>")


def _pay_page(session: dict[str, Any], problem: str = "") -> str:
    if session["status"] != "open":
        state = "お支払い済みです。" if session["payment_status"] == "paid" else (
            "期限が切れました。" if session["status"] == "expired" else "受け付けました。")
        return _page("お支払い", _summary(session) + f"<p id='closed'>このお支払いページは使えません（{state}）</p>")
    alert = f"<p class='problem' role='alert' id='problem'>{html.escape(problem)}</p>" if problem else ""
    back = session.get("cancel_url") or ""
    parts = [_summary(session), alert]
    if "card" in session["payment_method_types"]:
        choices = "".join(
            f"<label class='choice'><input type='radio' name='card' value='{value}'{' checked' if n == 0 else ''}>"
            f" {html.escape(label)}</label>" for n, (value, label) in enumerate(CARDS))
        parts.append(f"<form method='post'><fieldset><legend>テスト用のカード</legend>{choices}</fieldset>"
                     "<button type='submit' id='pay'>支払う</button></form>")
    if "konbini" in session["payment_method_types"]:
        parts.append("<form method='post'><p>コンビニでお支払いいただく番号を発行します。</p>"
                     "<button type='submit' name='konbini' value='1' id='issue-slip'>"
                     "コンビニ支払い番号を発行する</button></form>")
    if back:
        parts.append(f"<p><a id='back' href='{html.escape(back)}'>← ショップに戻る</a></p>")
    return _page("お支払い", "".join(parts))


def _authentication_page(session: dict[str, Any]) -> str:
    return _page("本人認証（テスト）", _summary(session) + (
        f"<p>{session['amount_total']:,} 円のお支払いを認証しますか？</p>"
        f"<form method='post' action='/pay/{session['id']}/3ds'>"
        "<button name='result' value='ok' id='authenticate'>認証する</button> "
        "<button name='result' value='fail' id='fail' class='secondary'>認証しない</button></form>"))


def _voucher(intent: dict[str, Any]) -> str:
    details = (intent.get("next_action") or {}).get("konbini_display_details") or {}
    if not details:
        state = "お支払い済みです。" if intent["status"] == "succeeded" else "この支払い番号はもう使えません。"
        return _page("コンビニ支払い番号", f"<p id='voucher-closed'>{state}</p>")
    deadline = dt.datetime.fromtimestamp(details["expires_at"], tz=JST)
    rows = "".join(f"<tr><th>{STORE_NAMES.get(store, store)}</th><td>{numbers['confirmation_number']}</td>"
                   f"<td>{numbers['payment_code']}</td></tr>" for store, numbers in details["stores"].items())
    return _page("コンビニ支払い番号", (
        f"<p class='amount'>{intent['amount']:,}円</p>"
        f"<p>お支払い期限：{deadline:%Y年%m月%d日 %H:%M}</p>"
        f"<table><tr><th>店舗</th><th>確認番号</th><th>お支払い番号</th></tr>{rows}</table>"
        "<form method='post'><button name='result' value='paid' id='pay-at-store'>店頭で支払う（テスト）</button> "
        "<button name='result' value='lapse' id='let-lapse' class='secondary'>"
        "支払わずに期限切れにする（テスト）</button>"
        "</form>"))


_STYLE = ("body{font-family:system-ui,sans-serif;margin:0;background:#f6f9fc;color:#1a1f36}"
          "main{max-width:28rem;margin:0 auto;padding:1rem}.brand{color:#635bff;font-weight:600}"
          "h1{font-size:1.3rem}.amount{font-size:1.6rem;font-weight:700}.choice{display:block;padding:.6rem;"
          "margin:.3rem 0;background:#fff;border:1px solid #d8dee4;border-radius:6px}"
          "button{font-size:1rem;padding:.7rem 1.2rem;border:0;border-radius:6px;background:#635bff;color:#fff;"
          "margin:.5rem 0}button.secondary{background:#e3e8ee;color:#1a1f36}.problem{color:#c0123c}"
          "fieldset{border:0;padding:0}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
          "padding:.3rem;border-bottom:1px solid #d8dee4}")

