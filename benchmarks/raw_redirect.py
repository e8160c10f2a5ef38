"""B1's baseline: the least an ASGI application can do to answer a tracking link — a 302, nothing recorded."""


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 302,
                "headers": [(b"location", b"https://example.jp/"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
