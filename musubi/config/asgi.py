"""The site over ASGI: tracking links answered on the event loop (clicks wait for their group commit without a
thread each), every other request handed to the same Django WSGI application in a thread."""

import os

from asgiref.wsgi import WsgiToAsgi
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
django_application = get_wsgi_application()

from musubi.capture.fastlink import wrap_asgi  # noqa: E402 — needs Django set up first

application = wrap_asgi(WsgiToAsgi(django_application))
