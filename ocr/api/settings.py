"""API configuration: one frozen dataclass, read from the environment and overridden by CLI flags."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ocr.errors import OCRError

__all__ = ["MIN_KEY_LENGTH", "ApiConfigError", "ApiSettings", "is_loopback_host", "read_keys_file"]

MB = 1024 * 1024
MIN_KEY_LENGTH = 16  # characters; `python -c "import secrets; print(secrets.token_urlsafe(32))"` gives 43


class ApiConfigError(OCRError):
    """The API settings are invalid or unsafe (e.g. no API keys on a non-loopback host)."""


def _env_int(name: str, default: int, low: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiConfigError(f"{name}={raw!r} is not an integer") from None
    if value < low:
        raise ApiConfigError(f"{name}={value} must be >= {low}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiConfigError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ApiConfigError(f"{name}={value} must be > 0")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ApiConfigError(f"{name}={raw!r} is not a boolean (use 1/0)")


def read_keys_file(path: Path) -> frozenset[str]:
    """API keys from a file, one per line; blank lines and `#` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ApiConfigError(f"cannot read API keys file {path}: {exc}") from None
    keys = [ln.strip() for ln in text.splitlines()]
    return frozenset(k for k in keys if k and not k.startswith("#"))


def is_loopback_host(host: str) -> bool:
    """True for hosts that only this machine can reach: localhost, 127.0.0.0/8, ::1."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ApiSettings:
    """Everything the API server can be told. Environment names in brackets.

    api_keys:           accepted X-API-Key values [OCR_API_KEYS, comma-separated; OCR_API_KEYS_FILE].
    allow_open:         run without keys on a non-loopback host [OCR_API_ALLOW_OPEN].
    rate_limit:         requests per minute per key (per client address when open); 0 = off
                        [OCR_API_RATE_LIMIT, default 10].
    auth_fail_limit:    failed authentications per minute per client address before 429
                        (slows key guessing); 0 = off [OCR_API_AUTH_FAIL_LIMIT, default 30].
    max_body_bytes:     request body cap, checked before reading [OCR_API_MAX_BODY_BYTES, 5 MiB].
    request_timeout_s:  time limit for decoding + recognition of one request [OCR_API_TIMEOUT_S, 30].
    max_batch:          images per batch request [OCR_API_MAX_BATCH, 16].
    threads:            recognition threads per worker [OCR_API_THREADS, 2].
    max_pending:        requests queued or running per worker before 503 [OCR_API_MAX_PENDING, 32].
    allow_image_url:    accept `image_url` inputs [OCR_API_ALLOW_IMAGE_URL, off].
    url_max_bytes:      size cap of a fetched image [OCR_API_URL_MAX_BYTES, 5 MiB].
    url_timeout_s:      one deadline for a whole fetch: lookup, connect, headers, body
                        [OCR_API_URL_TIMEOUT_S, 5].
    fetch_threads:      threads fetching image_url inputs, apart from recognition [OCR_API_FETCH_THREADS, 4].
    header_timeout_s:   a request's headers must arrive within this of its first byte, else the
                        connection is closed [OCR_API_HEADER_TIMEOUT_S, 10].
    body_timeout_s:     a request's body must arrive within this of the first read, else 408
                        [OCR_API_BODY_TIMEOUT_S, 30].
    preload:            engines loaded at start-up; empty = the default engine [OCR_API_PRELOAD].

    Keys shorter than MIN_KEY_LENGTH (16) characters are refused (ApiConfigError).
    """

    api_keys: frozenset[str] = frozenset()
    allow_open: bool = False
    rate_limit: int = 10
    auth_fail_limit: int = 30
    max_body_bytes: int = 5 * MB
    request_timeout_s: float = 30.0
    max_batch: int = 16
    threads: int = 2
    max_pending: int = 32
    allow_image_url: bool = False
    url_max_bytes: int = 5 * MB
    url_timeout_s: float = 5.0
    fetch_threads: int = 4
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    preload: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        short = sum(len(k) < MIN_KEY_LENGTH for k in self.api_keys)
        if short:
            raise ApiConfigError(
                f"{short} API key(s) shorter than {MIN_KEY_LENGTH} characters; use long random keys, e.g. "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )

    @classmethod
    def from_env(cls) -> ApiSettings:
        """Settings from OCR_API_* environment variables (defaults where unset)."""
        keys = {k.strip() for k in os.environ.get("OCR_API_KEYS", "").split(",") if k.strip()}
        keys_file = os.environ.get("OCR_API_KEYS_FILE", "").strip()
        if keys_file:
            keys |= read_keys_file(Path(keys_file))
        preload = tuple(p.strip() for p in os.environ.get("OCR_API_PRELOAD", "").split(",") if p.strip())
        return cls(
            api_keys=frozenset(keys),
            allow_open=_env_bool("OCR_API_ALLOW_OPEN"),
            rate_limit=_env_int("OCR_API_RATE_LIMIT", 10),
            auth_fail_limit=_env_int("OCR_API_AUTH_FAIL_LIMIT", 30),
            max_body_bytes=_env_int("OCR_API_MAX_BODY_BYTES", 5 * MB, low=1),
            request_timeout_s=_env_float("OCR_API_TIMEOUT_S", 30.0),
            max_batch=_env_int("OCR_API_MAX_BATCH", 16, low=1),
            threads=_env_int("OCR_API_THREADS", 2, low=1),
            max_pending=_env_int("OCR_API_MAX_PENDING", 32, low=1),
            allow_image_url=_env_bool("OCR_API_ALLOW_IMAGE_URL"),
            url_max_bytes=_env_int("OCR_API_URL_MAX_BYTES", 5 * MB, low=1),
            url_timeout_s=_env_float("OCR_API_URL_TIMEOUT_S", 5.0),
            fetch_threads=_env_int("OCR_API_FETCH_THREADS", 4, low=1),
            header_timeout_s=_env_float("OCR_API_HEADER_TIMEOUT_S", 10.0),
            body_timeout_s=_env_float("OCR_API_BODY_TIMEOUT_S", 30.0),
            preload=preload,
        )

    def with_keys(self, keys: frozenset[str]) -> ApiSettings:
        """A copy with more accepted keys."""
        return replace(self, api_keys=self.api_keys | keys)

    def check_exposure(self, host: str) -> str | None:
        """Refuse an open server on a reachable address; return a warning for an open loopback one."""
        if self.api_keys:
            return None
        if is_loopback_host(host):
            return f"no API keys configured: the API on {host} is open to every local process"
        if not self.allow_open:
            raise ApiConfigError(
                f"no API keys configured and {host!r} is not a loopback address: set OCR_API_KEYS "
                "or --api-keys-file, or pass --allow-open to serve without authentication"
            )
        return f"no API keys configured: the API on {host} is open to anyone who can reach it (--allow-open)"
