"""The built SPA is served at / with deep links, without shadowing API errors."""

from __future__ import annotations

import httpx

from api.config import Settings
from api.main import create_app


async def test_spa_deep_links_and_api_404s(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    app = create_app(Settings(data_dir=tmp_path, spa_dir=dist))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert "root" in (await c.get("/")).text
        assert "root" in (await c.get("/projects/WEB/bugs")).text
        assert (await c.get("/assets/app.js")).text == "console.log(1)"
        missing_asset = await c.get("/assets/missing.js")
        assert missing_asset.status_code == 404
        api = await c.get("/api/v1/nothing-here")
        assert api.status_code == 404
        assert api.headers["content-type"] == "application/problem+json"
        post = await c.post("/projects")
        assert post.status_code == 405
