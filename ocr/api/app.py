"""The FastAPI application: routes, error envelope, auth + rate limit, recognition off the event loop."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ocr.api.auth import KeyRing
from ocr.api.bodylimit import BodySizeLimitMiddleware
from ocr.api.docs import add_offline_docs
from ocr.api.ratelimit import SlidingWindowLimiter
from ocr.api.schemas import (
    BatchJsonRequest,
    BatchResponse,
    EngineOut,
    EnginesResponse,
    ErrorResponse,
    HealthResponse,
    Hypothesis,
    OcrJsonRequest,
    OcrOptions,
    OcrResponse,
    OcrResult,
    multipart_schema,
)
from ocr.api.settings import ApiSettings
from ocr.api.urlfetch import UrlFetcher, UrlRefused
from ocr.errors import EngineUnavailable, ImageError, OCRError, UnknownEngine

__all__ = ["ApiError", "create_app", "create_app_from_env"]

log = logging.getLogger("ocr.api")
T = TypeVar("T")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 406: "not_acceptable", 408: "request_timeout", 413: "payload_too_large",
          415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
          500: "internal_error", 503: "unavailable", 504: "timeout"}


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code, rendered as the error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message, headers)
        self.code = code


def _envelope(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"status": "error", "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class _Input:
    """One image to recognize: encoded bytes, or a URL to fetch in the worker thread."""

    data: bytes | None = None
    url: str | None = None


@dataclass
class ApiState:
    """Per-worker state: settings, keys, limiter, the recognition pool and engine facts."""

    settings: ApiSettings
    keys: KeyRing
    limiter: SlidingWindowLimiter | None
    auth_failures: SlidingWindowLimiter | None
    fetcher: UrlFetcher
    pool: ThreadPoolExecutor | None = None
    fetch_pool: ThreadPoolExecutor | None = None
    trim_due: bool = False  # a request decoded big images since the last malloc_trim
    pending: int = 0
    default_engine: str | None = None
    default_reason: str = ""
    engine_rows: list[EngineOut] | None = None
    engine_rows_key: object = None  # the user-models folder's state the rows were made for
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the recognition pool within the request time limit.

        Queued plus running jobs are capped (503 when full); a job abandoned at the time limit
        keeps its slot until it really ends, so timeouts cannot pile up unbounded work.
        """
        s = self.settings
        message = f"recognition took longer than {s.request_timeout_s:g} s"
        return await self._submit(self.pool, s.request_timeout_s, message, fn, *args)

    async def fetch(self, url: str) -> bytes:
        """Fetch an `image_url` on its own pool, so slow remote servers never occupy recognition
        threads; the fetcher's one deadline ends the fetch (this wait allows one second more)."""
        s = self.settings
        message = f"fetching the URL took longer than {s.url_timeout_s:g} s"
        return await self._submit(self.fetch_pool, s.url_timeout_s + 1.0, message, self.fetcher.fetch, url)

    async def _submit(self, pool: ThreadPoolExecutor | None, limit_s: float, message: str,
                      fn: Callable[..., T], *args: Any) -> T:
        if pool is None or self.loop is None:
            raise ApiError(503, "unavailable", "the server is starting or stopping")
        if self.pending >= self.settings.max_pending:
            raise ApiError(503, "busy", "too many requests in progress; retry shortly", {"Retry-After": "1"})
        self.pending += 1
        loop = self.loop

        def release(_: object) -> None:
            loop.call_soon_threadsafe(self._release)

        future = pool.submit(fn, *args)
        future.add_done_callback(release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), limit_s)
        except TimeoutError:
            future.cancel()
            raise ApiError(504, "timeout", message) from None

    def _release(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self.trim_due and self.pool is not None:
            # the last of overlapping big requests is done: hand back what they all freed
            from ocr.api.memory import release_free_memory

            self.trim_due = False
            self.pool.submit(release_free_memory)


def _state(request: Request) -> ApiState:
    return request.app.state.api


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="one of the keys configured with OCR_API_KEYS / --api-keys-file")


