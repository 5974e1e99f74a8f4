"""Uploads to local storage on a full disk (a 1 MiB tmpfs): a clean 507 problem+json, no partial
file left behind, no attachment row — and uploads work again once there is room."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.models import Attachment
from api.storage.backends import LocalStorage
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers

pytestmark = pytest.mark.slow


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs of our own, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a small tmpfs and needs root", pytrace=False)
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test: {mounted.stderr}", pytrace=False)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


async def test_upload_to_a_full_disk_is_507_and_leaves_nothing(
    client, app, db, admin, developer, tester, tiny_disk: Path
):
    app.state.storage = LocalStorage(tiny_disk / "blobs")
    await make_project(client, admin, developer, tester)
    bug = await make_bug(client, tester)

    async def upload(name: str, size: int):
        return await client.post(
            f"/api/v1/bugs/{bug['id']}/attachments",
            files={"file": (name, b"\x00\x01" * (size // 2), "application/octet-stream")},
            headers=auth_headers(tester),
        )

    full = await upload("too-big.bin", 2 * 1024 * 1024)
    assert full.status_code == 507, full.text
    assert full.headers["content-type"] == "application/problem+json"
    assert full.json()["code"] == "storage_full"
    assert files_under(tiny_disk) == []  # no partial file
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 0

    small = await upload("fits.bin", 64 * 1024)
    assert small.status_code == 201, small.text
    files = files_under(tiny_disk)
    assert len(files) == 1 and files[0].stat().st_size == 64 * 1024
