"""The standing attack suite (issue 18): one file per class of attack, each against the real
thing (a live server, the real Docker engine, both sandbox backends, Chromium).

The sandbox and live-server fixtures are the behaviour suites' own, shared here so an attack
runs on exactly what users run.
"""

from tests.executor.conftest import (  # noqa: F401
    backend,
    bwrap_backend,
    docker_backend,
    pool_backend,
)
from tests.jobs.conftest import (  # noqa: F401
    jobs_database_url,
    jobs_engine,
    live,
    live_factory,
    sandbox,
    serve,
)