async def guard(request: Request, api_key: str | None = Depends(_api_key_header)) -> str:
    """Authenticate (X-API-Key) and apply the per-key rate limit; returns the bucket name.

    A client address with too many failed authentications in the window is locked out before
    its key is looked at: during the lockout every key, the right one included, gets the same
    429, so guesses teach nothing until it ends.
    """
    st = _state(request)
    client = "ip:" + (request.client.host if request.client else "unknown")
    if st.keys:
        if st.auth_failures is not None:
            wait = st.auth_failures.blocked(client)
            if wait > 0:
                raise ApiError(429, "rate_limited", "too many failed authentications from this address",
                               {"Retry-After": SlidingWindowLimiter.retry_after(wait)})
        bucket = st.keys.match(api_key) if api_key else None
        if bucket is None:
            if st.auth_failures is not None:
                st.auth_failures.hit(client)
            if not api_key:
                raise ApiError(401, "missing_api_key", "send an API key in the X-API-Key header",
                               {"WWW-Authenticate": "ApiKey"})
            raise ApiError(401, "invalid_api_key", "the API key is not valid", {"WWW-Authenticate": "ApiKey"})
    else:
        bucket = client
    if st.limiter is not None:
        wait = st.limiter.hit(bucket)
        if wait > 0:
            raise ApiError(429, "rate_limited",
                           f"rate limit of {st.limiter.limit} requests per minute exceeded",
                           {"Retry-After": SlidingWindowLimiter.retry_after(wait)})
    return bucket


# ---------------------------------------------------------------- the work done in the pool


def _decoder_config(opts: OcrOptions):  # -> ocr.decoding.DecoderConfig
    from ocr.decoding import DecoderConfig

    base = DecoderConfig()
    greedy = opts.decoder == "greedy" and not opts.lm
    return DecoderConfig.from_options(
        opts.decoder, lm=opts.lm, beam_width=opts.beam_width,
        nbest=base.nbest if greedy else max(opts.nbest, base.nbest),
        lm_weight=opts.lm_weight, length_bonus=opts.length_bonus,
    )


def _recognize(st: ApiState, inputs: list[_Input], opts: OcrOptions, engine_name: str) -> list[OcrResult]:
    """Fetch/decode the images, run the engine once over all of them, shape the results."""
    from ocr.api.memory import TRIM_AFTER_BYTES, release_free_memory
    from ocr.engines.registry import load_engine
    from ocr.imageio import load_image, max_decode_bytes, max_pixels_limit
    from ocr.pipeline import recognize_batch

    t0 = time.perf_counter()
    images: list[np.ndarray] = []
    # the library's decompression-bomb limits, for the whole request: pixels, and decode memory (the
    # images already decoded stay in memory while the next one decodes)
    budget, byte_budget = max_pixels_limit(), max_decode_bytes()
    for i, item in enumerate(inputs):
        data = item.data if item.url is None else st.fetcher.fetch(item.url)
        if budget < 1:
            raise ImageError(f"image {i + 1}: the batch already holds {max_pixels_limit()} pixels, the limit")
        try:
            images.append(load_image(data or b"", max_pixels=budget, max_bytes=byte_budget))
        except ImageError as exc:
            prefix = f"image {i + 1}: " if len(inputs) > 1 else ""
            raise ImageError(prefix + str(exc)) from None
        budget -= images[-1].shape[0] * images[-1].shape[1]
        byte_budget -= images[-1].nbytes
    engine = load_engine(engine_name)
    recs = recognize_batch(images, engine, _decoder_config(opts))
    elapsed = (time.perf_counter() - t0) * 1000 / max(len(inputs), 1)
    out = []
    for rec in recs:
        chars = rec.best.chars(rec.charset) if (rec.best is not None and opts.chars) else []
        nbest = None
        if opts.nbest > 0:
            nbest = [Hypothesis(text=d.text, score=round(float(d.score), 4)) for d in rec.nbest[: opts.nbest]]
        out.append(OcrResult(text=rec.text, chars=chars, nbest=nbest, engine=rec.engine,  # type: ignore[arg-type]
                             decoder=rec.decoder, elapsed_time=round(elapsed, 2)))
    if max_decode_bytes() - byte_budget >= TRIM_AFTER_BYTES:  # big images: give their memory back now
        del recs, images
        release_free_memory()
        st.trim_due = True  # and once more when no request is running (overlapping ones free later)
    return out


