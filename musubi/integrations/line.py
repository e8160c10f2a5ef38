"""LINE Messaging API through the official SDK (``linebot.v3``).

``MUSUBI_LINE_API_HOST`` points every call elsewhere (tests use a stand-in on 127.0.0.1). Pushes carry an
``X-Line-Retry-Key`` the caller saved before the first attempt, so a retry after a crash or a timeout is the
same request and LINE delivers it once (LINE answers 409 to a key it already accepted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from musubi.integrations.line_objects import sdk_messages

# The SDK is imported where it is used: importing it costs about a second, which every process (the web
# server, each worker, every management command) would otherwise pay at start even if LINE is never used.
if TYPE_CHECKING:
    from linebot.v3.messaging import ApiClient
    from linebot.v3.webhook import WebhookPayload

__all__ = ["BULK_LIMIT", "BadSignature", "BotInfo", "LineError", "Quota", "bot_info", "cancel_default_rich_menu",
           "create_rich_menu", "delete_rich_menu", "link_rich_menu", "message_quota", "multicast_messages",
           "parse_webhook", "profile_name", "push_messages", "push_texts", "reply_messages", "set_default_rich_menu",
           "unlink_rich_menus", "upload_rich_menu_image"]


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


def _require_token(access_token: str) -> None:
    """A connection that was removed has its token erased: nothing goes to LINE for it, and the caller's usual
    handling of a refused token (a permanent failure) records why."""
    if not access_token:
        raise LineError(status=401, body="no channel access token: the LINE connection was removed")


def _api(access_token: str) -> ApiClient:
    from linebot.v3.messaging import ApiClient, Configuration

    _require_token(access_token)
    return ApiClient(Configuration(host=settings.MUSUBI_LINE_API_HOST, access_token=access_token))


def push_texts(*, access_token: str, user_id: str, texts: list[str], retry_key: str) -> None:
    """Push up to five text messages to one user, once."""
    push_messages(access_token=access_token, user_id=user_id, messages=list(texts), retry_key=retry_key)


def push_messages(*, access_token: str, user_id: str, messages: Sequence[dict[str, Any] | str], retry_key: str) -> None:
    """Push up to five messages (LINE's JSON, see ``line_objects``) to one user, once."""
    from linebot.v3.messaging import MessagingApi, PushMessageRequest
    from linebot.v3.messaging.exceptions import ApiException

    request = PushMessageRequest(to=user_id, messages=sdk_messages(messages))
    with _api(access_token) as client:
        try:
            MessagingApi(client).push_message(request, x_line_retry_key=retry_key)
        except ApiException as exc:
            if exc.status == 409:  # this retry key was already accepted: the message went out before
                return
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc


def reply_messages(*, access_token: str, reply_token: str, messages: Sequence[dict[str, Any] | str]) -> None:
    """Answer a message with its reply token: free of the monthly quota, usable once and only for a short
    time (LINE answers 400 once it has expired or been used)."""
    from linebot.v3.messaging import MessagingApi, ReplyMessageRequest
    from linebot.v3.messaging.exceptions import ApiException

    request = ReplyMessageRequest(reply_token=reply_token, messages=sdk_messages(messages))
    with _api(access_token) as client:
        try:
            MessagingApi(client).reply_message(request)
        except ApiException as exc:
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc


def multicast_messages(*, access_token: str, user_ids: list[str], messages: Sequence[dict[str, Any] | str],
                       retry_key: str) -> None:
    """Send up to five messages to up to 500 users in one request, once."""
    from linebot.v3.messaging import MessagingApi, MulticastRequest
    from linebot.v3.messaging.exceptions import ApiException

    if not 1 <= len(user_ids) <= 500:
        raise ValueError("a multicast goes to between 1 and 500 users")
    request = MulticastRequest(to=user_ids, messages=sdk_messages(messages))
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


# A profile is fetched while a webhook request waits for its answer: LINE out of reach must not hold it long.
PROFILE_TIMEOUT_SECONDS = 5


def profile_name(*, access_token: str, user_id: str) -> str:
    """The user's LINE display name, or "" when LINE has no profile to give (404: the user is not a friend, or
    blocked the account). Any other failure raises ``LineError`` (status 0: LINE could not be reached)."""
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    with _api(access_token) as client:
        try:
            profile = MessagingApi(client).get_profile(user_id, _request_timeout=PROFILE_TIMEOUT_SECONDS)
        except ApiException as exc:
            if exc.status == 404:
                return ""
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc
        except HTTPError as exc:
            raise LineError(status=0, body=f"LINE could not be reached: {exc}"[:500]) from exc
    return str(profile.display_name or "")


@dataclass(frozen=True)
class BotInfo:
    display_name: str
    basic_id: str
    picture_url: str


def bot_info(*, access_token: str) -> BotInfo:
    """Who the token speaks for (``GET /v2/bot/info``): the cheapest call that proves LINE accepts it.
    A refused token raises ``LineError`` with LINE's status (401); LINE out of reach, status 0."""
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    with _api(access_token) as client:
        try:
            info = MessagingApi(client).get_bot_info()
        except ApiException as exc:
            raise LineError(status=exc.status or 0, body=str(exc.body)[:500]) from exc
        except HTTPError as exc:
            raise LineError(status=0, body=f"LINE could not be reached: {exc}"[:500]) from exc
    return BotInfo(display_name=str(info.display_name or ""), basic_id=str(info.basic_id or ""),
                   picture_url=str(info.picture_url or ""))


# --- Rich menus -----------------------------------------------------------------------------------------------

# LINE takes at most this many user ids in one bulk link or unlink request.
BULK_LIMIT = 500
# Images are uploaded to a separate host; a stand-in (any other MUSUBI_LINE_API_HOST) serves both.
_REAL_API_HOST = "https://api.line.me"
_REAL_DATA_HOST = "https://api-data.line.me"


def _error(exc: Exception) -> LineError:
    return LineError(status=getattr(exc, "status", 0) or 0, body=str(getattr(exc, "body", exc))[:500])


def create_rich_menu(*, access_token: str, menu: dict[str, object]) -> str:
    """Create a rich menu from its LINE JSON (size, selected, name, chatBarText, areas); returns its id."""
    from linebot.v3.messaging import MessagingApi, RichMenuRequest
    from linebot.v3.messaging.exceptions import ApiException

    with _api(access_token) as client:
        try:
            return str(MessagingApi(client).create_rich_menu(RichMenuRequest.from_dict(menu)).rich_menu_id)
        except ApiException as exc:
            raise _error(exc) from exc


def upload_rich_menu_image(*, access_token: str, rich_menu_id: str, image: bytes, content_type: str) -> None:
    """Attach the menu's image (PNG or JPEG, at most 1 MB, exactly the menu's size). LINE takes one upload per
    menu; a second answers 400."""
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApiBlob
    from linebot.v3.messaging.exceptions import ApiException

    host = settings.MUSUBI_LINE_API_HOST
    data_host = _REAL_DATA_HOST if host == _REAL_API_HOST else host

    class DataHostClient(ApiClient):
        # The SDK names api-data.line.me in the generated method itself; send it where the API host says.
        def call_api(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs["_host"] = data_host
            return super().call_api(*args, **kwargs)

    _require_token(access_token)
    with DataHostClient(Configuration(host=data_host, access_token=access_token)) as client:
        try:
            MessagingApiBlob(client).set_rich_menu_image(rich_menu_id, bytes(image),
                                                         _headers={"Content-Type": content_type})
        except ApiException as exc:
            raise _error(exc) from exc


def delete_rich_menu(*, access_token: str, rich_menu_id: str) -> None:
    """Delete a rich menu (LINE unlinks it from everyone); one LINE no longer has counts as deleted."""
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException

    with _api(access_token) as client:
        try:
            MessagingApi(client).delete_rich_menu(rich_menu_id)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise _error(exc) from exc


def set_default_rich_menu(*, access_token: str, rich_menu_id: str) -> None:
    """The menu every friend without a menu of their own sees."""
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException

    with _api(access_token) as client:
        try:
            MessagingApi(client).set_default_rich_menu(rich_menu_id)
        except ApiException as exc:
            raise _error(exc) from exc


def cancel_default_rich_menu(*, access_token: str) -> None:
    from linebot.v3.messaging import MessagingApi
    from linebot.v3.messaging.exceptions import ApiException

    with _api(access_token) as client:
        try:
            MessagingApi(client).cancel_default_rich_menu()
        except ApiException as exc:
            raise _error(exc) from exc


def _check_bulk(user_ids: list[str]) -> None:
    if not 1 <= len(user_ids) <= BULK_LIMIT:
        raise ValueError(f"a bulk rich menu request names between 1 and {BULK_LIMIT} users")


def link_rich_menu(*, access_token: str, rich_menu_id: str, user_ids: list[str]) -> None:
    """Link one menu to up to 500 users (``/v2/bot/richmenu/bulk/link``). Linking again the menu a user already
    has changes nothing, so a retried request is harmless; LINE takes no retry key here."""
    from linebot.v3.messaging import MessagingApi, RichMenuBulkLinkRequest
    from linebot.v3.messaging.exceptions import ApiException

    _check_bulk(user_ids)
    with _api(access_token) as client:
        try:
            MessagingApi(client).link_rich_menu_id_to_users(
                RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=user_ids))
        except ApiException as exc:
            raise _error(exc) from exc


def unlink_rich_menus(*, access_token: str, user_ids: list[str]) -> None:
    """Take their own menu from up to 500 users (``/v2/bot/richmenu/bulk/unlink``): they see the default."""
    from linebot.v3.messaging import MessagingApi, RichMenuBulkUnlinkRequest
    from linebot.v3.messaging.exceptions import ApiException

    _check_bulk(user_ids)
    with _api(access_token) as client:
        try:
            MessagingApi(client).unlink_rich_menu_id_from_users(RichMenuBulkUnlinkRequest(userIds=user_ids))
        except ApiException as exc:
            raise _error(exc) from exc
