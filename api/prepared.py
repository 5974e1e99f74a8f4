"""Hot-read SELECTs compiled once and run as asyncpg prepared statements on PostgreSQL.

For a statement that is already compiled and cached, SQLAlchemy's execution path (cache key,
compiled-cache lookup, execution context, result metadata and rows) still costs 100-250 us of
CPU here; asyncpg runs the same prepared statement on the same connection in about 20 us.
The hot reads (a bug, a list page, search, the current user) run one or two statements, so
that is most of their CPU. `PreparedSelect` keeps the SQLAlchemy statement as the one
definition and compiles it once per shape (the lengths of its ``IN`` lists); on PostgreSQL it
runs the SQL on the session's own connection (same transaction, if one is open), applying
the column types' bind and result conversions, so rows carry what SQLAlchemy would return.

Other databases (SQLite) run the statement through SQLAlchemy. So does a PostgreSQL call
whose fast path failed: then SQLAlchemy reports the failure the usual way (a dropped
connection is invalidated and answers 503, a bad value raises its DBAPIError).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Row = dict[str, Any]
_Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    arguments: tuple[tuple[str, int | None, _Processor | None], ...]
    """Per positional parameter: the caller's name, the index in its list (IN), converter."""
    constants: Mapping[str, Any]
    """Values fixed at compile time (literals such as a separator)."""
    keys: tuple[str, ...]
    converters: tuple[tuple[int, _Processor], ...]
    """Result columns that need conversion: (position, converter)."""


class PreparedSelect:
    """A Core SELECT run through `all` / `first` with a dict of its bound values."""

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        self._expanding: tuple[str, ...] | None = None
        self._shapes: dict[tuple[int, ...], _Compiled] = {}

    async def all(self, session: AsyncSession, values: Mapping[str, Any]) -> list[Row]:
        connection = await session.connection()
        if connection.dialect.name != "postgresql":
            return await self._through_sqlalchemy(connection, values)
        if self._expanding is None:
            binds = self.stmt.compile(dialect=connection.dialect).binds.values()
            self._expanding = tuple(sorted({b.key for b in binds if b.expanding}))
        shape = tuple(len(values[name]) for name in self._expanding)
        compiled = self._shapes.get(shape)
        if compiled is None:
            compiled = self._shapes[shape] = self._compile(connection.dialect, values)
        try:
            driver: Any = (await connection.get_raw_connection()).driver_connection
            records = await driver.fetch(compiled.sql, *_arguments(compiled, values))
        except Exception:  # SQLAlchemy runs it again and reports what failed
            return await self._through_sqlalchemy(connection, values)
        keys, converters = compiled.keys, compiled.converters
        if not converters:
            return [dict(zip(keys, record, strict=True)) for record in records]
        rows = []
        for record in records:
            row = list(record)
            for position, convert in converters:
                row[position] = convert(row[position])
            rows.append(dict(zip(keys, row, strict=True)))
        return rows

    async def first(self, session: AsyncSession, values: Mapping[str, Any]) -> Row | None:
        rows = await self.all(session, values)
        return rows[0] if rows else None

    async def _through_sqlalchemy(
        self, connection: AsyncConnection, values: Mapping[str, Any]
    ) -> list[Row]:
        result = await connection.execute(self.stmt, dict(values))
        return [dict(row) for row in result.mappings()]

    def _compile(self, dialect: Dialect, values: Mapping[str, Any]) -> _Compiled:
        compiled = self.stmt.compile(dialect=dialect)
        expanded = compiled.construct_expanded_state(dict(values))
        assert expanded.positiontup is not None, "asyncpg takes positional parameters"
        origin: dict[str, tuple[str, int | None]] = {}
        for name, parts in expanded.parameter_expansion.items():
            origin.update((part, (name, i)) for i, part in enumerate(parts))
        arguments = []
        constants = {}
        for name in expanded.positiontup:
            source, index = origin.get(name, (name, None))
            if source not in values:
                constants[source] = expanded.parameters[name]
            convert = expanded.processors.get(name)
            if convert is None and name in compiled.binds:
                bind_type = compiled.binds[name].type
                convert = bind_type.dialect_impl(dialect).bind_processor(dialect)
            arguments.append((source, index, convert))
        columns = list(self.stmt.selected_columns)
        converters = []
        for position, column in enumerate(columns):
            convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if convert is not None:
                converters.append((position, convert))
        return _Compiled(
            sql=expanded.statement,
            arguments=tuple(arguments),
            constants=constants,
            keys=tuple(self.stmt.selected_columns.keys()),
            converters=tuple(converters),
        )


def _arguments(compiled: _Compiled, values: Mapping[str, Any]) -> Sequence[Any]:
    out = []
    for name, index, convert in compiled.arguments:
        value = values[name] if name in values else compiled.constants[name]
        if index is not None:
            value = value[index]
        out.append(convert(value) if convert is not None and value is not None else value)
    return out
