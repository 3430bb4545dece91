"""uvicorn's HTTP/1.1 (h11) protocol with a header deadline.

uvicorn times out idle keep-alive connections but not a request whose headers drip in a byte at a
time: such a connection stays open as long as the client likes. Here a request's headers must all
arrive within `header_timeout_s` of its first byte (or of the connection opening); otherwise the
connection is closed. The body's own deadline is BodySizeLimitMiddleware's `body_timeout_s`.
"""

from __future__ import annotations

import asyncio
import logging
import os

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

__all__ = ["DEFAULT_HEADER_TIMEOUT_S", "HeaderTimeoutH11Protocol"]

DEFAULT_HEADER_TIMEOUT_S = 10.0
log = logging.getLogger("ocr.api")


def _header_timeout() -> float:
    raw = os.environ.get("OCR_API_HEADER_TIMEOUT_S", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_HEADER_TIMEOUT_S
    except ValueError:
        return DEFAULT_HEADER_TIMEOUT_S
    return value if value > 0 else DEFAULT_HEADER_TIMEOUT_S


class HeaderTimeoutH11Protocol(H11Protocol):
    """H11Protocol that closes a connection whose request headers take longer than the deadline
    (env OCR_API_HEADER_TIMEOUT_S, default 10 s; `serve` sets it from the settings)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, object],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout_s = _header_timeout()
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on a kept-alive connection starts arriving
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # its headers are complete

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("closed a connection whose request headers took longer than %g s", self.header_timeout_s)
            self.transport.close()
