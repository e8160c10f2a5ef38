"""Musubi's settings. Everything an operator may change is read from the environment (see README)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from musubi.config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("MUSUBI_DATA_DIR", str(BASE_DIR.parent / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data directory.

    A self-hosted install should not need a manual step to be safe: the generated key is random and
    private to this data directory, and survives restarts so sessions and signed links stay valid.
    """
    configured = env_str("MUSUBI_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
# Fernet keys encrypting stored secrets (LINE tokens, Stripe keys, DKIM keys): the first encrypts, all decrypt.
# Empty: a key derived from SECRET_KEY (see musubi.kernel.secrets).
MUSUBI_SECRET_KEYS = env_list("MUSUBI_SECRET_KEYS", [])
DEBUG = env_bool("MUSUBI_DEBUG", False)
ALLOWED_HOSTS = env_list("MUSUBI_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("MUSUBI_CSRF_TRUSTED_ORIGINS", [])
# The public address of this installation, used in links that leave the site (emails, QR codes).
MUSUBI_BASE_URL = env_str("MUSUBI_BASE_URL", f"http://127.0.0.1:{env_int('MUSUBI_PORT', 8000)}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "anymail",
    "django_tasks_db",
    "ninja",  # serves the API docs' assets from our own static files rather than a CDN
    "axes",
    "musubi.kernel",
    "musubi.workspaces",
    "musubi.catalog",
    "musubi.contacts",
    "musubi.planner",
    "musubi.capture",
    "musubi.commerce",
    "musubi.messaging",
    "musubi.imports",
    "musubi.web",
    "musubi.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "musubi.web.middleware.UserLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "musubi.web.access.DomainErrorMiddleware",
    "musubi.api.middleware.JsonErrorsUnderApiMiddleware",
    # Last, as django-axes requires: it answers a locked-out sign-in before the view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "musubi.config.urls"
WSGI_APPLICATION = "musubi.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "musubi.web.context_processors.current_workspace",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# SQLite is the embedded default. WAL lets readers run beside the one writer; IMMEDIATE transactions
# take the write lock at BEGIN so two writers queue on the busy timeout instead of failing half-way.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'musubi.sqlite3'}"),
        conn_max_age=env_int("MUSUBI_DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- People ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "workspaces.User"
# Lower layers point at the workspace model through this setting, like AUTH_USER_MODEL, so they never
# import the workspaces app.
MUSUBI_WORKSPACE_MODEL = "workspaces.Workspace"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # counts failed sign-ins and refuses while locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling: after 5 failures for one address from one IP, that pair waits 15 minutes.
AXES_FAILURE_LIMIT = env_int("MUSUBI_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("MUSUBI_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in form's field (it holds the email address)
AXES_USERNAME_CALLABLE = "musubi.web.auth_forms.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False
AXES_IPWARE_PROXY_COUNT = env_int("MUSUBI_TRUSTED_PROXY_COUNT", 0) or None
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("MUSUBI_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a reverse proxy that ends TLS and sets X-Forwarded-Proto, so links Musubi builds say https.
if env_bool("MUSUBI_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("MUSUBI_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("MUSUBI_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False

# --- Language, time, money ------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]  # as workspaces.choices.Language: each named in itself
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
MUSUBI_DEFAULT_CURRENCY = "JPY"
# An opt-in is credited to the last source the visitor clicked through within this many days.
MUSUBI_ATTRIBUTION_DAYS = env_int("MUSUBI_ATTRIBUTION_DAYS", 30)
# Public opt-in forms: at most this many submissions per IP address per window (a shop's Wi-Fi is one IP).
MUSUBI_OPTIN_LIMIT = env_int("MUSUBI_OPTIN_LIMIT", 20)
# Where LINE's Messaging API answers; only tests and stand-ins change it.
# Stripe's API (tests point it at a stand-in on 127.0.0.1); the keys themselves are per workspace.
MUSUBI_STRIPE_API_BASE = env_str("MUSUBI_STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
# Public checkout submissions per connection and window, like the opt-in forms'.
MUSUBI_CHECKOUT_LIMIT = env_int("MUSUBI_CHECKOUT_LIMIT", 30)
MUSUBI_CHECKOUT_WINDOW_SECONDS = env_int("MUSUBI_CHECKOUT_WINDOW_SECONDS", 600)
# How long a checkout's confirmation screen stays valid, and how often a declined renewal is retried.
MUSUBI_CHECKOUT_FORM_SECONDS = env_int("MUSUBI_CHECKOUT_FORM_SECONDS", 3600)
MUSUBI_RENEWAL_RETRIES = env_int("MUSUBI_RENEWAL_RETRIES", 3)
MUSUBI_LINE_API_HOST = env_str("MUSUBI_LINE_API_HOST", "https://api.line.me").rstrip("/")
MUSUBI_LINE_ACCESS_HOST = env_str("MUSUBI_LINE_ACCESS_HOST", "https://access.line.me").rstrip("/")
MUSUBI_OPTIN_WINDOW_SECONDS = env_int("MUSUBI_OPTIN_WINDOW_SECONDS", 600)
# Outgoing webhooks go only to https:// addresses on the public internet; these let tests (and a trusted
# internal receiver) through: plain http, and addresses or networks to allow although private.
MUSUBI_WEBHOOK_ALLOW_HTTP = env_bool("MUSUBI_WEBHOOK_ALLOW_HTTP", False)
MUSUBI_WEBHOOK_ALLOWED_ADDRESSES = env_list("MUSUBI_WEBHOOK_ALLOWED_ADDRESSES", [])
# The DNS server that sending-domain checks (SPF, DKIM, DMARC) ask, as "host:port"; empty = the system's.
MUSUBI_DNS_SERVER = env_str("MUSUBI_DNS_SERVER", "")

# --- Static files (vendored, served by the app through WhiteNoise) --------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request while it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": DATA_DIR / "media"}},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Files sold with an offer. Nothing serves this directory: buyers get a file only through a signed link
    # that Musubi checks. Any Django storage fits here (an S3-compatible bucket through django-storages).
    "downloads": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                  "OPTIONS": {"location": DATA_DIR / "downloads"}},
}
WHITENOISE_USE_FINDERS = DEBUG
# The largest file an offer may deliver. 500 MB holds a PDF guide, an audio set, a zip of worksheets or a
# lecture video of about an hour in 720p, and still uploads through a browser in minutes; longer courses are
# better served from a video host and linked from the members' page. A proxy in front of Musubi must accept
# request bodies this large (nginx: client_max_body_size).
MUSUBI_DOWNLOAD_MAX_BYTES = env_int("MUSUBI_DOWNLOAD_MAX_MB", 500) * 1024 * 1024
# How long a download link works once the members' page has made it; the page makes new ones each time.
MUSUBI_DOWNLOAD_LINK_SECONDS = env_int("MUSUBI_DOWNLOAD_LINK_MINUTES", 60) * 60

# --- Email (system mail: password resets and notices; marketing mail has its own senders) ----------
# MUSUBI_EMAIL_BACKEND=console prints mail to the log instead of sending it (the demo's default).
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "musubi.web.mail.ReadableConsoleBackend",
}
_email_backend = env_str("MUSUBI_EMAIL_BACKEND", "smtp")
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKENDS.get(_email_backend, _email_backend),
        "OPTIONS": {
            "host": env_str("MUSUBI_EMAIL_HOST", "127.0.0.1"),
            "port": env_int("MUSUBI_EMAIL_PORT", 25),
            "username": env_str("MUSUBI_EMAIL_USER"),
            "password": env_str("MUSUBI_EMAIL_PASSWORD"),
            "use_tls": env_bool("MUSUBI_EMAIL_USE_TLS", False),
            "timeout": env_int("MUSUBI_EMAIL_TIMEOUT", 20),
        }
        if _email_backend == "smtp"
        else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("MUSUBI_DEFAULT_FROM_EMAIL", "musubi@localhost")

# Advertising mail (sequences and broadcasts): "smtp" sends through the mail server above; "outbox" keeps every
# mail on the outbox page instead (the demo); a mailer named "marketing" in MAILERS (e.g. an email service's
# django-anymail backend) is used in place of the default one when defined.
MUSUBI_MARKETING_MAIL = env_str("MUSUBI_MARKETING_MAIL", "smtp")
# An email service's webhooks (bounces, complaints, inbound mail) at /anymail/<service>/tracking|inbound/ must
# present these credentials (HTTP basic auth, "user:password"); without them the webhooks refuse everything.
ANYMAIL = {"WEBHOOK_SECRET": env_str("MUSUBI_EMAIL_WEBHOOK_SECRET") or None}
# Outcomes of sent mail are written once this many are waiting or the oldest has waited this many
# milliseconds: a crashed worker can repeat only the mails accepted in that window (1 and 0: one at a time,
# at the cost of a disk flush per mail).
MUSUBI_SEND_RECORD_EVERY = env_int("MUSUBI_SEND_RECORD_EVERY", 50)
MUSUBI_SEND_RECORD_MS = env_int("MUSUBI_SEND_RECORD_MS", 50)
# Deliveries a worker claims at once for sending: consent and addresses are read once per batch, and the batch
# must be sent well within the lease below (a long batch renews its lease as it goes).
MUSUBI_SEND_BATCH = env_int("MUSUBI_SEND_BATCH", 1000)
# Concurrent connections a worker keeps open to the mail server while sending advertising mail.
MUSUBI_SMTP_CONNECTIONS = env_int("MUSUBI_SMTP_CONNECTIONS", 4)
# What the domain check expects a sending domain's SPF record to allow: the addresses this installation sends
# from, and the include: of an email service if one relays the mail (comma-separated).
MUSUBI_SENDING_IPS = [v.strip() for v in env_str("MUSUBI_SENDING_IPS").split(",") if v.strip()]
MUSUBI_SPF_INCLUDES = [v.strip() for v in env_str("MUSUBI_SPF_INCLUDES").split(",") if v.strip()]
# How long a worker holds a batch of messages (or a broadcast run it is planning) before another may take it
# over; a batch must be sent well within it.
MUSUBI_SEND_LEASE_SECONDS = env_int("MUSUBI_SEND_LEASE_SECONDS", 300)
# How often the worker compares each LINE account's friends with the rich menus their segments call for.
MUSUBI_RICHMENU_CHECK_SECONDS = env_int("MUSUBI_RICHMENU_CHECK_SECONDS", 300)

# --- Background work ------------------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
MUSUBI_WORKER_POLL_SECONDS = float(env_str("MUSUBI_WORKER_POLL_SECONDS", "1.0"))
# Processes `musubi worker` (and the worker `musubi serve` starts) runs side by side. Their claims are disjoint,
# so each sends its own batches; sending is CPU work (composing, DKIM, SMTP) and one process uses about one core,
# so on PostgreSQL one per core (at most 4). SQLite has a single writer: one process there.
MUSUBI_WORKER_PROCESSES = env_int(
    "MUSUBI_WORKER_PROCESSES",
    1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else min(os.cpu_count() or 1, 4))
# CSV imports: the largest file accepted, the rows a worker checks or writes per committed chunk, and how long
# a worker's claim on an import lasts without progress before another worker may take it over.
MUSUBI_IMPORT_MAX_BYTES = env_int("MUSUBI_IMPORT_MAX_MB", 200) * 1024 * 1024
MUSUBI_IMPORT_CHUNK_ROWS = env_int("MUSUBI_IMPORT_CHUNK_ROWS", 5000)
# On PostgreSQL the good rows are written in SQL without coming up to Python, so a chunk can be larger: each
# statement's fixed cost is spread over more rows, and memory does not grow with it.
MUSUBI_IMPORT_WRITE_CHUNK_ROWS = env_int("MUSUBI_IMPORT_WRITE_CHUNK_ROWS", 4 * MUSUBI_IMPORT_CHUNK_ROWS)
MUSUBI_IMPORT_LEASE_SECONDS = env_int("MUSUBI_IMPORT_LEASE_SECONDS", 120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MUSUBI_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The worker loop starts django-tasks-db's worker in batch mode on every pass, which it logs at INFO.
        "django_tasks_db": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it logs every failed sign-in at INFO; lockouts come at WARNING
    },
}
