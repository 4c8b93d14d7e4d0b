# Cuepoint: `make up` runs the platform, `make test` runs the whole suite.
# Both work on a fresh machine: they install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3.11
PYTHON := .venv/bin/python
PYTEST := $(PYTHON) -m pytest

.PHONY: help deps infra web up down status migrate seed schemas api-types test test-unit test-integration test-web bench clean engine images compose-up compose-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

deps: .venv/.synced ## install the Python workspace (uv, Python 3.11)
.venv/.synced: uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	@command -v uv >/dev/null || { echo "==> installing uv from PyPI"; python3 -m pip install -q uv; }
	@echo "==> uv sync"
	@uv sync --frozen --quiet || { echo "FAILED: uv sync (run it again to see the error)"; exit 1; }
	@touch $@

infra: deps ## start PostgreSQL and Kafka (installs them if missing)
	@deploy/local/infra.sh up

# The web client is rebuilt when a file it is built from changed (the stamp is older).
WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) web/index.html web/package-lock.json web/vite.config.ts web/tsconfig.json
web: web/dist/.built ## build the web client (npm ci, type-check, vite build, JavaScript budget)
web/dist/.built: $(WEB_SOURCES)
	@deploy/local/web.sh build
	@touch $@

up: infra web ## the whole platform: infrastructure, migrations, every service, the gateway with the web client, demo data
	@deploy/local/services.sh up
	@$(MAKE) --no-print-directory seed
	@echo
	@echo "Cuepoint is up: open http://127.0.0.1:$${CUEPOINT_GATEWAY_PORT:-8080}/ (the web client); APIs at /api/<service>/ (identity, content, assessment, progress, analytics)"
	@echo "  APIs direct: identity :$${CUEPOINT_IDENTITY_PORT:-8001}, content :$${CUEPOINT_CONTENT_PORT:-8002}, assessment :$${CUEPOINT_ASSESSMENT_PORT:-8003}, progress :$${CUEPOINT_PROGRESS_PORT:-8004}, analytics :$${CUEPOINT_ANALYTICS_PORT:-8005}"
	@echo "  (each has /docs, /healthz, /readyz, /metrics). Logs: .local/logs/. Stop: make down."
	@echo "  Demo logins (tenant 'demo', password Demo123!): admin@example.com, teacher@example.com, student@example.com"

down: ## stop the services and the infrastructure
	@deploy/local/services.sh down
	@deploy/local/infra.sh down

status: ## what runs
	@deploy/local/infra.sh status
	@deploy/local/services.sh status

migrate: infra ## apply every service's migrations
	@for s in identity content assessment progress analytics; do $(PYTHON) -m cuepoint.$$s migrate || exit 1; done

seed: ## the demo users, configs, AI setup, a complete lesson and partial progress (idempotent; needs make up)
	@echo "==> demo data"
	@set -o pipefail; $(PYTHON) -m cuepoint.identity seed-demo 2>>.local/logs/seed.log | sed 's/^/    /' || { echo "FAILED: seeding (log: .local/logs/seed.log)"; exit 1; }
	@set -o pipefail; $(PYTHON) deploy/local/demo.py 2>>.local/logs/seed.log | sed 's/^/    /' || { echo "FAILED: the demo lesson (log: .local/logs/seed.log)"; exit 1; }

api-types: deps ## regenerate the web client's API documents and types from the services (commit the result)
	@$(PYTHON) web/scripts/export_openapi.py
	@cd web && node scripts/api-types.mjs

schemas: deps ## regenerate the JSON Schema snapshots of the events (refuses breaking changes)
	@$(PYTHON) -m cuepoint.contracts.snapshots write

test: infra web ## the whole suite on real PostgreSQL and Kafka, the web client in Debian's Chromium included
	@deploy/local/web.sh browser
	@$(PYTEST) -p no:cacheprovider --durations=25   # the slowest 25, to keep the suite within its 30 minutes

test-unit: deps ## only the tests without I/O
	@$(PYTEST) -p no:cacheprovider -m unit

test-integration: infra ## only the tests on real PostgreSQL and Kafka
	@$(PYTEST) -p no:cacheprovider -m integration

test-web: infra web ## only the web client's tests: Vitest, the API types' drift, Playwright on the real platform
	@deploy/local/web.sh browser
	@$(PYTEST) -p no:cacheprovider tests/web tests/contracts/test_openapi.py tests/e2e/test_web_client.py

bench: ## every benchmark against the running platform (make up), then one table (.local/bench/report.md); first run loads 10M rows
	@$(PYTHON) bench/run_all.py   # every benchmark, even after a miss; one table in .local/bench/report.md

# Under Docker (README "Deploying"): the project's own engine, images from Debian's packages (no Docker Hub),
# the compose platform on 127.0.0.1:18080 (CUEPOINT_COMPOSE_GATEWAY_PORT).
engine: ## start a Docker engine of the project's own (.local/docker), or check DOCKER_HOST
	@deploy/docker/engine.sh up

images: engine web ## build every image from a debootstrap Debian base (sizes and times in .local/docker/images.txt)
	@nice -n 10 deploy/docker/images.sh

compose-up: engine ## the platform under docker compose (make images first), demo data included
	@deploy/docker/compose.sh up

compose-down: ## stop the compose platform (its volumes stay; deploy/docker/compose.sh purge drops them)
	@deploy/docker/compose.sh down

clean: down ## stop everything and delete local data (.local/)
	@deploy/docker/engine.sh down
	@rm -rf .local
