import datetime as dt

import pytest
from django.core import signing

from musubi.kernel import clock, tokens
from musubi.kernel.rules import retry_delay


def test_frozen_clock_returns_the_set_time_and_then_lets_go():
    moment = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
    with clock.frozen(moment):
        assert clock.now() == moment
    assert clock.now() != moment


def test_frozen_clock_refuses_naive_times():
    with pytest.raises(ValueError, match="aware"):
        with clock.frozen(dt.datetime(2026, 4, 1)):
            pass


def test_travel_shifts_the_running_clock():
    before = clock.now()
    with clock.travel(dt.timedelta(days=3)):
        shifted = clock.now()
    assert dt.timedelta(days=3) <= shifted - before < dt.timedelta(days=3, seconds=5)


def test_secret_hash_matches_only_the_same_secret():
    secret = tokens.new_secret("msk")
    stored = tokens.hash_secret(secret)
    assert secret.startswith("msk_") and secret not in stored
    assert tokens.secret_matches(secret, stored)
    assert not tokens.secret_matches(secret + "x", stored)


def test_readable_codes_avoid_look_alike_characters():
    code = tokens.readable_code(64)
    assert len(code) == 64
    assert not set(code) & set("01ILO")


def test_signed_token_cannot_be_used_for_another_purpose():
    token = tokens.sign({"contact": 7}, purpose="unsubscribe")
    assert tokens.unsign(token, purpose="unsubscribe") == {"contact": 7}
    with pytest.raises(signing.BadSignature):
        tokens.unsign(token, purpose="confirm-email")


def test_retry_delay_doubles_from_thirty_seconds_up_to_six_hours():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(50) == dt.timedelta(hours=6)
    with pytest.raises(ValueError):
        retry_delay(0)
