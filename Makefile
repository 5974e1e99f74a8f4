# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
NPM := npm --prefix frontend

.PHONY: run test bootstrap-run bootstrap-test python-deps frontend-deps frontend-build \
        lint typecheck pytest frontend-check e2e openapi

run: bootstrap-run python-deps frontend-build  ## install what is missing, migrate, serve on 127.0.0.1:8000
	$(UV) run nimbus serve

test: bootstrap-test python-deps lint typecheck pytest frontend-check e2e  ## every suite, real services
	@echo "make test: all suites passed"

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

lint:
	$(UV) run ruff format --check .
	$(UV) run ruff check .

typecheck:
	$(UV) run mypy

pytest:
	$(UV) run pytest --cov --cov-report=term --cov-fail-under=90 --durations=30

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
