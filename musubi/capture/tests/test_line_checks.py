"""The access token is tried against LINE (GET /v2/bot/info on the stand-in) when a connection is made or its
token replaced, and on demand: a token LINE refuses is refused with the reason in Japanese and nothing saved;
a good one brings the account's name and @ID."""

import pytest
from django.utils import translation

from musubi.capture import line, line_checks
from musubi.capture.models import LineChannel
from musubi.capture.tests.factories import owner_actor
from musubi.integrations import line as line_sdk
from musubi.kernel.errors import Conflict, Forbidden, InvalidInput
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "good-token-" + "g" * 30
DETAILS = {"name": "居酒屋むすび 公式", "channel_id": "2000123456", "channel_secret": SECRET, "greeting": ""}


def connect(workspace, token=TOKEN, **changes):
    return line_checks.connect_checked(workspace=workspace, actor=owner_actor(), access_token=token,
                                       **(DETAILS | changes))


def asked_for_bot_info(line_api):
    return [r for r in line_api.requests if r[:2] == ("GET", "/v2/bot/info")]


def test_a_token_line_accepts_connects_with_the_accounts_name_and_id(workspace, line_api):
    line_api.bot_name, line_api.bot_basic_id = "居酒屋むすび 梅田店", "@987zyxwv"
    channel = connect(workspace)
    assert (channel.bot_name, channel.basic_id) == ("居酒屋むすび 梅田店", "@987zyxwv")
    assert channel.checked_at is not None and len(asked_for_bot_info(line_api)) == 1


def test_a_token_line_refuses_is_refused_in_japanese_and_nothing_is_saved(workspace, line_api):
    line_api.refused_tokens.add(TOKEN)
    with translation.override("ja"), pytest.raises(InvalidInput) as refused:
        connect(workspace)
    assert "LINEがこのチャネルアクセストークンを受け付けませんでした" in refused.value.fields["access_token"]
    assert not LineChannel.objects.exists()


def test_line_out_of_reach_refuses_the_connection_rather_than_saving_an_unchecked_token(settings, workspace):
    settings.MUSUBI_LINE_API_HOST = "http://127.0.0.1:9"
    with pytest.raises(Conflict) as refused:
        connect(workspace)
    assert refused.value.code == "line_unreachable"
    assert not LineChannel.objects.exists()


def test_a_malformed_token_is_named_without_asking_line(workspace, line_api):
    with pytest.raises(InvalidInput) as refused:
        connect(workspace, token="short")
    assert "access_token" in refused.value.fields
    assert asked_for_bot_info(line_api) == []


def test_a_replacement_token_is_tried_first_and_a_refused_one_keeps_the_old(workspace, line_api):
    channel = connect(workspace)
    line_api.refused_tokens.add("bad-token-" + "b" * 30)
    with pytest.raises(InvalidInput):
        line_checks.update_checked(workspace=workspace, actor=owner_actor(), line_channel_id=channel.pk,
                                   access_token="bad-token-" + "b" * 30, name=channel.name, greeting="",
                                   coupon_id=None)
    assert LineChannel.objects.get().access_token == TOKEN
    line_checks.update_checked(workspace=workspace, actor=owner_actor(), line_channel_id=channel.pk,
                               access_token="new-token-" + "n" * 30, name=channel.name, greeting="", coupon_id=None)
    assert LineChannel.objects.get().access_token == "new-token-" + "n" * 30


def test_the_check_button_notices_a_revoked_token_and_a_renamed_account(workspace, line_api):
    channel = connect(workspace)
    line_api.bot_name = "むすび酒場"
    assert line_checks.check_connection(workspace=workspace, actor=owner_actor(),
                                        line_channel_id=channel.pk).bot_name == "むすび酒場"
    line_api.refused_tokens.add(TOKEN)
    with pytest.raises(InvalidInput):
        line_checks.check_connection(workspace=workspace, actor=owner_actor(), line_channel_id=channel.pk)
    with pytest.raises(Forbidden):
        line_checks.check_connection(workspace=workspace, actor=Actor(role=Role.VIEWER), line_channel_id=channel.pk)


def test_an_erased_token_never_reaches_line(line_api):
    with pytest.raises(line_sdk.LineError) as refused:
        line_sdk.push_texts(access_token="", user_id="U" + "a" * 32, texts=["x"], retry_key="k")
    assert refused.value.permanent and "removed" in refused.value.body
    assert line_api.requests == []


def test_the_plain_connect_is_unchanged_for_callers_that_do_not_check(workspace):
    channel = line.connect_channel(workspace=workspace, actor=owner_actor(), access_token=TOKEN, **DETAILS)
    assert channel.checked_at is None and channel.bot_name == ""
