"""Serves the built single-page app, with deep links falling back to index.html."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

API_PREFIXES = ("api/", "docs", "openapi.json", "metrics", "healthz", "readyz")


class SPAStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        # Source maps would publish the app's source; production builds make none, and one
        # left over in the directory is not served either.
        if path.startswith(API_PREFIXES) or path.endswith(".map"):
            raise HTTPException(status_code=404)
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            looks_like_file = "." in path.rsplit("/", 1)[-1]
            if exc.status_code != 404 or looks_like_file or scope["method"] not in ("GET", "HEAD"):
                raise
            return await super().get_response("index.html", scope)


def default_spa_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "frontend" / "dist"
