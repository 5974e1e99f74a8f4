"""The storage contract, on the local directory and on a real S3 server (SeaweedFS)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from api.storage import BlobNotFound, LocalStorage, StorageUnavailable
from api.storage.backends import CHUNK, PART


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "blobs")
    return request.getfixturevalue("s3_storage")


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


async def read_all(storage, key: str) -> bytes:
    return b"".join([c async for c in storage.get(key)])


async def test_round_trip_and_delete(storage):
    await storage.check()
    size = await storage.put("a/one", stream(b"hello world"), "text/plain")
    assert size == 11
    assert await read_all(storage, "a/one") == b"hello world"
    await storage.delete("a/one")
    with pytest.raises(BlobNotFound):
        await read_all(storage, "a/one")
    await storage.delete("a/one")  # deleting twice is fine


async def test_large_upload_streams_in_parts(storage):
    data = os.urandom(PART * 2 + 12345)  # three multipart parts on S3
    assert await storage.put("big", stream(data, 1024 * 1024), "application/octet-stream") == len(
        data
    )
    got = hashlib.sha256()
    async for chunk in storage.get("big"):
        got.update(chunk)
    assert got.hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (0, 9), (10, None), (CHUNK - 1, CHUNK + 1), (3 * CHUNK - 5, 3 * CHUNK - 1)],
)
async def test_ranged_reads_stream_exactly_those_bytes(storage, start, end):
    data = os.urandom(3 * CHUNK)  # several chunks, so a range can straddle two
    await storage.put("ranged", stream(data), "application/octet-stream")
    got = b"".join([c async for c in storage.get("ranged", start, end)])
    assert got == data[start : None if end is None else end + 1]


async def test_a_failed_upload_leaves_nothing(storage):
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(PART + 1)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await storage.put("half", broken(), "application/octet-stream")
    with pytest.raises(BlobNotFound):
        await read_all(storage, "half")


async def test_presigned_urls_on_s3_only(storage):
    await storage.put("doc", stream(b"%PDF-1.4 test"), "application/pdf")
    url = await storage.presigned_url("doc", "report é.pdf", "application/pdf", 60)
    if storage.name == "local":
        assert url is None
        return
    async with httpx.AsyncClient() as client:
        r = await client.get(url)
    assert r.status_code == 200 and r.content == b"%PDF-1.4 test"
    assert "report" in r.headers["content-disposition"]


async def test_local_keys_cannot_escape_the_root(tmp_path):
    storage = LocalStorage(tmp_path / "blobs")
    with pytest.raises(ValueError, match="escapes"):
        await storage.put("../outside", stream(b"x"), "text/plain")


async def test_unreachable_storage_is_reported(tmp_path, seaweed):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageUnavailable):
        await LocalStorage(blocker / "blobs").check()
    from api.storage import S3Storage

    missing = S3Storage(
        "no-such-bucket", endpoint_url=seaweed.endpoint_url, access_key="x", secret_key="y"
    )
    with pytest.raises(StorageUnavailable):
        await missing.check()
    await missing.close()
