"""An outsider — signed in, owner of another workspace — tries every page of someone else's workspace.

Every route of the URL configuration is visited (see ``routes.all_routes``), filled with the owner's real
slug and object ids. A workspace route must answer the outsider exactly as it answers for a workspace or
object that does not exist (404, or 405 for a method the route never takes), and must change nothing.
A route without workspace parameters must be listed below as public or personal, so each new route is
a conscious decision.
"""

import pytest

from musubi.testing.routes import all_routes
from musubi.testing.snapshots import MARKER, MISSING, populate
from musubi.testing.snapshots import workspace_state as state

# Routes that act on no workspace: public pages, or the signed-in person's own things.
NOT_WORKSPACE_ROUTES = {
    "web:home", "web:favicon", "web:login", "web:logout", "web:password_reset", "web:password_reset_done",
    "web:password_reset_confirm", "web:password_reset_complete", "web:account", "web:password_change",
    "web:new_workspace", "follow_link", "capture_page", "capture_embed", "capture_thanks", "capture_confirm",
    "capture_image", "coupon_page", "coupon_qr", "line_webhook", "line_join", "line_callback",
    "messaging_open", "messaging_click", "messaging_unsubscribe", "messaging_preferences",
    "legal_notice", "checkout", "checkout_confirm", "order_status", "order_pay", "subscription_page",
    "stripe_webhook", "member_page", "member_download", "upsell_page", "buyer_receipt", "buyer_invoice",
    "buyer_refund_note",
    "line_image", "line_image_preview",  # public so LINE can fetch them; named only by an unguessable key
}
WORKSPACE_PARAMS = {"slug", "membership_id", "key_id", "fact_id", "contact_id", "link_id", "point_id", "auto_reply_id",
                    "import_id", "line_channel_id", "segment_id",
                    "coupon_id", "order_id", "subscription_id", "rich_menu_id", "discount_code_id",
                    "template_id", "sequence_id", "sequence_step_id", "broadcast_id", "run_id", "outbox_id",
                    "file_id"}


@pytest.fixture
def owners_objects(workspace, teammate):
    return populate(workspace, teammate)


def web_routes():
    # The API has its own sweep; django-anymail's webhooks (bounces, inbound mail) take no workspace from the
    # URL, check their own credentials first, and are tried in the messaging tests.
    return [r for r in all_routes() if not r.template.startswith(("api/", "anymail/"))]


def test_every_web_route_is_classified():
    unclassified = [r.template for r in web_routes()
                    if not set(r.params) & WORKSPACE_PARAMS and r.name not in NOT_WORKSPACE_ROUTES]
    assert unclassified == []


@pytest.mark.parametrize("route", [r for r in web_routes() if set(r.params) & WORKSPACE_PARAMS], ids=lambda r: r.name)
def test_outsider_gets_nothing_from_another_workspace_page(route, workspace, owners_objects, outsider_client,
                                                           owner_client):
    before = state(workspace)
    answers = {}
    for method in ("get", "post"):
        form = {"name": "hacked", "role": "owner", "email": "x@example.com"}
        theirs = getattr(outsider_client, method)(route.fill(owners_objects), form)
        missing = getattr(outsider_client, method)(route.fill(MISSING))
        assert theirs.status_code in (404, 405), f"{method.upper()} {route.template}"
        assert theirs.status_code == missing.status_code, f"{method.upper()} {route.template} reveals existence"
        for secret in (MARKER, workspace.name):
            assert secret.encode() not in theirs.content
        answers[method] = theirs.status_code
    assert state(workspace) == before
    # The owner reaches the same route with the same ids: where the outsider got 404, the owner must not, so
    # the 404s above come from the workspace check and not from ids that do not exist. (Read-only methods
    # only: the owner's POST would change things, which the state check above must not see.)
    if answers["get"] == 404:
        assert owner_client.get(route.fill(owners_objects)).status_code != 404, route.template


@pytest.mark.parametrize("route", [r for r in web_routes() if r.name in NOT_WORKSPACE_ROUTES], ids=lambda r: r.name)
def test_personal_and_public_pages_show_the_outsider_nothing_of_the_workspace(route, workspace, owners_objects,
                                                                               outsider_client):
    values = {"uidb64": "MQ", "token": "set-password", "code": "NOSUCHCODE", "number": 1, "channel_id": "1",
              "shop": "no-such-shop", "offer_id": 999999, "key": "00000000-0000-4000-8000-000000000000"}
    response = outsider_client.get(route.fill(values), follow=True)
    assert response.status_code < 500
    assert workspace.name.encode() not in response.content
    assert workspace.slug.encode() not in response.content
