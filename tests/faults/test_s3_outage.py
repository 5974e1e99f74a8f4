"""The S3 server killed (SeaweedFS, SIGKILL) and brought back: uploads and downloads answer a
clear 503 problem+json meanwhile, nothing is half-written (no attachment row without its blob),
and both work again once S3 is back — without restarting the API."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from api.models import Attachment
from api.storage import S3Storage
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, start_seaweed

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


async def test_s3_outage_is_a_clean_503_and_nothing_is_half_written(
    client, app, db, admin, developer, tester
):
    s3 = await asyncio.to_thread(start_seaweed)  # our own server: the test kills it
    storage = S3Storage(
        f"outage-{uuid.uuid4().hex[:8]}",
        endpoint_url=s3.endpoint_url,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
    )
    try:
        await (await storage._s3()).create_bucket(Bucket=storage.bucket)
        app.state.storage = storage
        await make_project(client, admin, developer, tester)
        bug = await make_bug(client, tester)
        headers = auth_headers(tester)

        async def upload(name):
            return await client.post(
                f"/api/v1/bugs/{bug['id']}/attachments",
                files={"file": (name, PDF, "application/pdf")},
                headers=headers,
            )

        before = await upload("before.pdf")
        assert before.status_code == 201, before.text
        download_url = before.json()["download_url"]

        await asyncio.to_thread(s3.kill)
        started = time.monotonic()
        during_upload = await upload("during.pdf")
        during_download = await client.get(download_url, headers=headers)
        answered_in_s = time.monotonic() - started
        ready = await client.get("/readyz")

        await asyncio.to_thread(s3.start)
        after = await _retry_until_created(upload, "after.pdf", deadline_s=20)
        again = await client.get(download_url, headers=headers)
        async with httpx.AsyncClient() as direct:
            fetched = (await direct.get(again.headers["location"])).content
        rows = list(await db.scalars(select(Attachment).order_by(Attachment.id)))
        blobs = {}
        for row in rows:
            got = await (await storage._s3()).get_object(Bucket=storage.bucket, Key=row.storage_key)
            blobs[row.filename] = await got["Body"].read()
    finally:
        await storage.close()
        await asyncio.to_thread(s3.stop)

    for r in (during_upload, during_download):
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "storage_unavailable"
        assert r.headers["retry-after"]
    assert answered_in_s < 15
    assert ready.status_code == 503 and ready.json()["checks"]["storage"] == "unavailable"
    assert after.status_code == 201, after.text
    assert again.status_code == 307 and fetched == PDF
    # the failed upload left no row; every row that exists has its blob
    assert [r.filename for r in rows] == ["before.pdf", "after.pdf"]
    assert blobs == {"before.pdf": PDF, "after.pdf": PDF}


async def _retry_until_created(upload, name, deadline_s):
    """S3 answers before it is ready to store: retry the 503s for a little while."""
    started = time.monotonic()
    while True:
        r = await upload(name)
        if r.status_code != 503 or time.monotonic() - started > deadline_s:
            return r
        await asyncio.sleep(0.5)
