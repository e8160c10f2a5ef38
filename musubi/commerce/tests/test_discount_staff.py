"""Discount codes from the staff pages and the API: create, list with the use count, disable, delete an unused
one; bad input named and writing nothing; staff (not owners) may look but not change."""

import json

import pytest
from django.test import Client

from musubi.commerce.models import DiscountCode
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.workspaces.models import AuditEntry


def call(key, method, path, body=None):
    return getattr(Client(), method)(path, data=json.dumps(body) if body is not None else None,
                                     content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_owner_adds_a_code_sees_its_uses_and_disables_it(owner_client, workspace, shop, client):
    url = f"/w/{workspace.slug}/discount-codes/"
    response = owner_client.post(url, {"code": "natsu10", "kind": "percent", "value": "10",
                                       "offer_ids": [str(shop["trial"].pk)], "valid_from": "2026-07-01",
                                       "valid_until": "2026-08-31", "max_uses": "100", "once_per_buyer": "on"})
    assert response.status_code == 302
    code = DiscountCode.objects.get()
    assert (code.code, code.kind, code.value, code.max_uses) == ("NATSU10", "percent", 10, 100)
    assert [o.pk for o in code.offers.all()] == [shop["trial"].pk]
    # The last day is the shop's whole day: until midnight in Tokyo.
    assert code.valid_until.isoformat() == "2026-08-31T15:00:00+00:00"
    DiscountCode.objects.filter(pk=code.pk).update(valid_from=None, valid_until=None)
    page, token = confirmation(client, shop["trial"], discount_code="natsu10")
    place(client, shop["trial"], page, token)
    listing = owner_client.get(url).content.decode()
    assert "NATSU10" in listing and '<td class="uses">1 / 100</td>' in listing
    assert owner_client.post(f"{url}{code.pk}/active/", {"active": "0"}).status_code == 302
    code.refresh_from_db()
    assert code.active is False
    assert AuditEntry.objects.filter(action="discount_code.disabled").count() == 1


def test_a_bad_code_is_named_on_its_field_and_nothing_is_saved(owner_client, workspace):
    url = f"/w/{workspace.slug}/discount-codes/"
    owner_client.post(url, {"code": "SAME", "kind": "amount", "value": "300"})
    for form, field in (({"code": "same", "kind": "amount", "value": "300"}, "code"),
                        ({"code": "é!", "kind": "amount", "value": "300"}, "code"),
                        ({"code": "PCT", "kind": "percent", "value": "150"}, "value"),
                        ({"code": "DATES", "kind": "amount", "value": "1", "valid_from": "2026-05-02",
                          "valid_until": "2026-05-01"}, "valid_until")):
        response = owner_client.post(url, form)
        assert response.status_code == 400
        assert f'id="{field}-error"' in response.content.decode(), form
    assert list(DiscountCode.objects.values_list("code", flat=True)) == ["SAME"]


def test_staff_see_the_codes_but_cannot_add_or_disable_one(teammate_client, owner_client, workspace):
    url = f"/w/{workspace.slug}/discount-codes/"
    owner_client.post(url, {"code": "STAFF", "kind": "amount", "value": "300"})
    code = DiscountCode.objects.get()
    assert "STAFF" in teammate_client.get(url).content.decode()
    assert teammate_client.post(url, {"code": "MINE", "kind": "amount", "value": "300"}).status_code == 403
    assert teammate_client.post(f"{url}{code.pk}/active/", {"active": "0"}).status_code == 403
    assert DiscountCode.objects.get().active is True and DiscountCode.objects.count() == 1


def test_the_api_creates_lists_reads_disables_and_deletes_codes(owner_key, shop, client):
    created = call(owner_key, "post", "/api/v1/discount-codes",
                   {"code": "api500", "kind": "amount", "value": 500, "offer_ids": [shop["guide"].pk],
                    "valid_until": "2027-01-01T00:00:00+09:00", "every_delivery": False})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["code"], body["offer_ids"], body["uses"], body["active"]) == ("API500", [shop["guide"].pk], 0, True)
    assert body["valid_until"].startswith("2026-12-31T15:00:00")
    assert [c["code"] for c in call(owner_key, "get", "/api/v1/discount-codes").json()["results"]] == ["API500"]
    page, token = confirmation(client, shop["guide"], discount_code="Api500")
    place(client, shop["guide"], page, token)
    assert call(owner_key, "get", f"/api/v1/discount-codes/{body['id']}").json()["uses"] == 1
    assert call(owner_key, "patch", f"/api/v1/discount-codes/{body['id']}", {"active": False}).json()["active"] is False
    used = call(owner_key, "delete", f"/api/v1/discount-codes/{body['id']}")
    assert used.status_code == 409 and used.json()["error"]["code"] == "in_use"
    spare = call(owner_key, "post", "/api/v1/discount-codes", {"code": "SPARE", "kind": "percent", "value": 5})
    assert call(owner_key, "delete", f"/api/v1/discount-codes/{spare.json()['id']}").status_code == 204
    assert list(DiscountCode.objects.values_list("code", flat=True)) == ["API500"]


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "API500", "kind": "amount", "value": 1}, "code"),  # taken, in another case
    ({"code": "X", "kind": "amount", "value": 1}, "code"),
    ({"code": "NEW", "kind": "percent", "value": 101}, "value"),
    ({"code": "NEW", "kind": "amount", "value": 0}, "value"),
    ({"code": "NEW", "kind": "free", "value": 1}, "kind"),
    ({"code": "NEW", "kind": "amount", "value": 1, "offer_ids": [999999]}, "offer_ids"),
    ({"code": "NEW", "kind": "amount", "value": 1, "max_uses": 0}, "max_uses"),
    ({"code": "NEW", "kind": "amount", "value": 1, "valid_from": "2026-02-01T00:00:00+09:00",
      "valid_until": "2026-01-01T00:00:00+09:00"}, "valid_until"),
])
def test_the_api_names_the_bad_field_and_saves_nothing(owner_key, body, field):
    call(owner_key, "post", "/api/v1/discount-codes", {"code": "api500", "kind": "amount", "value": 500})
    response = call(owner_key, "post", "/api/v1/discount-codes", body)
    assert response.status_code == 400
    assert field in json.dumps(response.json()["error"]["fields"])
    assert DiscountCode.objects.count() == 1


def test_another_workspaces_offer_cannot_be_named(owner_key, outsider_key, shop):
    response = call(outsider_key, "post", "/api/v1/discount-codes",
                    {"code": "THEIRS", "kind": "amount", "value": 1, "offer_ids": [shop["trial"].pk]})
    assert response.status_code == 400 and "offer_ids" in response.json()["error"]["fields"]
    assert not DiscountCode.objects.exists()
