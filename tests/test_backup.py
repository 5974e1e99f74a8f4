"""Backups: PostgreSQL -> archive -> a fresh PostgreSQL or SQLite instance, checksums enforced."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import sqlite3
import tarfile
import uuid

import httpx
import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from api import migrations
from api.backup import BackupError, backup, restore
from api.cli import app as cli
from api.config import Settings
from api.db import create_engine, create_sessionmaker
from api.main import create_app
from api.storage import LocalStorage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


async def _instance(url: str, tmp_path, name: str):
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(
        data_dir=tmp_path / name, database_url=url, secret_key="k" * 40, spa_dir=tmp_path / "none"
    )
    application = create_app(settings)
    application.state.engine = create_engine(url)
    application.state.sessionmaker = create_sessionmaker(application.state.engine)
    application.state.storage = LocalStorage(tmp_path / name / "blobs")
    return application


def _client(application) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://t/api/v1"
    )


async def _fill(application) -> None:
    async with _client(application) as c:
        await c.post(
            "/auth/register",
            json={"email": "a@example.com", "password": "long-enough", "full_name": "Zoë"},
        )
        token = (
            await c.post(
                "/auth/token", data={"username": "a@example.com", "password": "long-enough"}
            )
        ).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        await c.post("/projects", json={"key": "WEB", "name": "Web"}, headers=h)
        bug = (
            await c.post(
                "/projects/WEB/bugs", json={"title": "Crash ✓", "labels": ["ui"]}, headers=h
            )
        ).json()
        await c.post(f"/bugs/{bug['id']}/comments", json={"body": "seen"}, headers=h)
        r = await c.post(
            f"/bugs/{bug['id']}/attachments", files={"file": ("s.png", PNG, "image/png")}, headers=h
        )
        assert r.status_code == 201


def _pg_url(pg_cluster) -> str:
    name = f"b_{uuid.uuid4().hex[:10]}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    return pg_cluster.url(name)


@pytest.mark.parametrize("target", ["postgresql", "sqlite"])
async def test_backup_restores_into_a_fresh_instance(pg_cluster, tmp_path, target):
    source = await _instance(_pg_url(pg_cluster), tmp_path, "source")
    await _fill(source)
    archive = tmp_path / "backup.tar.gz"
    with archive.open("wb") as fh:
        manifest = await backup(source.state.engine, source.state.storage, fh)
    assert (
        manifest["tables"]["bug"] == 1 and manifest["blobs"] == 1 and not manifest["missing_blobs"]
    )

    url = (
        _pg_url(pg_cluster)
        if target == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    )
    restored = await _instance(url, tmp_path, "restored")
    await restore(restored.state.engine, restored.state.storage, archive)
    async with _client(restored) as c:
        token = (
            await c.post(
                "/auth/token", data={"username": "a@example.com", "password": "long-enough"}
            )
        ).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        bug = (await c.get("/bugs/WEB-1", headers=h)).json()
        assert bug["title"] == "Crash ✓" and bug["labels"] == ["ui"]
        attachments = (await c.get("/bugs/WEB-1/attachments", headers=h)).json()
        download = await c.get(attachments[0]["download_url"].removeprefix("/api/v1"), headers=h)
        assert download.content == PNG
        activity = (await c.get("/bugs/WEB-1/activity", headers=h)).json()["items"]
        assert [a["field"] for a in activity][:1] == ["created"]
        # New rows continue after the restored ids (sequences were moved on).
        new = await c.post("/projects/WEB/bugs", json={"title": "after restore"}, headers=h)
        assert new.status_code == 201 and new.json()["key"] == "WEB-2"
    with pytest.raises(BackupError, match="empty instance"):
        await restore(restored.state.engine, restored.state.storage, archive)
    for application in (source, restored):
        await application.state.engine.dispose()


async def test_a_damaged_archive_is_refused(pg_cluster, tmp_path):
    source = await _instance(_pg_url(pg_cluster), tmp_path, "source")
    await _fill(source)
    buffer = io.BytesIO()
    await backup(source.state.engine, source.state.storage, buffer)
    buffer.seek(0)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(fileobj=buffer, mode="r:gz") as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "tables/bug.jsonl":
                data = data.replace(b"Crash", b"Trash")
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    target = await _instance(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path, "target")
    with pytest.raises(BackupError, match="checksum"):
        await restore(target.state.engine, target.state.storage, damaged)
    not_backup = tmp_path / "x.tar.gz"
    not_backup.write_bytes(gzip.compress(b"nope"))
    with pytest.raises((BackupError, tarfile.TarError)):
        await restore(target.state.engine, target.state.storage, not_backup)
    for application in (source, target):
        await application.state.engine.dispose()


async def test_sqlite_backup_reads_every_table_in_one_snapshot(tmp_path):
    path = tmp_path / "live.db"
    source = await _instance(f"sqlite+aiosqlite:///{path}", tmp_path, "source")
    await _fill(source)
    writer = sqlite3.connect(path)
    written = []

    def write_between_tables(conn, cursor, statement, parameters, context, executemany):
        # Another connection commits a change once the first table has been read and before
        # the project table is: a snapshot taken before it must not see it.
        if "FROM expense_category" in statement and not written:
            writer.execute("UPDATE project SET name = 'Renamed mid-backup'")
            writer.commit()
            written.append(True)

    event.listen(source.state.engine.sync_engine, "before_cursor_execute", write_between_tables)
    buffer = io.BytesIO()
    await backup(source.state.engine, source.state.storage, buffer)
    assert written
    assert writer.execute("SELECT name FROM project").fetchone() == ("Renamed mid-backup",)
    writer.close()
    buffer.seek(0)
    with tarfile.open(fileobj=buffer, mode="r:gz") as tar:
        projects = tar.extractfile("tables/project.jsonl").read().splitlines()  # type: ignore[union-attr]
    assert [json.loads(line)["name"] for line in projects] == ["Web"]
    await source.state.engine.dispose()


def test_cli_backup_to_storage_and_restore(tmp_path, monkeypatch):
    from api.config import get_settings

    runner = CliRunner()
    monkeypatch.setenv("NIMBUS_DATA_DIR", str(tmp_path / "one"))
    get_settings.cache_clear()
    try:
        assert runner.invoke(cli, ["migrate"]).exit_code == 0
        r = runner.invoke(
            cli,
            [
                "create-admin",
                "--email",
                "r@example.com",
                "--full-name",
                "R",
                "--password",
                "long-enough",
            ],
        )
        assert r.exit_code == 0
        r = runner.invoke(cli, ["backup"])
        assert r.exit_code == 0, r.output
        assert "storage:backups/" in r.output
        stored = r.output.split("storage:")[1].split(":")[0]
        file_out = tmp_path / "copy.tar.gz"
        assert runner.invoke(cli, ["backup", "-o", str(file_out)]).exit_code == 0
        monkeypatch.setenv("NIMBUS_DATA_DIR", str(tmp_path / "two"))
        get_settings.cache_clear()
        assert runner.invoke(cli, ["migrate"]).exit_code == 0
        r = runner.invoke(cli, ["restore", str(file_out)])
        assert r.exit_code == 0, r.output
        assert "restored" in r.output
        again = runner.invoke(cli, ["restore", str(file_out)])
        assert again.exit_code == 1 and "empty instance" in again.output
        assert (tmp_path / "one" / "blobs" / stored).exists()
    finally:
        get_settings.cache_clear()
