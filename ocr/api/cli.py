"""`python -m ocr serve`: run the API with uvicorn. `add_serve_command` plugs into ocr.cli."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import replace
from pathlib import Path

from ocr.api.settings import ApiConfigError, ApiSettings, read_keys_file

__all__ = ["add_serve_command", "build_settings", "serve"]

log = logging.getLogger("ocr.api")


def build_settings(
    api_keys_file: Path | None = None,
    allow_open: bool | None = None,
    rate_limit: int | None = None,
    max_body_bytes: int | None = None,
    timeout_s: float | None = None,
    max_batch: int | None = None,
    threads: int | None = None,
    allow_image_url: bool | None = None,
) -> ApiSettings:
    """Settings from the environment, with explicit arguments (flags) taking precedence."""
    s = ApiSettings.from_env()
    if api_keys_file is not None:
        s = s.with_keys(read_keys_file(api_keys_file))
    overrides = {
        "allow_open": allow_open, "rate_limit": rate_limit, "max_body_bytes": max_body_bytes,
        "request_timeout_s": timeout_s, "max_batch": max_batch, "threads": threads,
        "allow_image_url": allow_image_url,
    }
    changes = {k: v for k, v in overrides.items() if v is not None}
    for name in ("rate_limit", "max_body_bytes", "max_batch", "threads"):
        low = 0 if name == "rate_limit" else 1
        if name in changes and changes[name] < low:
            raise ApiConfigError(f"{name.replace('_', '-')} must be >= {low}")
    if "request_timeout_s" in changes and not changes["request_timeout_s"] > 0:
        raise ApiConfigError("timeout must be > 0")
    return replace(s, **changes)


def _export(settings: ApiSettings, api_keys_file: Path | None) -> None:
    """Hand settings to worker processes (uvicorn --workers re-creates the app from the environment)."""
    env = {
        "OCR_API_ALLOW_OPEN": "1" if settings.allow_open else "0",
        "OCR_API_RATE_LIMIT": str(settings.rate_limit),
        "OCR_API_AUTH_FAIL_LIMIT": str(settings.auth_fail_limit),
        "OCR_API_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "OCR_API_TIMEOUT_S": repr(settings.request_timeout_s),
        "OCR_API_MAX_BATCH": str(settings.max_batch),
        "OCR_API_THREADS": str(settings.threads),
        "OCR_API_ALLOW_IMAGE_URL": "1" if settings.allow_image_url else "0",
        "OCR_API_FETCH_THREADS": str(settings.fetch_threads),
        "OCR_API_BODY_TIMEOUT_S": repr(settings.body_timeout_s),
    }
    if api_keys_file is not None:
        env["OCR_API_KEYS_FILE"] = str(Path(api_keys_file).resolve())
    os.environ.update(env)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    api_keys_file: Path | None = None,
    allow_open: bool = False,
    rate_limit: int | None = None,
    max_body_bytes: int | None = None,
    timeout_s: float | None = None,
    max_batch: int | None = None,
    threads: int | None = None,
    allow_image_url: bool | None = None,
    log_level: str = "info",
) -> None:
    """Run the API until interrupted. None arguments fall back to OCR_API_* variables, then defaults.

    Raises ApiConfigError (before binding any socket) when no API keys are configured and `host`
    is not a loopback address, unless allow_open is True.
    """
    import uvicorn

    settings = build_settings(api_keys_file, allow_open or None, rate_limit, max_body_bytes, timeout_s,
                              max_batch, threads, allow_image_url)
    warning = settings.check_exposure(host)
    if workers < 1:
        raise ApiConfigError("workers must be >= 1")
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    from ocr.api.memory import large_blocks_unmapped_on_free

    large_blocks_unmapped_on_free()  # big images' memory goes back to the system (ocr/api/memory.py)
    if warning:
        log.warning(warning)
    # the protocol reads its header deadline from the environment (in every worker process)
    os.environ["OCR_API_HEADER_TIMEOUT_S"] = repr(settings.header_timeout_s)
    common = {"host": host, "port": port, "log_level": log_level, "proxy_headers": False,
              "server_header": False, "timeout_graceful_shutdown": 5, "timeout_keep_alive": 5,
              "http": "ocr.api.protocol:HeaderTimeoutH11Protocol"}
    if workers == 1:
        from ocr.api.app import create_app

        uvicorn.run(create_app(settings), **common)
    else:
        _export(settings, api_keys_file)
        uvicorn.run("ocr.api.app:create_app_from_env", factory=True, workers=workers, **common)


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        serve(host=args.host, port=args.port, workers=args.workers, api_keys_file=args.api_keys_file,
              allow_open=args.allow_open, rate_limit=args.rate_limit, max_body_bytes=args.max_body_bytes,
              timeout_s=args.timeout, max_batch=args.max_batch, threads=args.threads,
              allow_image_url=True if args.allow_image_url else None, log_level=args.log_level)
    except KeyboardInterrupt:
        return 0
    return 0


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `serve` on the CLI's subparsers; its `func` returns an exit status.

    Errors (ApiConfigError, an OCRError) propagate to the CLI's one-line `error: …` handler.
    """
    p = subparsers.add_parser("serve", help="run the REST API (FastAPI + uvicorn)",
                              description="Run the REST API. Unset options fall back to OCR_API_* variables.")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes; each loads the engines once")
    p.add_argument("--api-keys-file", type=Path, help="file with one API key per line (adds to OCR_API_KEYS)")
    p.add_argument("--allow-open", action="store_true",
                   help="serve without API keys on a non-loopback host (refused otherwise)")
    p.add_argument("--rate-limit", type=int, help="requests per minute per key; 0 = off (default 10)")
    p.add_argument("--max-body-bytes", type=int, help="request body cap in bytes (default 5 MiB)")
    p.add_argument("--timeout", type=float, help="seconds allowed for one request's recognition (default 30)")
    p.add_argument("--max-batch", type=int, help="images per batch request (default 16)")
    p.add_argument("--threads", type=int, help="recognition threads per worker (default 2)")
    p.add_argument("--allow-image-url", action="store_true",
                   help="accept image_url inputs (public http/https addresses only)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=_cmd_serve)
