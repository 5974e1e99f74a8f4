"""Where output file contents live: in the database for now. A storage backend (S3, a local
directory) replaces these two functions and nothing else."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import JobFile
from executor.backends import OutputFile


def save_output_file(session: AsyncSession, job_id: uuid.UUID, file: OutputFile) -> JobFile:
    row = JobFile(
        job_id=job_id, path=file.path, size=file.size, sha256=file.sha256, content=file.content
    )
    session.add(row)
    return row


async def read_output_file(session: AsyncSession, row: JobFile) -> bytes:
    return row.content or b""
