"""Settings for the test suite: the real settings plus a test-only app and fast password hashing."""

import os

from musubi.config.settings import *  # noqa: F403
from musubi.config.settings import DATA_DIR, DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "musubi.kernel.tests.chores"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Worker processes started by fault tests send to the SMTP server the test runs.
if os.environ.get("MUSUBI_TEST_SMTP_PORT"):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                           "OPTIONS": {"host": "127.0.0.1", "port": int(os.environ["MUSUBI_TEST_SMTP_PORT"]),
                                       "timeout": 10}}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "downloads": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}
MUSUBI_WORKER_POLL_SECONDS = 0.05
# Tests that start `musubi worker` count on one process unless they ask for more (--processes).
MUSUBI_WORKER_PROCESSES = int(os.environ.get("MUSUBI_WORKER_PROCESSES", "1"))

# Worker processes started by fault tests must open the same test database, so SQLite tests use a file.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{_worker}.sqlite3")}

# Nothing outside 127.0.0.1 is asked: DNS goes to a port where nothing answers unless a test starts its
# stand-in there (the dns_server fixture), and gives up quickly.
MUSUBI_DNS_SERVER = "127.0.0.1:9"
MUSUBI_DNS_TIMEOUT = 1.0

# Outgoing webhooks in tests go to a receiver on 127.0.0.1 over plain HTTP; production refuses both.
MUSUBI_WEBHOOK_ALLOW_HTTP = True
MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = ["127.0.0.1"]
