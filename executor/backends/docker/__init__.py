"""The Docker sandbox backend, one package: `supervisor` (what runs inside every container and
the work directory's sizing) <- `sandbox` (one container for one job) <- `pool` (warm,
single-use containers) <- `backend` (`DockerBackend`, the reaper). Each imports only those
before it (an import-linter contract)."""

from executor.backends.docker.backend import (
    DockerBackend,
    open_docker,
    reap_sandboxes,
    unix_connector,
)
from executor.backends.docker.pool import MAX_IDLE_S, WarmPool
from executor.backends.docker.sandbox import (
    LABEL,
    LABEL_INSTANCE,
    Sandbox,
    api_call,
    container_config,
)

__all__ = [
    "LABEL",
    "LABEL_INSTANCE",
    "MAX_IDLE_S",
    "DockerBackend",
    "Sandbox",
    "WarmPool",
    "api_call",
    "container_config",
    "open_docker",
    "reap_sandboxes",
    "unix_connector",
]
