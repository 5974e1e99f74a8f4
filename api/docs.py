"""`/docs` (Swagger UI) served from this server, with no inline script.

FastAPI's pages load their scripts from a CDN and start Swagger UI with an inline script, which
a Content-Security-Policy without 'unsafe-inline' refuses. The assets come from the
fastapi-offline package instead; the start-up code is a script of our own, served here.
There is no `/redoc`: FastAPI's loads from a CDN and Google Fonts, and ReDoc's own page fetches
its logo from redocly's CDN.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

DOCS_PATHS = ("/docs",)
"""Pages whose Content-Security-Policy is the docs' own (`api.middleware.DOCS_CSP`)."""
ASSETS = "/docs/assets"

_SWAGGER_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nimbus API - Swagger UI</title>
<link rel="icon" href="{ASSETS}/favicon.png">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""

_SWAGGER_START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def assets_dir() -> Path:
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Create the app with ``docs_url=None, redoc_url=None`` and call this instead."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_SWAGGER_HTML)

    @app.get("/docs/start.js", include_in_schema=False)
    async def swagger_ui_start() -> Response:
        return Response(_SWAGGER_START, media_type="text/javascript")

    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
