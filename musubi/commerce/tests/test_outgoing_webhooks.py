"""Outgoing webhooks: a paid order posted, signed, to a receiver on 127.0.0.1; retried when it fails, given up
on a refusal, never sent without an address."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from musubi.commerce import order_lifecycle, outgoing
from musubi.commerce.models import Order, WebhookDelivery
from musubi.commerce.tests.test_checkout import confirmation, place
from musubi.kernel.errors import Forbidden, InvalidInput
from musubi.kernel.worker import drain_queues
from musubi.workspaces.choices import Role
from musubi.workspaces.services import SYSTEM, Actor


@pytest.fixture
def receiver():
    state = {"requests": [], "answers": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["requests"].append((dict(self.headers), body))
            self.send_response(state["answers"].pop(0) if state["answers"] else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def paid_order(client, shop, workspace):
    page, token = confirmation(client, shop["trial"])
    place(client, shop["trial"], page, token)
    order = Order.objects.get()
    order_lifecycle.record_payment(workspace=workspace, actor=SYSTEM, order_id=order.pk)
    return order


def send():
    drain_queues(worker="w", only={"commerce.webhooks"})


def test_a_paid_order_is_posted_signed_once(client, shop, workspace, receiver):
    secret = outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url=receiver["url"])
    order = paid_order(client, shop, workspace)
    send()
    send()
    [(headers, body)] = receiver["requests"]
    payload = json.loads(body)
    assert payload["type"] == "order.paid" and payload["data"]["order_id"] == order.pk
    assert payload["data"]["amount"] == 980 and headers["Musubi-Event-Id"] == payload["id"]
    timestamp, mac = (part.split("=", 1)[1] for part in headers["Musubi-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)


def test_a_failing_receiver_is_retried_and_a_refusing_one_given_up(client, shop, workspace, receiver):
    import datetime as dt

    from musubi.kernel import clock

    outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url=receiver["url"])
    receiver["answers"] = [500]
    paid_order(client, shop, workspace)
    send()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status) == ("pending", 500)
    with clock.travel(dt.timedelta(minutes=5)):
        send()
    assert WebhookDelivery.objects.get().status == "done"
    assert len(receiver["requests"]) == 2
    assert json.loads(receiver["requests"][0][1])["id"] == json.loads(receiver["requests"][1][1])["id"]


def test_no_address_no_delivery(client, shop, workspace):
    paid_order(client, shop, workspace)
    assert not WebhookDelivery.objects.exists()


def test_only_an_administrator_sets_an_http_address(workspace, teammate):
    with pytest.raises(Forbidden):
        outgoing.set_endpoint(workspace=workspace, actor=Actor(role=Role.STAFF, user=teammate),
                              url="https://example.jp/hook")
    with pytest.raises(InvalidInput):
        outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url="file:///etc/passwd")
