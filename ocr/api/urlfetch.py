"""Fetching `image_url` inputs without server-side request forgery.

The hostname is resolved first; every address it resolves to must be public (not loopback,
private, link-local, multicast, reserved, unspecified, shared or a cloud metadata address,
for IPv4 and IPv6 alike, including IPv4 embedded in IPv6). The connection then goes to the
exact address that was checked (no second lookup), with the original Host header and, for
https, SNI and certificate checks against the hostname. Redirects are refused, and the
download is capped in bytes and by one deadline for the whole fetch: name lookup, connect, TLS,
request, response headers and body. At the deadline a timer shuts the socket down, so a server
that drips its headers a byte at a time cannot hold the calling thread past it.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ocr.errors import OCRError

__all__ = ["UrlFetcher", "UrlRefused", "check_address", "system_resolver"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]

# Metadata services reachable on addresses that `is_global` alone might not flag everywhere.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class UrlRefused(OCRError):
    """An image URL was refused (scheme, address, redirect, size, time) or could not be fetched."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible ::a.b.c.d (deprecated, but some stacks still route it)
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def check_address(address: str) -> IPAddress:
    """The parsed address if it is a public unicast address; raises UrlRefused otherwise."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        raise UrlRefused(f"not an IP address: {address!r}") from None
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _embedded_v4(ip)
        if v4 is not None:
            candidates.append(v4)
        if ip in _NAT64_LOCAL:
            raise UrlRefused(f"address {ip} is not public")
    for c in candidates:
        bad = (
            c in _METADATA
            or c.is_loopback
            or c.is_private
            or c.is_link_local
            or c.is_multicast
            or c.is_reserved
            or c.is_unspecified
            or not c.is_global
            or (isinstance(c, ipaddress.IPv6Address) and c.is_site_local)
        )
        if bad:
            raise UrlRefused(f"address {ip} is not public")
    return ip


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (getaddrinfo, TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve {host!r}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


# Name lookups (getaddrinfo cannot be interrupted) run here, so the caller waits at most until its
# deadline; a lookup that outlives it keeps one of these few threads, never the caller's.
_RESOLVERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ocr-url-resolve")


class _Deadline:
    """Shuts a connection's socket down when the fetch's time is up (from a timer thread)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock: socket.socket) -> socket.socket:
        """Register a socket to shut down at the deadline (at once if it has passed)."""
        with self._lock:
            self._socks.append(sock)
            fired = self.expired.is_set()
        if fired:
            self._shutdown(sock)
        return sock

    def _fire(self) -> None:
        with self._lock:
            self.expired.set()
            socks = list(self._socks)
        for sock in socks:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/send in the fetching thread

    def cancel(self) -> None:
        self._timer.cancel()


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a fixed, already-checked address; the Host header still names the hostname."""

    def __init__(self, host: str, port: int, address: str, deadline: _Deadline, connector: Connector) -> None:
        super().__init__(host, port, timeout=max(0.05, deadline.left()))
        self._address, self._connector, self._deadline = address, connector, deadline

    def connect(self) -> None:
        sock = self._connector(self._address, self.port, max(0.05, self._deadline.left()))
        self.sock = self._deadline.watch(sock)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate verification against the hostname."""

    def __init__(self, host: str, port: int, address: str, deadline: _Deadline, connector: Connector) -> None:
        super().__init__(host, port, timeout=max(0.05, deadline.left()), context=ssl.create_default_context())
        self._address, self._connector, self._deadline = address, connector, deadline

    def connect(self) -> None:
        sock = self._connector(self._address, self.port, max(0.05, self._deadline.left()))
        self._deadline.watch(sock)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass
class UrlFetcher:
    """Fetch one image URL safely. `resolver` and `connector` are injectable for tests."""

    max_bytes: int
    timeout_s: float
    resolver: Resolver = field(default=system_resolver)
    connector: Connector = field(default=_connect)

    def plan(self, url: str, wait_s: float | None = None) -> tuple[str, str, int, str, str]:
        """Validate `url` and resolve it: (scheme, host, port, checked address, path?query).

        wait_s: the longest wait for the name lookup (None: no limit)."""
        if len(url) > 2048:
            raise UrlRefused("URL is longer than 2048 characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UrlRefused(f"malformed URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UrlRefused("only http and https URLs are accepted")
        host = parts.hostname
        if not host:
            raise UrlRefused("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise UrlRefused("credentials in URLs are not accepted")
        port = port or (443 if scheme == "https" else 80)
        if wait_s is None:
            addresses = self.resolver(host, port)
        else:
            try:
                addresses = _RESOLVERS.submit(self.resolver, host, port).result(timeout=max(0.0, wait_s))
            except FutureTimeout:
                raise UrlRefused(f"fetching the URL took longer than {self.timeout_s:g} s "
                                 "(resolving its name)") from None
        if not addresses:
            raise UrlRefused(f"{host!r} resolves to no address")
        checked = [check_address(a) for a in addresses]  # every address must be public
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return scheme, host, port, str(checked[0]), target

    def fetch(self, url: str) -> bytes:
        """The body of a 200 response, at most `max_bytes`, within `timeout_s` in total."""
        deadline = _Deadline(self.timeout_s)
        too_slow = f"fetching the URL took longer than {self.timeout_s:g} s"
        conn: http.client.HTTPConnection | None = None
        try:
            scheme, host, port, address, target = self.plan(url, wait_s=deadline.left())
            cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
            conn = cls(host, port, address, deadline, self.connector)
            conn.request("GET", target, headers={"Accept": "image/*", "User-Agent": "ocr-studio-api",
                                                 "Accept-Encoding": "identity"})
            resp = conn.getresponse()
            if 300 <= resp.status < 400:
                raise UrlRefused(f"the URL redirects (HTTP {resp.status}); redirects are not followed")
            if resp.status != 200:
                raise UrlRefused(f"the URL answered HTTP {resp.status}")
            declared = resp.getheader("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise UrlRefused(f"the image at the URL is larger than {self.max_bytes} bytes")
            chunks, total = [], 0
            while True:
                if deadline.left() <= 0:
                    raise UrlRefused(too_slow)
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.05, deadline.left()))
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_bytes:
                    raise UrlRefused(f"the image at the URL is larger than {self.max_bytes} bytes")
                chunks.append(chunk)
            if deadline.expired.is_set():  # the timer cut the body short
                raise UrlRefused(too_slow)
            return b"".join(chunks)
        except UrlRefused:
            raise
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            if deadline.expired.is_set() or deadline.left() <= 0:
                raise UrlRefused(too_slow) from None
            raise UrlRefused(f"cannot fetch the URL: {type(exc).__name__}") from None
        finally:
            deadline.cancel()
            if conn is not None:
                conn.close()
