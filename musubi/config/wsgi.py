import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
django_application = get_wsgi_application()

from musubi.capture.fastlink import wrap  # noqa: E402 — needs Django set up first
from musubi.kernel.heap import freeze_loaded_objects  # noqa: E402

# Tracking links take a lean path with clicks committed in groups; everything else is Django.
application = wrap(django_application)
freeze_loaded_objects()
