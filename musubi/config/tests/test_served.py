"""``musubi serve`` as people meet it: granian over ASGI, in a process of its own, answering a browser's form
posts. (The in-process ASGI tests hand the application coroutines; a real server's ``receive`` is another kind
of awaitable, and that difference once made every form post fail with 500.)"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import PASSWORD
from musubi.kernel.tests.test_claims_processes import ROOT, database_url
from musubi.testing.smtp import free_port

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def served():
    port = free_port()
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "musubi.config.test_settings",
                   "DATABASE_URL": database_url(), "MUSUBI_LOG_LEVEL": "WARNING", "MUSUBI_WEB_THREADS": "4"}
    server = subprocess.Popen([sys.executable, "-m", "musubi.cli", "serve", "--no-setup", "--no-worker",
                               "--web-workers", "1", "--port", str(port)], cwd=ROOT, env=environment)
    deadline = time.monotonic() + 60  # a busy machine can take a while to start granian
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError("musubi serve did not start") from None
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)


def _browser():
    cookies = http.cookiejar.CookieJar()

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies), NoRedirects)


def _post_login(browser, site: str, password: str):
    page = browser.open(f"{site}/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "owner@example.com",
                                   "password": password}).encode()
    request = urllib.request.Request(f"{site}/login/", data=form, headers={"Referer": f"{site}/login/"})
    try:
        return browser.open(request, timeout=30)
    except urllib.error.HTTPError as answer:  # a redirect or an error, both with their status
        return answer


def test_a_form_post_reaches_django_through_the_real_server(served, owner):
    browser = _browser()
    wrong = _post_login(browser, served, "not-the-password")
    assert wrong.status == 200 and "メールアドレス" in wrong.read().decode()  # the form again, with its error
    right = _post_login(browser, served, PASSWORD)
    assert right.status == 302 and right.headers["Location"] != "/login/"
