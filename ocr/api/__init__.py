"""The REST API (FastAPI): `create_app(settings)`, served by `serve(...)` / `python -m ocr serve`."""

from ocr.api.settings import ApiConfigError, ApiSettings

__all__ = ["ApiConfigError", "ApiSettings"]
