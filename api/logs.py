"""Log set-up: one JSON object per line in production, readable text in dev, with the request id
(and a worker's job id) on every line written while handling that request or job."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

request_id_var: ContextVar[str | None] = ContextVar("nimbus_request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("nimbus_job_id", default=None)

_CONTEXT = (("request_id", request_id_var), ("job_id", job_id_var))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"


class ContextFilter(logging.Filter):
    """Copies the request and job ids of the current task onto each record, unless the caller
    passed its own with ``extra=`` (the 500 handler runs after the request's context ended)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT:
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        record.context = "".join(
            f" {name}={value}"
            for name, _ in _CONTEXT
            if (value := getattr(record, name, None)) is not None
        )
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then request_id / job_id / exception when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, _ in _CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    level: str, fmt: Literal["json", "text"], stream: IO[str] | None = None
) -> logging.Handler:
    """Route every logger (uvicorn's included) through one handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
