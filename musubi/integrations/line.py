"""LINE Messaging API through the official SDK (``linebot.v3``).

``MUSUBI_LINE_API_HOST`` points every call elsewhere (tests use a stand-in on 127.0.0.1). Pushes carry an
``X-Line-Retry-Key`` the caller saved before the first attempt, so a retry after a crash or a timeout is the
same request and LINE delivers it once (LINE answers 409 to a key it already accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

# The SDK is imported where it is used: importing it costs about a second, which every process (the web
# server, each worker, every management command) would otherwise pay at start even if LINE is never used.
if TYPE_CHECKING:
    from linebot.v3.messaging import ApiClient
    from linebot.v3.webhook import WebhookPayload

__all__ = ["BadSignature", "LineError", "Quota", "message_quota", "multicast_texts", "parse_webhook", "profile_name",
           "push_texts", "reply_texts"]


class BadSignature(Exception):
    """The webhook body was not signed with the channel's secret."""


@dataclass
class LineError(Exception):
    status: int
    body: str

    @property
    def permanent(self) -> bool:
        """4xx other than 429 (rate limit) will fail the same way again."""
        return 400 <= self.status < 500 and self.status != 429


def parse_webhook(*, channel_secret: str, body: str, signature: str) -> WebhookPayload:
    """Verify ``X-Line-Signature`` on the exact body, then parse it; nothing is parsed before the check."""
    from linebot.v3.exceptions import InvalidSignatureError
    from linebot.v3.webhook import WebhookParser

    try:
        return WebhookParser(channel_secret).parse(body, signature, as_payload=True)  # type: ignore[no-any-return]
    except InvalidSignatureError as exc:
        raise BadSignature(str(exc)) from exc


def _api(access_token: str) -> ApiClient:
    from linebot.v3.messaging import ApiClient, Configuration

    return ApiClient(Configuration(host=settings.MUSUBI_LINE_API_HOST, access_token=access_token))


def push_texts(*, access_token: str, user_id: str, texts: list[str], retry_key: str) -> None:
    """Push up to five text messages to one user, once."""
    from linebot.v3.messaging import MessagingApi, PushMessageRequest, TextMessage
    from linebot.v3.messaging.exceptions import ApiException

    request = PushMessageRequest(to=user_id, messages=[TextMessage(text=t) for t in texts[:5]])
    with _api(access_token) as client:
        try:
            MessagingApi(client).push_message(request, x_line_retry_key=retry_key)
        except ApiException as exc:
            if exc.status == 409:  # this retry key was already accepted: the message went out before
                return
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc


def reply_texts(*, access_token: str, reply_token: str, texts: list[str]) -> None:
    """Answer a message with its reply token: free of the monthly quota, usable once and only for a short
    time (LINE answers 400 once it has expired or been used)."""
    from linebot.v3.messaging import MessagingApi, ReplyMessageRequest, TextMessage
    from linebot.v3.messaging.exceptions import ApiException

    request = ReplyMessageRequest(reply_token=reply_token, messages=[TextMessage(text=t) for t in texts[:5]])
    with _api(access_token) as client:
        try:
            MessagingApi(client).reply_message(request)
        except ApiException as exc:
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc


def multicast_texts(*, access_token: str, user_ids: list[str], texts: list[str], retry_key: str) -> None:
    """Send up to five text messages to up to 500 users in one request, once."""
    from linebot.v3.messaging import MessagingApi, MulticastRequest, TextMessage
    from linebot.v3.messaging.exceptions import ApiException

    if not 1 <= len(user_ids) <= 500:
        raise ValueError("a multicast goes to between 1 and 500 users")
    request = MulticastRequest(to=user_ids, messages=[TextMessage(text=t) for t in texts[:5]])
    with _api(access_token) as client:
        try:
            MessagingApi(client).multicast(request, x_line_retry_key=retry_key)
        except ApiException as exc:
            if exc.status == 409:
                return
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc


@dataclass(frozen=True)
class Quota:
    limit: int | None  # None: the plan has no monthly limit
    used: int

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def message_quota(*, access_token: str) -> Quota:
    """This month's message limit of the account's plan and how much of it is used."""
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException

    with _api(access_token) as client:
        api = MessagingApi(client)
        try:
            quota = api.get_message_quota()
            used = api.get_message_quota_consumption()
        except ApiException as exc:
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc
    limit = quota.value if quota.type == "limited" else None
    return Quota(limit=limit, used=int(used.total_usage or 0))


def profile_name(*, access_token: str, user_id: str) -> str:
    """The user's LINE display name, or "" when LINE will not say (the user blocked the account)."""
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException

    with _api(access_token) as client:
        try:
            return str(MessagingApi(client).get_profile(user_id).display_name or "")
        except ApiException:
            return ""
