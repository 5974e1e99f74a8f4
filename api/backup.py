"""`nimbus backup` / `nimbus restore`: a portable, checksummed snapshot of database and blobs.

The archive is a tar.gz with
  manifest.json          format, Alembic revision, row counts, and sha256 of every member
  tables/<name>.jsonl    one JSON object per row, read in one consistent snapshot
  blobs/<key>            every blob a row refers to
It restores into an empty, migrated instance of the same schema revision, on either database
(a SQLite backup restores into PostgreSQL and back). Rows stream through; memory stays bounded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    Table,
    Uuid,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import api.models  # noqa: F401  (every table on the metadata)
from api.db import metadata
from api.storage import BlobNotFound, Storage

FORMAT = "nimbus-backup/1"
BLOB_COLUMNS = {"attachment": "storage_key"}  # tables whose rows point at blobs
SKIP_TABLES = {"login_failure"}  # transient
# Tables the migrations fill with defaults (editable by admins): a backup's rows replace them.
SEEDED_TABLES = {"expense_category"}


class BackupError(RuntimeError):
    pass


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decoder(table: Table) -> dict[str, Any]:
    decoders: dict[str, Any] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(getattr(kind, "impl", kind), DateTime):
            decoders[column.name] = datetime.fromisoformat
        elif isinstance(kind, Date):
            decoders[column.name] = date.fromisoformat
        elif isinstance(kind, Numeric):
            decoders[column.name] = Decimal
        elif isinstance(kind, LargeBinary):
            decoders[column.name] = base64.b64decode
        elif isinstance(kind, Uuid):
            decoders[column.name] = uuid.UUID
    return decoders


def _tables() -> list[Table]:
    return [t for t in metadata.sorted_tables if t.name not in SKIP_TABLES]


async def _revision(conn: AsyncConnection) -> str:
    return str(await conn.scalar(text("SELECT version_num FROM alembic_version")))


class _Archive:
    """A tar.gz being written member by member, with a sha256 for each."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.tar = tarfile.open(fileobj=fileobj, mode="w:gz")  # noqa: SIM115 - closed in finish()
        self.checksums: dict[str, dict[str, Any]] = {}

    def add_file(self, name: str, path: Path) -> None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        self.tar.add(path, arcname=name)
        self.checksums[name] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))

    def finish(self, manifest: dict[str, Any]) -> None:
        manifest["members"] = self.checksums
        self.add_bytes("manifest.json", json.dumps(manifest, indent=2).encode())
        self.tar.close()


async def backup(engine: AsyncEngine, storage: Storage, out: IO[bytes]) -> dict[str, Any]:
    """Write a backup to `out`; returns the manifest."""
    archive = _Archive(out)
    counts: dict[str, int] = {}
    blob_keys: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            async with conn.begin():  # one snapshot for every table
                if conn.dialect.name == "sqlite":
                    # pysqlite issues BEGIN only before writes, so each SELECT would read its own
                    # snapshot. An explicit (deferred) BEGIN makes the first read fix the snapshot
                    # for all of them, and in WAL mode writers are not held up meanwhile.
                    await conn.exec_driver_sql("BEGIN")
                revision = await _revision(conn)
                next_ids = await _next_ids(conn)
                for table in _tables():
                    path = Path(tmp) / f"{table.name}.jsonl"
                    counts[table.name] = await _dump_table(conn, table, path, blob_keys)
                    archive.add_file(f"tables/{table.name}.jsonl", path)
        missing = []
        for key in blob_keys:
            path = Path(tmp) / "blob"
            try:
                with path.open("wb") as fh:
                    async for chunk in storage.get(key):
                        fh.write(chunk)
            except BlobNotFound:
                missing.append(key)
                continue
            archive.add_file(f"blobs/{key}", path)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now().astimezone().isoformat(),
        "database": engine.dialect.name,
        "revision": revision,
        "tables": counts,
        "next_ids": next_ids,
        "blobs": len(blob_keys) - len(missing),
        "missing_blobs": missing,
    }
    archive.finish(manifest)
    return manifest


async def _dump_table(conn: AsyncConnection, table: Table, path: Path, blob_keys: list[str]) -> int:
    count = 0
    key_column = BLOB_COLUMNS.get(table.name)
    order = list(table.primary_key.columns)
    result = await conn.stream(select(table).order_by(*order))
    with path.open("w", encoding="utf-8") as fh:
        async for row in result.mappings():
            record = {k: _encode(v) for k, v in row.items()}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            if key_column:
                blob_keys.append(str(record[key_column]))
            count += 1
    return count


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = {}
    for member in tar.getmembers():
        if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
            raise BackupError(f"unexpected archive member {member.name!r}")
        members[member.name] = member
    return members


