"""Bug attachments: streamed upload with a size cap and content check, visibility, blob cleanup."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import func, select

from api.models import Attachment, OutboxMessage
from api.outbox import OutboxDrainer
from tests.api.attachments_helpers import PDF, PNG
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers


@pytest.fixture
async def bug(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    return await make_bug(client, tester)


async def upload(client, user, bug, name="shot.png", data=PNG, content_type="image/png"):
    return await client.post(
        f"/api/v1/bugs/{bug['id']}/attachments",
        files={"file": (name, data, content_type)},
        headers=auth_headers(user),
    )


async def test_upload_list_download(client, bug, tester, developer, app):
    r = await upload(client, tester, bug, name="../../etc/screen shot é.png")
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["filename"] == "screen shot é.png"
    assert (a["content_type"], a["size"]) == ("image/png", len(PNG))
    assert a["sha256"] == hashlib.sha256(PNG).hexdigest()
    listed = (
        await client.get(f"/api/v1/bugs/{bug['key']}/attachments", headers=auth_headers(developer))
    ).json()["items"]
    assert [x["id"] for x in listed] == [a["id"]]
    d = await client.get(a["download_url"], headers=auth_headers(developer))
    assert d.status_code == 200 and d.content == PNG
    assert d.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''screen%20shot%20%C3%A9.png" in d.headers["content-disposition"]
    assert d.headers["x-content-type-options"] == "nosniff"
    history = (
        await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(tester))
    ).json()["items"]
    assert history[-1]["field"] == "attachment" and history[-1]["new"] == "screen shot é.png"


@pytest.mark.parametrize(
    ("data", "declared", "stored"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (b"plain log line\n", "text/plain", "text/plain"),
        (PNG, "application/octet-stream", "image/png"),
        (b"just text", "", "text/plain"),
    ],
)
async def test_content_type_is_what_the_bytes_prove(client, bug, tester, data, declared, stored):
    r = await upload(client, tester, bug, name="f", data=data, content_type=declared)
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == stored


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"MZ\x90\x00 evil exe", "image/png"),
        (PNG, "application/pdf"),
        (b"\x00\x01\x02binary", "text/plain"),
    ],
)
async def test_mismatched_content_is_415_and_nothing_is_stored(
    client, bug, tester, db, data, declared, app
):
    r = await upload(client, tester, bug, data=data, content_type=declared)
    assert r.status_code == 415
    assert r.json()["code"] == "content_type_mismatch"
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 0
    blobs = app.state.storage.root
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


async def test_oversize_upload_is_413_and_leaves_no_blob(client, bug, tester, settings, db, app):
    settings.attachment_max_bytes = 1000
    r = await upload(
        client, tester, bug, name="big.txt", data=b"a" * 5000, content_type="text/plain"
    )
    assert r.status_code == 413
    assert r.json()["code"] == "file_too_large"
    r = await upload(
        client, tester, bug, name="huge.txt", data=b"a" * 200_000, content_type="text/plain"
    )
    assert r.status_code == 413  # refused from Content-Length alone
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 0
    blobs = app.state.storage.root
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


async def test_outsiders_cannot_list_or_download(client, bug, tester, make_user):
    a = (await upload(client, tester, bug)).json()
    outsider = await make_user()
    h = auth_headers(outsider)
    assert (await client.get(a["download_url"], headers=h)).status_code == 404
    assert (await client.get(f"/api/v1/bugs/{bug['id']}/attachments", headers=h)).status_code == 404
    assert (await upload(client, outsider, bug)).status_code == 404
    assert (await client.delete(f"/api/v1/attachments/{a['id']}", headers=h)).status_code == 404


async def test_deleting_an_attachment_or_its_bug_removes_the_blob_after_commit(
    client, bug, tester, admin, developer, db, app, sessionmaker
):
    first = (await upload(client, tester, bug)).json()
    second = (
        await upload(client, tester, bug, name="b.pdf", data=PDF, content_type="application/pdf")
    ).json()
    blobs = app.state.storage.root
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 2
    assert (
        await client.delete(f"/api/v1/attachments/{first['id']}", headers=auth_headers(developer))
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/attachments/{first['id']}", headers=auth_headers(tester))
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(admin))
    ).status_code == 204
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 0
    # Blobs are still there until the outbox runs: the rows went first, the bytes follow.
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 2
    drainer = OutboxDrainer(
        sessionmaker, {"blob.delete": lambda p: app.state.storage.delete(p["key"])}
    )
    assert await drainer.run_once() == 2
    assert [p for p in blobs.rglob("*") if p.is_file()] == []
    assert await db.scalar(select(func.count()).where(OutboxMessage.done_at.is_(None))) == 0
    assert second["id"]


async def test_upload_to_s3_downloads_through_a_presigned_redirect(
    client, bug, tester, app, s3_storage
):
    app.state.storage = s3_storage
    a = (
        await upload(
            client, tester, bug, name="report.pdf", data=PDF, content_type="application/pdf"
        )
    ).json()
    r = await client.get(a["download_url"], headers=auth_headers(tester))
    assert r.status_code == 307
    async with httpx.AsyncClient() as direct:
        blob = await direct.get(r.headers["location"])
    assert blob.status_code == 200 and blob.content == PDF
    assert "report.pdf" in blob.headers["content-disposition"]


async def test_s3_download_of_a_missing_blob_is_404_not_a_dead_redirect(
    client, bug, tester, app, s3_storage, db
):
    app.state.storage = s3_storage
    a = (
        await upload(client, tester, bug, name="gone.pdf", data=PDF, content_type="application/pdf")
    ).json()
    await s3_storage.delete((await db.get(Attachment, a["id"])).storage_key)
    r = await client.get(a["download_url"], headers=auth_headers(tester))
    assert r.status_code == 404
    assert r.json()["code"] == "attachment_not_found"


async def fetch(client, url: str, user, range_header: str) -> httpx.Response:
    """Download as a browser does: on S3 the API redirects to a presigned URL, and the Range
    header goes along to the S3 server."""
    r = await client.get(url, headers={**auth_headers(user), "Range": range_header})
    if r.status_code != 307:
        return r
    async with httpx.AsyncClient() as direct:
        return await direct.get(r.headers["location"], headers={"Range": range_header})


@pytest.fixture(params=["local", "s3"])
def backend(request, app) -> str:
    """The app's blob storage: the local directory, or a bucket on the real S3 server."""
    if request.param == "s3":
        app.state.storage = request.getfixturevalue("s3_storage")
    return str(request.param)


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("bytes=0-0", 206, PNG[:1]),
        ("bytes=0-3", 206, PNG[:4]),
        ("bytes=4-", 206, PNG[4:]),
        ("bytes=-5", 206, PNG[-5:]),
        ("bytes=10-9999", 206, PNG[10:]),
        ("bytes=9999-", 416, None),
        ("items=0-3", 200, PNG),
    ],
)
async def test_ranged_downloads(client, backend, bug, tester, header, status, body):
    a = (await upload(client, tester, bug)).json()
    r = await fetch(client, a["download_url"], tester, header)
    assert r.status_code == status
    if status == 416:
        assert r.headers["content-range"] == f"bytes */{len(PNG)}"
        if backend == "local":
            assert r.json()["code"] == "range_not_satisfiable"
    else:
        assert r.content == body
    if status == 206:
        assert r.headers["content-range"].endswith(f"/{len(PNG)}")


async def test_s3_down_is_a_clean_503_and_records_nothing(client, bug, tester, app, db):
    from api.storage import S3Storage
    from tests.support.postgres import free_port

    app.state.storage = S3Storage(
        "down", endpoint_url=f"http://127.0.0.1:{free_port()}", access_key="x", secret_key="y"
    )
    try:
        r = await upload(client, tester, bug)
        assert r.status_code == 503
        assert r.json()["code"] == "storage_unavailable"
        assert r.headers["retry-after"] == "10"
        assert await db.scalar(select(func.count()).select_from(Attachment)) == 0
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["storage"] == "unavailable"
    finally:
        await app.state.storage.close()
