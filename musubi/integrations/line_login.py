"""LINE Login, used only to learn the LINE user id of someone about to add an Official Account.

The Messaging API SDK does not cover LINE Login, so its two calls (the token exchange and the profile) are
plain HTTPS requests here, to the hosts the settings name (tests point them at a local stand-in).
``bot_prompt=aggressive`` asks LINE to offer adding the linked Official Account on the consent screen.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings


class LoginFailed(Exception):
    pass


def authorize_url(*, client_id: str, redirect_uri: str, state: str) -> str:
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                                    "state": state, "scope": "profile openid", "bot_prompt": "aggressive"})
    return f"{settings.MUSUBI_LINE_ACCESS_HOST}/oauth2/v2.1/authorize?{query}"


def _json(request: urllib.request.Request) -> dict[str, object]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 — our configured LINE host
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, ValueError) as exc:
        raise LoginFailed(str(exc)) from exc


def user_id(*, code: str, redirect_uri: str, client_id: str, client_secret: str) -> str:
    """Exchange the authorization code for an access token and read the user id from the profile."""
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                   "client_id": client_id, "client_secret": client_secret}).encode()
    token = _json(urllib.request.Request(  # noqa: S310 — the configured LINE host, http(s) only (settings)
        f"{settings.MUSUBI_LINE_API_HOST}/oauth2/v2.1/token", data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"}))
    access_token = token.get("access_token")
    if not isinstance(access_token, str):
        raise LoginFailed("no access token")
    profile = _json(urllib.request.Request(  # noqa: S310 — as above
        f"{settings.MUSUBI_LINE_API_HOST}/v2/profile", headers={"Authorization": f"Bearer {access_token}"}))
    found = profile.get("userId")
    if not isinstance(found, str):
        raise LoginFailed("no user id")
    return found
