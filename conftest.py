"""Standing test people: an owner and a teammate of one workspace, and an outsider who owns another."""

from __future__ import annotations

import os

import pytest
from django.test import Client
from hypothesis import settings as hypothesis_settings

from musubi.workspaces import services
from musubi.workspaces.choices import Role
from musubi.workspaces.models import User, Workspace

PASSWORD = "a-long-test-password-1"

# Property tests and the API fuzzer draw the same examples on every run by default, so a red build always
# means a change broke something; MUSUBI_HYPOTHESIS_PROFILE=explore draws new ones, and more of them.
hypothesis_settings.register_profile("repeatable", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", max_examples=300, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("MUSUBI_HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user("owner@example.com", PASSWORD)


@pytest.fixture
def workspace(owner: User) -> Workspace:
    return services.create_workspace(slug="kenko", name="すこやか健康食品店", owner=owner)


@pytest.fixture
def teammate(workspace: Workspace) -> User:
    user = User.objects.create_user("staff@example.com", PASSWORD)
    services.add_member(workspace=workspace, actor=services.SYSTEM, email=user.email, role=Role.STAFF)
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("outsider@example.org", PASSWORD)


@pytest.fixture
def other_workspace(outsider: User) -> Workspace:
    return services.create_workspace(slug="izakaya", name="居酒屋むすび", owner=outsider)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: User, workspace: Workspace) -> Client:
    return signed_in(owner)


@pytest.fixture
def teammate_client(teammate: User) -> Client:
    return signed_in(teammate)


@pytest.fixture
def outsider_client(outsider: User, other_workspace: Workspace) -> Client:
    return signed_in(outsider)


@pytest.fixture
def owner_key(workspace: Workspace) -> str:
    return services.create_api_key(workspace=workspace, actor=services.SYSTEM, name="test")[1]


@pytest.fixture
def outsider_key(other_workspace: Workspace) -> str:
    return services.create_api_key(workspace=other_workspace, actor=services.SYSTEM, name="outsider")[1]


@pytest.fixture
def run_worker():
    """Run one pass of the worker — durable queues and queued tasks (mail) — as `musubi worker` would.
    Tests that use it need real transactions: mark them ``django_db(transaction=True)``."""
    from musubi.kernel.worker import Loop

    return lambda: Loop(worker="test-worker").run(once=True)


@pytest.fixture(autouse=True)
def _tax_rates_after_a_flush(request):
    """Transactional tests flush the database after themselves, which removes the tax rates a migration
    installed; put them back for the transactional tests that follow."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        from musubi.kernel.tax import install_japanese_tax_rates

        install_japanese_tax_rates()


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1 that Django's mail goes to during the test; ``smtp.messages`` holds
    what it accepted (``smtp.received`` the bytes). It can refuse chosen recipients, hang up after every n-th
    message or go down on demand (see ``musubi.testing.smtp``)."""
    from musubi.testing.smtp import smtp_server

    with smtp_server() as inbox:
        settings.MAILERS = inbox.mailers()
        yield inbox


@pytest.fixture
def line_api(settings):
    """LINE's Messaging API stood in for on 127.0.0.1; the SDK is pointed at it for the test."""
    from musubi.testing.line_standin import line_standin

    with line_standin() as standin:
        settings.MUSUBI_LINE_API_HOST = standin.url
        yield standin


@pytest.fixture
def dns_server(settings):
    """A DNS server on 127.0.0.1 answering the records a test sets (``dns_server.txt(name, value)``);
    ``MUSUBI_DNS_SERVER`` points at it for the test."""
    from musubi.testing.dns_standin import dns_standin

    with dns_standin() as standin:
        settings.MUSUBI_DNS_SERVER = standin.address
def stripe_api(settings):
    """Stripe's API stood in for on 127.0.0.1; the SDK is pointed at it for the test."""
    from musubi.testing.stripe_standin import stripe_standin

    with stripe_standin() as standin:
        settings.MUSUBI_STRIPE_API_BASE = standin.url
        yield standin
