# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
NPM := npm --prefix frontend
POSTMAN := tests/clients/postman
REDOCLY := tests/clients/redocly

.PHONY: run sandbox test test-slow bench bootstrap-run bootstrap-test python-deps frontend-deps frontend-build \
        lint typecheck pytest frontend-check e2e openapi openapi-check client \
        postman-deps postman redocly-deps openapi-lint

run: bootstrap-run python-deps frontend-build sandbox  ## install what is missing, migrate, serve on 127.0.0.1:8000
	$(UV) run nimbus serve

# The Docker runtime image when an engine answers (built once, offline), else bubblewrap (apt).
sandbox: python-deps
	@.ci/bootstrap.sh sandbox

test: bootstrap-test python-deps openapi-check postman-deps lint typecheck pytest frontend-check e2e  ## every suite, real services
	@echo "make test: all suites passed"

# Not part of `make test` (minutes; CI runs it as a job of its own): the README's `make run` in a
# fresh clone, without Docker or bubblewrap, and with Docker but no image, ends in a job run.
test-slow: bootstrap-test python-deps  ## the README's make run path in fresh clones
	$(UV) run pytest -m make_run --durations=0 -s tests/test_make_run.py

# Not part of `make test`. BENCH_BUGS=1000000 measures the budget's 1M bugs (slower);
# BENCH_ARGS passes anything else (e.g. --load-seconds 120 --out /tmp/report).
BENCH_BUGS ?= 100000
BENCH_ARGS ?=
bench: bootstrap-test python-deps  ## benchmarks + load test -> tests/bench/report/report.md
	$(UV) run python -m tests.bench.report --bug-sizes 10000 $(BENCH_BUGS) $(BENCH_ARGS)

bootstrap-run:
	@.ci/bootstrap.sh run

bootstrap-test:
	@.ci/bootstrap.sh test

python-deps:
	$(UV) sync --frozen --quiet

frontend-deps:
	@if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
		$(NPM) ci --no-audit --no-fund; fi

frontend-build: frontend-deps
	$(NPM) run gen:api
	$(NPM) run build

lint: openapi-lint
	$(UV) run ruff format --check .
	$(UV) run ruff check .
	$(UV) run lint-imports

redocly-deps:  ## Redocly CLI, which lints the committed API document
	@if [ ! -d $(REDOCLY)/node_modules ] || [ $(REDOCLY)/package-lock.json -nt $(REDOCLY)/node_modules/.package-lock.json ]; then \
		npm --prefix $(REDOCLY) ci --no-audit --no-fund; fi

# Redocly's `recommended` rules, offline: no telemetry, no update check, no ignore file.
openapi-lint: redocly-deps  ## lint frontend/openapi.json with Redocly CLI
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(REDOCLY)/node_modules/.bin/redocly lint --config $(REDOCLY)/redocly.yaml \
		--format=codeframe frontend/openapi.json

typecheck:
	$(UV) run mypy

# Three passes, one coverage report: tests without Docker in parallel (a PostgreSQL cluster per
# worker); the API and job suites again on SQLite, the embedded default (--db=sqlite keeps the
# tests that take their database from the fixtures); then the Docker ones in one process (one
# private dockerd owns its data root).
PYTEST_WORKERS ?= 2
SQLITE_SUITES ?= tests/api tests/jobs
pytest:
	$(UV) run coverage erase
	$(UV) run pytest -m "not docker and not make_run" -n $(PYTEST_WORKERS) --dist loadfile --cov --cov-report= --durations=20
	$(UV) run pytest --db=sqlite -m "not docker and not make_run" -n $(PYTEST_WORKERS) --dist loadfile \
		--cov --cov-append --cov-report= --durations=10 $(SQLITE_SUITES)
	$(UV) run pytest -m "docker and not make_run" --cov --cov-append --cov-report=term --cov-fail-under=90 --durations=20

frontend-check: frontend-deps
	$(NPM) run gen:api
	$(NPM) run typecheck
	$(NPM) run lint
	$(NPM) run test
	$(NPM) run build

e2e: frontend-build
	$(NPM) run e2e

openapi:  ## refresh the committed API document the SPA's types are generated from
	$(UV) run nimbus openapi -o frontend/openapi.json

openapi-check:  ## fail early when the committed API document is not what the code serves
	@generated=$$(mktemp); trap 'rm -f "$$generated"' EXIT; \
	$(UV) run nimbus openapi -o "$$generated"; \
	if ! diff -u --label frontend/openapi.json --label 'nimbus openapi' \
			frontend/openapi.json "$$generated" > "$$generated.diff"; then \
		head -n 60 "$$generated.diff"; rm -f "$$generated.diff"; \
		echo "frontend/openapi.json is out of date with the API code: run make openapi and commit it" >&2; \
		exit 1; \
	fi; rm -f "$$generated.diff"; echo "openapi-check: frontend/openapi.json matches the code"

client:  ## generate the typed Python API client into tests/clients/generated (never committed)
	$(UV) run python -m tests.clients.generate

postman-deps:  ## openapi-to-postmanv2 and newman, for the Postman collection and its test
	@if [ ! -d $(POSTMAN)/node_modules ] || [ $(POSTMAN)/package-lock.json -nt $(POSTMAN)/node_modules/.package-lock.json ]; then \
		npm --prefix $(POSTMAN) ci --no-audit --no-fund; fi

postman: postman-deps client  ## generate the Postman collection into tests/clients/generated/postman
	node $(POSTMAN)/build.mjs tests/clients/generated/openapi.json \
		tests/clients/generated/postman/nimbus.postman_collection.json