def _engine_rows() -> tuple[list[EngineOut], str | None, str]:
    from ocr.engines.registry import ENGINES, available, default_engine

    rows = []
    for name, info in ENGINES.items():
        ok, reason = available(name)
        rows.append(EngineOut(name=name, title=info.title, available=ok, reason=reason, ctc=info.has_ctc,
                              summary=info.summary))
    try:
        return rows, default_engine(), ""
    except EngineUnavailable as exc:
        return rows, None, str(exc)


# ---------------------------------------------------------------- request parsing


def _b64(value: str, what: str) -> bytes:
    if value.startswith("data:"):
        head, sep, value = value.partition(",")
        if not sep or not head.endswith(";base64"):
            raise ApiError(400, "invalid_base64", f"{what}: a data: URL must be base64 (data:...;base64,...)")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", f"{what} is not valid base64") from None


def _validation_message(exc: ValidationError | RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def _parse_model(model: type[T], raw: bytes | dict[str, Any]) -> T:
    try:
        if isinstance(raw, bytes):
            return model.model_validate_json(raw)  # type: ignore[attr-defined]
        return model.model_validate(raw)  # type: ignore[attr-defined]
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
        raise ApiError(422, "validation_error", _validation_message(exc)) from None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_form(request: Request, max_files: int) -> tuple[dict[str, str], dict[str, list[UploadFile]]]:
    form = await request.form(max_files=max_files, max_fields=32, max_part_size=64 * 1024)
    fields: dict[str, str] = {}
    files: dict[str, list[UploadFile]] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            files.setdefault(name, []).append(value)
        elif name in fields:
            raise ApiError(422, "validation_error", f"{name}: given more than once")
        else:
            fields[name] = value
    return fields, files


def _unsupported(request: Request) -> ApiError:
    return ApiError(415, "unsupported_media_type",
                    f"send multipart/form-data or application/json, not {_media_type(request) or 'nothing'}")


def _options_from_form(fields: dict[str, str], extra_allowed: set[str]) -> OcrOptions:
    unknown = set(fields) - set(OcrOptions.model_fields) - extra_allowed
    if unknown:
        raise ApiError(422, "validation_error", f"unknown field(s): {', '.join(sorted(unknown))}")
    return _parse_model(OcrOptions, {k: v for k, v in fields.items() if k in OcrOptions.model_fields})


def _engine_for(st: ApiState, opts: OcrOptions) -> str:
    if opts.engine is not None:
        return opts.engine
    if st.default_engine is None:
        raise ApiError(503, "no_engine", st.default_reason or "no engine is available on this server")
    return st.default_engine


# ---------------------------------------------------------------- the app


def _body_doc(json_model: type, file_field: str, many: bool) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": json_model.model_json_schema()},  # type: ignore[attr-defined]
        "multipart/form-data": {"schema": multipart_schema(file_field, many)},
    }}}


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _CODES.get(s, "error")} for s in statuses}


