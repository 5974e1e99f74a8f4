"""CSV in and out: a streamed, formula-safe export and an all-or-nothing, bounded import.

Import: the upload is streamed into a spooled temporary file (memory up to 1 MB, then disk)
while its size is capped, then read one record at a time, twice: the first pass checks every
row and reports each bad one by its line number; only when all are good does the second pass
insert them, in batches, in the request's transaction. So a file is imported whole or not at
all, whatever its size. Each row gets a content fingerprint (date, amount, currency, category,
project, description, and how many identical rows came before it in the file), unique per user, so
importing the same file twice, or a later file that repeats it, adds nothing twice, while two
genuinely identical rows in one file (two coffees on the same day) are both kept. Rows of our own
export name their expense by `id`; those still yours, unchanged, are not added again either.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import UploadFile
from starlette.requests import Request

from api.db import ACTOR_KEY, utcnow
from api.expenses import budgets, repository
from api.expenses.exceptions import ImportRejected, ImportTooLarge, InvalidCsv
from api.expenses.repository import ExpenseFilters
from api.expenses.schemas import (
    ImportedRow,
    ImportIssue,
    ImportReport,
    check_amount_fits,
    parse_amount,
    parse_currency,
    parse_spent_on,
)
from api.expenses.service import Answer, Replay, category_paths, once, request_fingerprint, uid
from api.models import Expense, ExpenseCategory, User
from api.money import format_amount
from api.permissions import has_permission

EXPORT_COLUMNS = [
    "id",
    "spent_on",
    "amount",
    "currency",
    "category",
    "description",
    "project",
    "user",
    "created_at",
]
REQUIRED_COLUMNS = ("spent_on", "amount", "currency", "category")
OPTIONAL_COLUMNS = ("description", "project")
# Written by the export, accepted by the import so that an export reads back in: `id` only
# recognises your own expenses (see `_your_exported_rows`), the others are ignored.
EXPORT_ONLY_COLUMNS = ("id", "user", "created_at")
# A spreadsheet evaluates a cell starting with these (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "|", "%", "\t", "\r")
# ...and a cell can start in the middle of ours: where the reader splits on ";" (the default
# where "," is the decimal mark) or tabs, or ends a record at any line end, even a quoted one.
# Such a break followed (past any quotes) by a formula character gets a quote after it.
_INNER_FORMULA = re.compile(r"([,;\t\r\n])(?=['\"]*[=+\-@|%\t\r])")
_INNER_ESCAPED = re.compile(r"([,;\t\r\n])'(?=['\"]*[=+\-@|%\t\r])")
BATCH = 1000
MAX_REPORTED_ERRORS = 1000
PREVIEW_ROWS = 20
CHUNK = 64 * 1024


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text, whatever separator it splits on: a leading formula
    character gets a quote before it, one after a separator or line end a quote after that.

    Text that already has quotes there (``'=x``, ``a;'=x``) gets one more, so that the import,
    which takes one quote off (`_text`), gives back exactly what was exported."""
    text = _INNER_FORMULA.sub(r"\1'", text)
    return "'" + text if _looks_like_formula(text) else text


def _unescape_inner(text: str) -> str:
    """The inverse of `safe_cell`'s quotes after separators (a cell's own start aside)."""
    return _INNER_ESCAPED.sub(r"\1", text)


def _looks_like_formula(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_START)


# ----- export ------------------------------------------------------------------------------


