"""ASGI middleware that caps request bodies before they are read into memory, and in time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

__all__ = ["BodySizeLimitMiddleware", "BodyTimeout", "BodyTooLarge", "error_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(code: str, message: str) -> bytes:
    """The JSON error envelope every error response uses."""
    return json.dumps({"status": "error", "error": {"code": code, "message": message}}).encode()


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the cap (FastAPI re-raises HTTPExceptions)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


class BodyTimeout(HTTPException):
    """Raised from `receive` when the body has not arrived within the time allowed (a slow drip)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} s")


class BodySizeLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, and bodies slower than `body_timeout_s` with 408.

    A declared Content-Length over the cap is refused before any byte is read. Bodies without
    one (chunked) or that lie about it are counted as they stream: the message that passes the
    cap raises `BodyTooLarge` inside `receive`, so at most one chunk past the cap is held.
    The whole body must arrive within `body_timeout_s` of the app's first read of it (None: no
    limit); a body that drips in slower raises `BodyTimeout` inside `receive`.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, body_timeout_s: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout_s = body_timeout_s

    async def _reply_413(self, send: Send) -> None:
        body = error_body("payload_too_large", f"request body is larger than {self.max_bytes} bytes")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._reply_413(send)
                    return
        seen = 0
        started = False
        body_done = False
        deadline: float | None = None

        async def counting_receive() -> Message:
            nonlocal seen, body_done, deadline
            if body_done or self.body_timeout_s is None:
                message = await receive()  # after the body: disconnect notices, no deadline
            else:
                if deadline is None:
                    deadline = time.monotonic() + self.body_timeout_s
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    raise BodyTimeout(self.body_timeout_s) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                body_done = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reply_413(send)
