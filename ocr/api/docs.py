"""Swagger UI at /docs, served from the swagger-ui-bundle package (no CDN, works offline).

Without the package installed there is no /docs page; /openapi.json is the offline contract either way.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "add_offline_docs", "swagger_assets"]

ASSETS_PATH = "/docs/assets"


def swagger_assets() -> Path | None:
    """The folder holding swagger-ui-bundle.js and swagger-ui.css, or None without the package."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    folder = Path(swagger_ui_bundle.swagger_ui_path)
    ok = all((folder / name).is_file() for name in ("swagger-ui-bundle.js", "swagger-ui.css"))
    return folder if ok else None


def add_offline_docs(app: FastAPI) -> bool:
    """Add /docs (and its assets under /docs/assets) to `app` if the assets are installed; True if added."""
    folder = swagger_assets()
    if folder is None or app.openapi_url is None:
        return False
    app.mount(ASSETS_PATH, StaticFiles(directory=folder), name="swagger-assets")
    openapi_url, title = app.openapi_url, app.title

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{title} - Swagger UI",
                                   swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png")

    return True
