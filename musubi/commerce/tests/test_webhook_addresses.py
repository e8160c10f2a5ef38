"""An outgoing webhook reaches only the public internet: a private address is refused when saved, with the
reason in words, and again at delivery against the address actually connected to, so a name that changes
its answer (DNS rebinding) is caught; a redirect is never followed. The test settings allow 127.0.0.1 for
the local receiver; these tests take that exception away where they prove a refusal."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation

from musubi.commerce import outgoing
from musubi.commerce.models import WebhookDelivery, WebhookEndpoint
from musubi.commerce.tests.test_outgoing_webhooks import paid_order, send
from musubi.kernel.errors import InvalidInput
from musubi.workspaces.services import SYSTEM


@pytest.fixture
def local_server():
    """A receiver on 127.0.0.1 recording each request's path and Host; it answers ``answer`` (and a Location
    to /followed for a redirect)."""
    state = {"requests": [], "answer": 200}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state["requests"].append((self.path, self.headers["Host"]))
            self.send_response(state["answer"])
            if 300 <= state["answer"] < 400:
                self.send_header("Location", f"http://127.0.0.1:{server.server_address[1]}/followed")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["port"] = server.server_address[1]
    yield state
    server.shutdown()
    server.server_close()


def refused(workspace, url):
    with pytest.raises(InvalidInput) as error:
        outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url=url)
    assert not WebhookEndpoint.objects.exists()
    return error.value.fields["webhook_url"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook",
                                 "https://169.254.169.254/latest/meta-data", "https://10.0.0.8/hook",
                                 "https://[fe80::1]/hook", "https://0.0.0.0/hook"])
def test_private_and_local_addresses_are_refused_on_save(settings, workspace, url):
    settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = []
    with translation.override("ja"):
        message = refused(workspace, url)
    assert "公開" in message or "プライベート" in message, message


@pytest.mark.django_db
def test_plain_http_is_refused_unless_the_setting_allows_it(settings, workspace):
    settings.MUSUBI_WEBHOOK_ALLOW_HTTP = False
    assert "https://" in refused(workspace, "http://8.8.8.8/hook")


@pytest.mark.django_db
def test_a_name_resolving_to_a_private_address_is_refused_on_save(settings, workspace, dns_server):
    settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = []
    dns_server.records[("hooks.example.jp", "A")] = ["192.168.10.20"]
    assert "192.168.10.20" in refused(workspace, "https://hooks.example.jp/hook")
    dns_server.records[("mapped.example.jp", "AAAA")] = ["::ffff:10.0.0.1"]
    assert "::ffff:a00:1" in refused(workspace, "https://mapped.example.jp/hook")
    assert refused(workspace, "https://nowhere.example.jp/hook")


def test_a_name_delivers_to_the_address_it_resolves_to_with_its_own_host_header(
        client, shop, workspace, dns_server, local_server):
    dns_server.records[("hooks.example.jp", "A")] = ["127.0.0.1"]  # allowed by the test settings
    outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url=f"http://hooks.example.jp:{local_server['port']}/in")
    paid_order(client, shop, workspace)
    send()
    assert local_server["requests"] == [("/in", f"hooks.example.jp:{local_server['port']}")]
    assert WebhookDelivery.objects.get().status == "done"


def test_a_name_that_turns_private_after_it_was_saved_is_refused_at_delivery(
        settings, client, shop, workspace, dns_server, local_server):
    dns_server.records[("rebind.example.jp", "A")] = ["8.8.8.8"]
    settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = []
    outgoing.set_endpoint(workspace=workspace, actor=SYSTEM,
                          url=f"http://rebind.example.jp:{local_server['port']}/in")
    dns_server.records[("rebind.example.jp", "A")] = ["127.0.0.1"]  # the name now points inside
    paid_order(client, shop, workspace)
    send()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "127.0.0.1" in delivery.last_error
    assert local_server["requests"] == []


def test_a_redirect_is_not_followed(client, shop, workspace, local_server):
    local_server["answer"] = 302
    outgoing.set_endpoint(workspace=workspace, actor=SYSTEM, url=f"http://127.0.0.1:{local_server['port']}/in")
    paid_order(client, shop, workspace)
    send()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status) == ("failed", 302)
    assert "redirect" in delivery.last_error
    assert [path for path, _host in local_server["requests"]] == ["/in"]


def test_the_payment_settings_page_names_the_refusal(settings, owner_client, workspace):
    settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = []
    response = owner_client.post(f"/w/{workspace.slug}/settings/webhook/", {"webhook_url": "https://10.0.0.8/"},
                                 follow=True, HTTP_ACCEPT_LANGUAGE="ja")
    assert "10.0.0.8" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
