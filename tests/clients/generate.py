"""Generate the typed Python client (openapi-python-client) from the document the code serves.

`make client` and the end-to-end test both call `ensure_client()`: it writes the OpenAPI
document to `tests/clients/generated/openapi.json` and regenerates `nimbus_client` next to it
when the document, the generator or its settings changed. The output is never hand-edited and
never committed (it is gitignored); generator warnings fail the generation.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "generated"
PACKAGE = "nimbus_client"
CONFIG = HERE / "openapi-python-client.yaml"
STAMP = GENERATED / "stamp"


def served_spec() -> dict[str, Any]:
    """The OpenAPI document exactly as the app serves it."""
    from api.config import Settings
    from api.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), spa_dir=Path(tmp) / "no-spa", executor_backend="off"
        )
        return create_app(settings).openapi()


def _generator() -> str:
    exe = Path(sys.executable).with_name("openapi-python-client")
    if not exe.exists():
        raise RuntimeError(
            "openapi-python-client is missing: run `uv sync` (it is a dev dependency)"
        )
    return str(exe)


def ensure_client(spec: dict[str, Any] | None = None) -> Path:
    """Generate the client unless an up-to-date one is there; return the directory to import
    `nimbus_client` from."""
    text = json.dumps(spec or served_spec(), indent=2) + "\n"
    version = importlib.metadata.version("openapi-python-client")
    stamp = hashlib.sha256(f"{version}\n{CONFIG.read_text()}\n{text}".encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == stamp and (GENERATED / PACKAGE).is_dir():
        return GENERATED
    GENERATED.mkdir(exist_ok=True)
    (GENERATED / "openapi.json").write_text(text)
    STAMP.unlink(missing_ok=True)
    result = subprocess.run(
        [
            _generator(),
            "generate",
            "--path",
            str(GENERATED / "openapi.json"),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(GENERATED / PACKAGE),
            "--overwrite",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(GENERATED / PACKAGE, ignore_errors=True)
        raise RuntimeError(
            "openapi-python-client could not generate a client from the API's document:\n"
            + result.stdout
            + result.stderr
        )
    STAMP.write_text(stamp)
    return GENERATED


if __name__ == "__main__":
    print(f"client generated in {ensure_client() / PACKAGE}")