def create_app(settings: ApiSettings | None = None, fetcher: UrlFetcher | None = None) -> FastAPI:
    """The API application for `settings` (default: from the environment).

    fetcher: the `image_url` fetcher (tests inject a resolver/connector); default from settings.
    """
    s = settings or ApiSettings.from_env()
    st = ApiState(
        settings=s,
        keys=KeyRing(s.api_keys),
        limiter=SlidingWindowLimiter(s.rate_limit) if s.rate_limit > 0 else None,
        auth_failures=SlidingWindowLimiter(s.auth_fail_limit) if s.auth_fail_limit > 0 else None,
        fetcher=fetcher or UrlFetcher(max_bytes=s.url_max_bytes, timeout_s=s.url_timeout_s),
    )
    # a fetcher injected by tests may carry its own deadline: the wait for a fetch follows it
    s = replace(s, url_timeout_s=st.fetcher.timeout_s)
    st.settings = s

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st.loop = asyncio.get_running_loop()
        st.pool = ThreadPoolExecutor(max_workers=s.threads, thread_name_prefix="ocr-api")
        st.fetch_pool = ThreadPoolExecutor(max_workers=s.fetch_threads, thread_name_prefix="ocr-api-fetch")
        try:
            rows, default, reason = await st.loop.run_in_executor(st.pool, _engine_rows)
            st.engine_rows, st.default_engine, st.default_reason = rows, default, reason
            from ocr.engines.registry import load_engine

            for name in s.preload or ((default,) if default else ()):
                try:
                    await st.loop.run_in_executor(st.pool, load_engine, name)
                    log.info("engine %s loaded", name)
                except OCRError as exc:
                    log.warning("engine %s not preloaded: %s", name, exc)
            if not st.keys:
                log.warning("no API keys configured: the API accepts requests without a key")
            yield
        finally:
            st.pool.shutdown(wait=False, cancel_futures=True)
            st.fetch_pool.shutdown(wait=False, cancel_futures=True)
            st.pool = st.fetch_pool = None

    app = FastAPI(
        title="OCR Studio API",
        version="1",
        summary="Chinese text-line OCR: engines, CTC decoders, per-character confidences.",
        lifespan=lifespan,
        responses=_error_responses(422, 500),
        docs_url=None,  # served below from the swagger-ui-bundle package, not a CDN
        redoc_url=None,  # ReDoc loads from a CDN: /openapi.json and /docs are the offline contract
    )
    app.state.api = st
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=s.max_body_bytes, body_timeout_s=s.body_timeout_s)
    add_offline_docs(app)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # an aborted upload is the client's doing: one line, no traceback, not an ERROR
        log.info("client disconnected before sending the whole request: %s %s", request.method,
                 request.url.path)
        return _envelope(400, "client_disconnected", "the client disconnected during the request")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        return _envelope(exc.status_code, code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _envelope(422, "validation_error", _validation_message(exc))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _envelope(500, "internal_error", "internal server error")

    def _map_errors(exc: Exception) -> ApiError:
        if isinstance(exc, UrlRefused):
            return ApiError(400, "url_refused", str(exc))
        if isinstance(exc, ImageError):
            return ApiError(400, "invalid_image", str(exc))
        if isinstance(exc, UnknownEngine):
            return ApiError(422, "unknown_engine", str(exc))
        if isinstance(exc, EngineUnavailable):
            return ApiError(400, "engine_unavailable", str(exc))
        return ApiError(400, "ocr_error", str(exc))

    async def _run(inputs: list[_Input], opts: OcrOptions) -> tuple[list[OcrResult], float]:
        name = _engine_for(st, opts)
        t0 = time.perf_counter()
        try:
            for item in inputs:
                if item.url is not None:
                    item.data, item.url = await st.fetch(item.url), None
            results = await st.run(_recognize, st, inputs, opts, name)
        except OCRError as exc:
            raise _map_errors(exc) from None
        return results, (time.perf_counter() - t0) * 1000

    @app.get("/healthz", response_model=HealthResponse, tags=["meta"])
    async def healthz() -> HealthResponse:
        """Liveness: the server answers (no key needed)."""
        return HealthResponse(max_batch=s.max_batch, max_body_bytes=s.max_body_bytes,
                              image_url=s.allow_image_url)

    secured = [Depends(guard)]
    auth_errors = _error_responses(401, 429)

    @app.get("/api/v1/engines", response_model=EnginesResponse, tags=["ocr"], dependencies=secured,
             responses=auth_errors)
    async def engines(request: Request) -> EnginesResponse:
        """Registered engines, whether each can run here (and why not), and the default."""
        from ocr.engines.user import user_models_signature

        key = user_models_signature()  # a fine-tune finished since: list it at once
        if st.engine_rows is None or key != st.engine_rows_key:
            rows, default, reason = await st.run(_engine_rows)
            st.engine_rows, st.default_engine, st.default_reason = rows, default, reason
            st.engine_rows_key = key
        return EnginesResponse(default=st.default_engine, engines=st.engine_rows)

    ocr_errors = _error_responses(400, 401, 413, 415, 422, 429, 503, 504)

    @app.post("/api/v1/ocr", response_model=OcrResponse, response_model_exclude_none=True, tags=["ocr"],
              dependencies=secured, responses=ocr_errors,
              openapi_extra=_body_doc(OcrJsonRequest, "image", many=False))
    async def ocr(request: Request) -> OcrResponse:
        """Recognize one text-line image: multipart (`image` file + option fields) or JSON (base64)."""
        media = _media_type(request)
        if media == "application/json":
            req = _parse_model(OcrJsonRequest, await request.body())
            opts = req.options()
            if req.image_url is not None:
                item = _Input(url=req.image_url)
            else:
                item = _Input(_b64(req.image or "", "image"))
        elif media == "multipart/form-data":
            fields, files = await _read_form(request, max_files=1)
            url = fields.pop("image_url", None)
            if set(files) - {"image"}:
                raise ApiError(422, "validation_error", "the file field must be named `image`")
            opts = _options_from_form(fields, set())
            if ("image" in files) == (url is not None):
                raise ApiError(422, "validation_error", "give exactly one of `image` and `image_url`")
            item = _Input(url=url) if url is not None else _Input(await files["image"][0].read())
        else:
            raise _unsupported(request)
        if item.url is not None and not s.allow_image_url:
            raise ApiError(400, "image_url_disabled", "image_url is disabled on this server; send the image")
        results, elapsed = await _run([item], opts)
        r = results[0]
        return OcrResponse(**r.model_dump(exclude={"elapsed_time"}), elapsed_time=round(elapsed, 2))

    @app.post("/api/v1/ocr/batch", response_model=BatchResponse, response_model_exclude_none=True,
              tags=["ocr"], dependencies=secured, responses=ocr_errors,
              openapi_extra=_body_doc(BatchJsonRequest, "images", many=True))
    async def ocr_batch(request: Request) -> BatchResponse:
        """Recognize several images (at most max_batch) with one batched model call."""
        media = _media_type(request)
        if media == "application/json":
            req = _parse_model(BatchJsonRequest, await request.body())
            if len(req.images) > s.max_batch:
                raise ApiError(422, "too_many_images", f"at most {s.max_batch} images per batch")
            opts = req.options()
            items = [_Input(_b64(img, f"images[{i}]")) for i, img in enumerate(req.images)]
        elif media == "multipart/form-data":
            fields, files = await _read_form(request, max_files=s.max_batch + 1)
            if set(files) - {"images"} or not files:
                raise ApiError(422, "validation_error", "send the files in fields named `images`")
            if len(files["images"]) > s.max_batch:
                raise ApiError(422, "too_many_images", f"at most {s.max_batch} images per batch")
            opts = _options_from_form(fields, set())
            items = [_Input(await f.read()) for f in files["images"]]
        else:
            raise _unsupported(request)
        results, elapsed = await _run(items, opts)
        engine = results[0].engine if results else _engine_for(st, opts)
        return BatchResponse(results=results, engine=engine, decoder=results[0].decoder if results else "",
                             elapsed_time=round(elapsed, 2))

    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` with several workers: settings from OCR_API_* variables."""
    return create_app(ApiSettings.from_env())
