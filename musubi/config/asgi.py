"""The site over ASGI, as ``musubi serve`` runs it.

Tracking requests — ``/r/<code>`` links, and messages' opens and clicks (``/m/o/``, ``/m/c/``) — are answered on
the event loop: thousands can wait for their group commit at once without a thread each. Every other request
goes to Django's WSGI application on a pool of ``MUSUBI_WEB_THREADS`` threads (a2wsgi's bridge, which streams
request and response bodies both ways), so a slow page or a long CSV export holds one thread, not the site.
Django's own ASGI handler is not used: on this kind of machine it answers about a ninth of what WSGI does.
"""

import os
from typing import Any, cast

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
django_application = get_wsgi_application()

from musubi.capture.fastlink import wrap_asgi  # noqa: E402 — needs Django set up first
from musubi.kernel.heap import freeze_loaded_objects  # noqa: E402
from musubi.messaging.fasttrack import wrap_asgi as wrap_message_tracking  # noqa: E402

PAGE_THREADS = int(os.environ.get("MUSUBI_WEB_THREADS", "16"))

bridge = cast(Any, WSGIMiddleware(cast(Any, django_application), workers=PAGE_THREADS))


async def pages(scope: Any, receive: Any, send: Any) -> None:
    """Django's pages through the bridge. The bridge reads a request's body by handing ``receive()`` to
    ``asyncio.run_coroutine_threadsafe``, which takes only a coroutine; granian's ``receive()`` returns another
    kind of awaitable, so every form post failed. Wrapped, it is a coroutine on any server."""

    async def receive_coroutine() -> Any:
        return await receive()

    await bridge(scope, receive_coroutine, send)


application = wrap_asgi(wrap_message_tracking(pages))
freeze_loaded_objects()