async def export_csv(
    sessionmaker: async_sessionmaker[AsyncSession], filters: ExpenseFilters
) -> AsyncIterator[str]:
    """The CSV text in pieces of at most BATCH rows; its own session, as it outlives the
    request's handler."""
    async with sessionmaker() as session:
        paths = await category_paths(session)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        after: tuple[date, int] | None = None
        while True:
            rows = await repository.export_batch(session, filters, after, BATCH)
            people = await repository.users_by_id(session, {e.user_id for e in rows})
            keys = await repository.project_keys(
                session, {e.project_id for e in rows if e.project_id}
            )
            for e in rows:
                writer.writerow(
                    [
                        e.id,
                        e.spent_on.isoformat(),
                        format_amount(e.amount, e.currency),
                        e.currency,
                        safe_cell(paths.get(e.category_id, "")),
                        safe_cell(e.description),
                        safe_cell(keys.get(e.project_id, "")) if e.project_id else "",
                        safe_cell(people[e.user_id].email),
                        e.created_at.isoformat(),
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < BATCH:
                return
            assert rows[-1].id is not None
            after = (rows[-1].spent_on, rows[-1].id)


# ----- upload ------------------------------------------------------------------------------


@dataclass
class Upload:
    file: IO[bytes]
    sha256: str
    size: int


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The CSV as a raw `text/csv` body or a multipart `file` field, spooled and size-capped."""
    too_large = ImportTooLarge(f"The import takes files up to {max_bytes} bytes")
    declared = request.headers.get("content-length", "")
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    overhead = 64 * 1024 if multipart else 0  # multipart boundaries and part headers
    if declared.isdecimal() and int(declared) > max_bytes + overhead:
        raise too_large
    spool: IO[bytes] = SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - returned
    digest = hashlib.sha256()
    size = 0

    def take(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        if size > max_bytes:
            spool.close()
            raise too_large
        digest.update(chunk)
        spool.write(chunk)

    if multipart:
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                spool.close()
                raise InvalidCsv(
                    "Send the CSV as the multipart field 'file', or as a text/csv body"
                )
            while chunk := await upload.read(CHUNK):
                take(chunk)
    else:
        async for chunk in request.stream():
            take(chunk)
    spool.seek(0)
    return Upload(spool, digest.hexdigest(), size)


# ----- import ------------------------------------------------------------------------------


@dataclass
class Row:
    line: int
    spent_on: date
    amount: Decimal
    currency: str
    category_id: int
    category: str
    description: str
    project_id: int | None
    project: str | None
    exported_id: int | None = None  # the `id` column of our export
    fingerprint: str = ""


@dataclass
class Run:
    """The state of one import: lookups, counts, the batch in hand and what went wrong."""

    session: AsyncSession
    user: User
    dry_run: bool
    max_rows: int
    categories: dict[str, list[tuple[int, str]]]
    projects: dict[str, int | str] = field(default_factory=dict)  # key -> id or why not
    seen: Counter[bytes] = field(default_factory=Counter)
    duplicate_prints: set[str] = field(default_factory=set)
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    preview: list[ImportedRow] = field(default_factory=list)
    touched: dict[int, set[date]] = field(default_factory=dict)

    def error(self, line: int, column: str | None, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(ImportIssue(line=line, column=column, reason=reason))

    def report(self) -> ImportReport:
        return ImportReport(
            dry_run=self.dry_run,
            valid=self.error_count == 0,
            rows=self.rows,
            imported=self.imported,
            duplicates=self.duplicates,
            errors=self.errors,
            errors_truncated=self.error_count > len(self.errors),
            preview=self.preview,
        )


def _lines(file: IO[bytes]) -> Iterator[str]:
    """The file's lines as text; bytes that are not UTF-8 stop the import at their line."""
    for number, raw in enumerate(file, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidCsv(
                f"Line {number} is not UTF-8 text (byte {exc.start + 1} of the line); "
                "save the file as UTF-8 CSV and try again",
                extra={"line": number},
            ) from exc


def _header(record: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in record]
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(EXPORT_ONLY_COLUMNS)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [n for n in names if n not in known]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if missing or unknown or repeated:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(repr(u) for u in unknown)}")
        if repeated:
            problems.append(f"repeated {', '.join(repeated)}")
        raise InvalidCsv(
            f"Line 1 must name the columns: {'; '.join(problems)}. Required: "
            f"{', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}",
            extra={
                "line": 1,
                "missing": missing,
                "unknown": unknown,
                "repeated": repeated,
                "required": list(REQUIRED_COLUMNS),
                "optional": list(OPTIONAL_COLUMNS),
            },
        )
    return {name: i for i, name in enumerate(names)}


def _text(value: str, run: Run, line: int, column: str) -> str | None:
    """A text cell; one starting like a formula is refused, unless escaped with a quote. Quotes
    our export put after separators inside a cell come off; a file that has none there (another
    tool's, or typed by hand) is taken as it is, to be escaped again on the way out."""
    if value.startswith("'") and _looks_like_formula(value):
        return _unescape_inner(value[1:])  # escaped, as our export writes it (`safe_cell`)
    if value.startswith(FORMULA_START):
        run.error(
            line,
            column,
            f"starts with {value[0]!r}, which spreadsheets run as a formula; "
            f"write '{value[:10]}... (a leading quote) to import it as text",
        )
        return None
    return _unescape_inner(value)


def _category_index(categories: list[ExpenseCategory]) -> dict[str, list[tuple[int, str]]]:
    """'travel/flights' and 'flights' -> [(id, 'Travel/Flights')], for case-blind lookup."""
    by_id = {c.id: c for c in categories if c.id is not None}
    index: dict[str, list[tuple[int, str]]] = {}
    for cid, c in by_id.items():
        parent = by_id.get(c.parent_id) if c.parent_id else None
        path = f"{parent.name}/{c.name}" if parent else c.name
        index.setdefault(path.lower(), []).append((cid, path))
        if parent:
            index.setdefault(c.name.lower(), []).append((cid, path))
    return index


def _category(value: str, run: Run, line: int) -> tuple[int, str] | None:
    wanted = "/".join(part.strip() for part in value.split("/")).lower()
    found = run.categories.get(wanted, [])
    exact = [c for c in found if c[1].lower() == wanted]
    if len(exact) == 1:
        return exact[0]
    if len(found) == 1:
        return found[0]
    if found:
        options = ", ".join(sorted(p for _, p in found))
        run.error(line, "category", f"{value!r} is ambiguous; write one of: {options}")
    else:
        run.error(line, "category", f"no category {value!r} (see GET /expense-categories)")
    return None


async def _project(value: str, run: Run, line: int) -> tuple[int | None, bool]:
    key = value.strip().upper()
    if not key:
        return None, True
    if key not in run.projects:
        project = await repository.project_by_key(run.session, key)
        if project is None or project.id is None:
            run.projects[key] = f"no project {key!r}, or you are not a member of it"
        elif has_permission(run.user.role, "projects:see_all") or await repository.is_member(
            run.session, project.id, uid(run.user)
        ):
            run.projects[key] = project.id
        else:
            run.projects[key] = f"no project {key!r}, or you are not a member of it"
    found = run.projects[key]
    if isinstance(found, str):
        run.error(line, "project", found)
        return None, False
    return found, True


async def _parse_row(run: Run, line: int, record: list[str], columns: dict[str, int]) -> Row | None:
    """One data record as a Row, or None after reporting everything wrong with it."""
    if len(record) != len(columns):
        run.error(line, None, f"has {len(record)} fields; the header has {len(columns)}")
        return None
    cell = {name: record[i].strip() for name, i in columns.items()}
    before = run.error_count
    values: dict[str, Any] = {}
    for name, parse in (
        ("spent_on", parse_spent_on),
        ("amount", parse_amount),
        ("currency", parse_currency),
    ):
        try:
            values[name] = parse(cell[name])
        except ValueError as exc:
            run.error(line, name, str(exc))
    if "amount" in values and "currency" in values:
        try:
            check_amount_fits(values["amount"], values["currency"])
        except ValueError as exc:
            run.error(line, "amount", str(exc))
    category = _text(cell["category"], run, line, "category")
    found = _category(category, run, line) if category is not None else None
    description = _text(cell.get("description", ""), run, line, "description")
    if description is not None and len(description) > 2000:
        run.error(line, "description", "is longer than 2000 characters")
    project_text = _text(cell.get("project", ""), run, line, "project")
    project_id, _ = await _project(project_text, run, line) if project_text else (None, True)
    if run.error_count > before or found is None or description is None:
        return None
    return Row(
        line=line,
        spent_on=values["spent_on"],
        amount=values["amount"],
        currency=values["currency"],
        category_id=found[0],
        category=found[1],
        description=description,
        project_id=project_id,
        project=project_text.strip().upper() if project_text else None,
        exported_id=_exported_id(cell.get("id", "")),
    )


def _exported_id(text: str) -> int | None:
    """The id our export wrote (a positive int4, written plainly); anything else in an `id`
    column, say a bank's transaction number, is not ours and is ignored."""
    if not (text.isascii() and text.isdecimal() and len(text) <= 10):
        return None
    value = int(text)
    return value if 0 < value < 2**31 and str(value) == text else None


def _fingerprint(run: Run, row: Row) -> str:
    content = "\x1f".join(
        [
            row.spent_on.isoformat(),
            format_amount(row.amount, row.currency),
            row.currency,
            str(row.category_id),
            str(row.project_id or ""),
            row.description,
        ]
    ).encode()
    key = hashlib.sha256(content).digest()[:16]
    run.seen[key] += 1  # the n-th identical row of this file is a different expense
    return hashlib.sha256(content + b"\x1f" + str(run.seen[key]).encode()).hexdigest()


async def _valid_rows(run: Run, file: IO[bytes]) -> AsyncIterator[Row]:
    """The file's valid rows with their fingerprints; the bad ones go to `run.errors`."""
    file.seek(0)
    run.seen.clear()
    reader = csv.reader(_lines(file), strict=True)
    columns: dict[str, int] | None = None
    rows = 0
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InvalidCsv(f"Line {line} is not valid CSV: {exc}", extra={"line": line}) from exc
        if columns is None:
            columns = _header(record)
            continue
        if not any(v.strip() for v in record):
            continue  # blank lines carry nothing
        rows += 1
        if rows > run.max_rows:
            raise ImportTooLarge(f"The import takes at most {run.max_rows} rows per file")
        row = await _parse_row(run, line, record, columns)
        if row is not None:
            row.fingerprint = _fingerprint(run, row)
            yield row
    if columns is None:
        raise InvalidCsv("The file is empty; line 1 must name the columns")
    run.rows = rows


async def _check(run: Run, batch: list[Row]) -> None:
    """Count the batch, note which rows were imported before, keep a preview."""
    known = await repository.existing_fingerprints(
        run.session, uid(run.user), (r.fingerprint for r in batch)
    )
    known |= await _your_exported_rows(run, batch)
    run.duplicate_prints |= known
    run.duplicates += len(known)
    run.imported += len(batch) - len(known)
    for row in batch[: max(0, PREVIEW_ROWS - len(run.preview))]:
        run.preview.append(
            ImportedRow(
                line=row.line,
                spent_on=row.spent_on,
                amount=format_amount(row.amount, row.currency),
                currency=row.currency,
                category=row.category,
                description=row.description,
                project=row.project,
                duplicate=row.fingerprint in known,
            )
        )


async def _your_exported_rows(run: Run, batch: list[Row]) -> set[str]:
    """Fingerprints of rows that are the importer's own expenses, exported earlier and not
    changed since: the row's `id` names one of them, equal in every field the export writes.
    Re-importing your own export (a backup) must not double everything; a row edited in the
    spreadsheet is a new expense, and the preview shows it as one."""
    ids = {r.exported_id for r in batch if r.exported_id is not None}
    if not ids:
        return set()
    yours = await repository.live_expense_keys(run.session, uid(run.user), ids)
    return {
        r.fingerprint
        for r in batch
        if r.exported_id is not None
        and yours.get(r.exported_id)
        == (r.spent_on, r.amount, r.currency, r.category_id, r.description, r.project_id)
    }


async def _insert(run: Run, batch: list[Row], now: datetime) -> None:
    fresh = [r for r in batch if r.fingerprint not in run.duplicate_prints]
    if not fresh:
        return
    await run.session.execute(
        insert(Expense),
        [
            {
                "user_id": uid(run.user),
                "project_id": r.project_id,
                "category_id": r.category_id,
                "amount": r.amount,
                "currency": r.currency,
                "description": r.description,
                "spent_on": r.spent_on,
                "import_fingerprint": r.fingerprint,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for r in fresh
        ],
    )
    for r in fresh:
        if r.project_id is not None:
            run.touched.setdefault(r.project_id, set()).add(r.spent_on.replace(day=1))


async def import_csv(
    session: AsyncSession, user: User, upload: Upload, *, dry_run: bool, max_rows: int
) -> ImportReport:
    """Two passes over the spooled file: check every row (and which were imported before),
    then, only if all are good, insert. Memory holds one batch and the per-row fingerprints."""
    run = Run(
        session=session,
        user=user,
        dry_run=dry_run,
        max_rows=max_rows,
        categories=_category_index(await repository.all_categories(session)),
    )
    async for batch in _batches(_valid_rows(run, upload.file)):
        await _check(run, batch)
    if run.error_count:
        if dry_run:
            return run.report()
        run.imported = 0
        raise ImportRejected(
            f"{run.error_count} row(s) are not valid (first on line {run.errors[0].line}); "
            "nothing was imported",
            run.report().model_dump(mode="json"),
        )
    if dry_run or not run.imported:
        return run.report()
    now = utcnow()
    async for batch in _batches(_valid_rows(run, upload.file)):
        await _insert(run, batch, now)
    await repository.record_import(session, uid(user), session.info.get(ACTOR_KEY), now)
    if run.touched:
        await budgets.check_alerts(session, {p: sorted(d) for p, d in run.touched.items()})
    return run.report()


async def import_once(
    session: AsyncSession,
    user: User,
    upload: Upload,
    *,
    dry_run: bool,
    max_rows: int,
    idempotency_key: str | None,
) -> Answer[ImportReport] | Replay:
    """`import_csv` as POST /expenses/import answers it: once per Idempotency-Key."""

    async def run() -> Answer[ImportReport]:
        report = await import_csv(session, user, upload, dry_run=dry_run, max_rows=max_rows)
        return Answer(report, {})

    fingerprint = request_fingerprint(f"dry_run={dry_run}", upload.sha256)
    return await once(session, user, idempotency_key, "expenses.import", fingerprint, 200, run)


async def _batches(rows: AsyncIterator[Row]) -> AsyncIterator[list[Row]]:
    batch: list[Row] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