def _verified(
    tar: tarfile.TarFile, member: tarfile.TarInfo, expected: dict[str, Any]
) -> Iterator[bytes]:
    fh = tar.extractfile(member)
    assert fh is not None
    digest = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != expected["sha256"]:
        raise BackupError(f"checksum mismatch for {member.name}: the archive is damaged")


async def restore(engine: AsyncEngine, storage: Storage, archive_path: Path) -> dict[str, Any]:
    """Load a backup into an empty instance migrated to the same revision."""
    with tarfile.open(archive_path, mode="r:gz") as tar:
        members = _members(tar)
        if "manifest.json" not in members:
            raise BackupError("not a Nimbus backup: no manifest.json")
        manifest = json.loads(tar.extractfile(members["manifest.json"]).read())  # type: ignore[union-attr]
        if manifest.get("format") != FORMAT:
            raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
        async with engine.begin() as conn:
            if await _revision(conn) != manifest["revision"]:
                raise BackupError(
                    f"schema revision differs: backup {manifest['revision']}, database "
                    f"{await _revision(conn)}; migrate to the backup's revision first"
                )
            for table in _tables():
                if table.name in SEEDED_TABLES:
                    continue
                if await conn.scalar(select(func.count()).select_from(table)):
                    raise BackupError(
                        f"restore needs an empty instance; table {table.name} has rows"
                    )
            for table in _tables():
                if table.name in SEEDED_TABLES and f"tables/{table.name}.jsonl" in members:
                    await conn.execute(table.delete())
            for table in _tables():
                name = f"tables/{table.name}.jsonl"
                if name in members:
                    await _load_table(conn, table, tar, members[name], manifest["members"][name])
            await _continue_ids(conn, manifest.get("next_ids", {}))
        for name, member in members.items():
            if name.startswith("blobs/"):
                key = name.removeprefix("blobs/")
                chunks = _verified(tar, member, manifest["members"][name])

                async def stream(it: Iterator[bytes] = chunks) -> AsyncIterator[bytes]:
                    for chunk in it:
                        yield chunk

                await storage.put(key, stream(), "application/octet-stream")
    return dict(manifest)


async def _load_table(
    conn: AsyncConnection,
    table: Table,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    expected: dict[str, Any],
) -> None:
    decoders = _decoder(table)
    batch: list[dict[str, Any]] = []
    buffer = b""
    for chunk in _verified(tar, member, expected):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line:
                row = json.loads(line)
                batch.append(
                    {
                        k: decoders[k](v) if k in decoders and v is not None else v
                        for k, v in row.items()
                    }
                )
        if len(batch) >= 1000:
            await conn.execute(table.insert(), batch)
            batch = []
    if batch:
        await conn.execute(table.insert(), batch)


def _id_tables() -> list[tuple[Table, str]]:
    """The tables keyed by an integer id the database hands out, and that column's name."""
    keyed = []
    for table in _tables():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, Integer):
            keyed.append((table, pk[0].name))
    return keyed


async def _next_ids(conn: AsyncConnection) -> dict[str, int]:
    """The id each table would hand out next. Ids of rows deleted before the backup may lie
    above every id restored; a restore that went on from the highest row instead would give a
    new bug the id (and with it every link and notification) of a deleted one."""
    if conn.dialect.name == "sqlite":
        rows = await conn.execute(text("SELECT name, seq FROM sqlite_sequence"))
        return {name: int(seq) + 1 for name, seq in rows}
    next_ids = {}
    for table, column in _id_tables():
        last = await conn.scalar(
            text("SELECT pg_sequence_last_value(pg_get_serial_sequence(:t, :c))"),
            {"t": table.name, "c": column},
        )
        if last is not None:
            next_ids[table.name] = int(last) + 1
    return next_ids


async def _continue_ids(conn: AsyncConnection, next_ids: dict[str, int]) -> None:
    """Ids continue after the restored rows and after what the source had handed out."""
    for table, column in _id_tables():
        after = max(
            next_ids.get(table.name, 1) - 1,
            await conn.scalar(select(func.coalesce(func.max(table.c[column]), 0))) or 0,
        )
        if conn.dialect.name == "postgresql":
            # Marked used (is_called) up to `after`, so that pg_sequence_last_value reads it back
            # and a backup of this copy carries it on; an unused sequence would read as NULL.
            await conn.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, :c), :value, :used)"),
                {"t": table.name, "c": column, "value": max(after, 1), "used": after > 0},
            )
        elif after:  # SQLite: AUTOINCREMENT reads its high-water mark from sqlite_sequence
            updated = await conn.execute(
                text("UPDATE sqlite_sequence SET seq = :after WHERE name = :t"),
                {"t": table.name, "after": after},
            )
            if not updated.rowcount:
                await conn.execute(
                    text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :after)"),
                    {"t": table.name, "after": after},
                )


def default_backup_name() -> str:
    return f"nimbus-backup-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.tar.gz"
