"""The API's documentation pages, served with no request leaving the machine.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI, ReDoc, a favicon and Google Fonts from CDNs, so they
are blank offline. This follows FastAPI's offline-docs recipe instead: the assets come from the
``fastapi-offline`` package (only its ``static/`` folder is used) and are served under ``/docs-assets``.
Two more things would still reach out, and are stopped: Swagger UI's validator badge (``validatorUrl``
off) and the Redocly logo ReDoc shows from its CDN (its URL is replaced in the served bundle). A
Content-Security-Policy on both pages keeps the browser from asking any other host.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "add_offline_docs", "assets_dir"]

ASSETS_URL = "/docs-assets"
# Only what this server serves; inline code and styles are the pages' own, ReDoc runs a worker from a blob.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"


def assets_dir() -> Path:
    """The folder with Swagger UI's and ReDoc's bundles, Swagger UI's CSS and a favicon."""
    return Path(str(files("fastapi_offline") / "static"))


@cache
def redoc_bundle() -> bytes:
    """ReDoc's bundle with its CDN logo replaced by an empty image."""
    return (assets_dir() / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO.encode(), NO_IMAGE.encode())


def add_offline_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url`` from local assets.

    The app must be created with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off).

    Example:
        >>> app = FastAPI(docs_url=None, redoc_url=None)
        >>> add_offline_docs(app)
    """
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{docs_url}/oauth2-redirect"

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)  # before the mount: it wins
    def redoc_js() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript")

    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = CSP
        return page

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CSP
        return page
