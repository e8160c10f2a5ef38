import datetime as dt

import pytest
from django.test import Client

from musubi.capture import services
from musubi.capture.models import Click
from musubi.kernel import clock
from musubi.kernel.errors import InvalidInput
from musubi.kernel.models import Fact
from musubi.workspaces.choices import Role
from musubi.workspaces.services import Actor

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1.15 Mobile/15E148 Line/13.1.0"


@pytest.fixture
def link(workspace, owner):
    actor = Actor(role=Role.OWNER, user=owner)
    source = services.create_source(workspace=workspace, actor=actor, kind="store_spot", name="table-12")
    return services.create_link(workspace=workspace, actor=actor, source_id=source.pk,
                                target_url="https://kenko.example.jp/trial")


def test_a_click_is_recorded_before_the_redirect_with_utm_and_a_visitor_cookie(link):
    client = Client(HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.9")
    response = client.get(f"/r/{link.code}")
    assert response.status_code == 302
    assert response["Location"] == (f"https://kenko.example.jp/trial?utm_source=table-12&utm_medium=store_spot"
                                    f"&utm_campaign={link.code}")
    click = Click.objects.get()
    assert response.cookies["mvid"].value == click.visitor_id and not click.is_bot
    assert "203.0.113.9" not in click.ip_hash
    assert Fact.objects.get(kind="link.clicked").source_id == link.source_id


def test_the_same_visitor_keeps_their_id_across_clicks(link):
    client = Client(HTTP_USER_AGENT=PHONE)
    client.get(f"/r/{link.code}")
    client.get(f"/r/{link.code.lower()}")  # codes are read aloud and typed: case does not matter
    assert Click.objects.values("visitor_id").distinct().count() == 1
    assert Click.objects.count() == 2


def test_link_previews_are_recorded_as_bots_and_not_counted(link):
    Client(HTTP_USER_AGENT="facebookexternalhit/1.1").get(f"/r/{link.code}")
    assert Click.objects.get().is_bot
    assert not Fact.objects.filter(kind="link.clicked").exists()


@pytest.mark.parametrize("code", ["NOSUCH22", "x", "A" * 40])
def test_an_unknown_code_is_a_plain_404_and_records_nothing(db, code):
    response = Client().get(f"/r/{code}")
    assert response.status_code == 404
    assert not Click.objects.exists()


def test_a_switched_off_link_no_longer_redirects(link):
    link.active = False
    link.save()
    assert Client().get(f"/r/{link.code}").status_code == 404


@pytest.mark.parametrize("target", ["javascript:alert(1)", "kenko.example.jp", ""])
def test_a_link_must_point_at_a_web_address(workspace, owner, target):
    actor = Actor(role=Role.OWNER, user=owner)
    source = services.create_source(workspace=workspace, actor=actor, kind="ad", name="ad")
    with pytest.raises(InvalidInput) as caught:
        services.create_link(workspace=workspace, actor=actor, source_id=source.pk, target_url=target)
    assert list(caught.value.fields) == ["target_url"]


def test_the_api_counts_people_not_previews(link, owner_key):
    Client(HTTP_USER_AGENT=PHONE).get(f"/r/{link.code}")
    Client(HTTP_USER_AGENT=PHONE).get(f"/r/{link.code}")  # a second person: no cookie
    Client(HTTP_USER_AGENT="Slackbot-LinkExpanding 1.0").get(f"/r/{link.code}")
    answer = Client().get(f"/api/v1/links/{link.pk}", HTTP_AUTHORIZATION=f"Bearer {owner_key}").json()
    assert (answer["clicks"], answer["visitors"]) == (2, 2)
    assert answer["url"].endswith(f"/r/{link.code}")


def test_an_opt_in_is_credited_to_the_last_source_clicked_within_the_window(workspace, owner):
    actor = Actor(role=Role.OWNER, user=owner)
    flyer = services.create_source(workspace=workspace, actor=actor, kind="store_spot", name="flyer")
    newsletter = services.create_source(workspace=workspace, actor=actor, kind="newsletter_ad", name="号外")
    flyer_link = services.create_link(workspace=workspace, actor=actor, source_id=flyer.pk,
                                      target_url="https://a.example.jp/")
    newsletter_link = services.create_link(workspace=workspace, actor=actor, source_id=newsletter.pk,
                                           target_url="https://a.example.jp/")
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with clock.frozen(start):
        visitor = services.follow_link(code=flyer_link.code, ip="1.2.3.4", user_agent=PHONE, referrer="",
                                       visitor_id=None).visitor_id
    with clock.frozen(start + dt.timedelta(days=3)):
        services.follow_link(code=newsletter_link.code, ip="1.2.3.4", user_agent="Slackbot 1.0", referrer="",
                             visitor_id=visitor)  # a link preview: not the person's click

    assert services.attributed_source(workspace=workspace, visitor_id=visitor,
                                      at=start + dt.timedelta(days=3, hours=12)) == flyer.pk
    with clock.frozen(start + dt.timedelta(days=4)):
        services.follow_link(code=newsletter_link.code, ip="1.2.3.4", user_agent=PHONE, referrer="",
                             visitor_id=visitor)
    assert services.attributed_source(workspace=workspace, visitor_id=visitor,
                                      at=start + dt.timedelta(days=5)) == newsletter.pk  # the last touch
    assert services.attributed_source(workspace=workspace, visitor_id=visitor,
                                      at=start + dt.timedelta(days=35)) is None  # outside 30 days
    assert services.attributed_source(workspace=workspace, visitor_id=None) is None
