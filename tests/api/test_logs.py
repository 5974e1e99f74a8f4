"""Logs: one JSON object per line (or text in dev), carrying the request id of the request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import APIRouter

from api.config import Settings
from api.logs import configure_logging, job_id_var, request_id_var


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """configure_logging() on a buffer; the root logger's own set-up is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_message_and_the_ids(log_stream):
    request_token = request_id_var.set("req-1")
    job_token = job_id_var.set("job-9")
    try:
        logging.getLogger("nimbus.test").warning("hello %s", "world")
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)
    logging.getLogger("nimbus.test").info("outside")
    first, second = lines(log_stream)
    assert first["level"] == "WARNING" and first["logger"] == "nimbus.test"
    assert first["message"] == "hello world"
    assert first["request_id"] == "req-1" and first["job_id"] == "job-9"
    assert str(first["time"]).endswith("+00:00")
    assert "request_id" not in second and "job_id" not in second


def test_an_exception_is_inside_the_one_json_line(log_stream):
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("nimbus.test").exception("failed")
    (entry,) = lines(log_stream)
    assert entry["message"] == "failed"
    assert "ValueError: bad" in str(entry["exception"])


def test_text_format_names_the_request_id():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", "text", stream)
        token = request_id_var.set("req-7")
        try:
            logging.getLogger("nimbus.test").info("plain")
        finally:
            request_id_var.reset(token)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert stream.getvalue().rstrip().endswith("INFO nimbus.test plain request_id=req-7")


def test_json_is_the_default_in_production_and_text_in_dev():
    secret = "x" * 40
    assert Settings(env="production", secret_key=secret).effective_log_format == "json"
    assert Settings(env="dev").effective_log_format == "text"
    assert Settings(
        env="production", secret_key=secret, log_format="text"
    ).effective_log_format == ("text")


async def test_lines_logged_in_a_request_carry_its_id(app, client, log_stream):
    router = APIRouter()

    @router.get("/speak")
    async def speak() -> dict[str, str]:
        logging.getLogger("nimbus.test").info("inside the handler")
        return {}

    app.include_router(router)
    r = await client.get("/speak", headers={"X-Request-ID": "trace-42"})
    assert r.headers["X-Request-ID"] == "trace-42"
    (entry,) = [e for e in lines(log_stream) if e["message"] == "inside the handler"]
    assert entry["request_id"] == "trace-42"


async def test_a_500_logs_the_request_id_its_problem_body_shows(app, client, log_stream):
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    app.include_router(router)
    r = await client.get("/boom")  # no X-Request-ID: one is made up
    assert r.status_code == 500
    request_id = r.json()["request_id"]
    assert r.headers["X-Request-ID"] == request_id
    (entry,) = [e for e in lines(log_stream) if e["level"] == "ERROR"]
    assert entry["request_id"] == request_id
    assert "RuntimeError: kaput" in str(entry["exception"])
