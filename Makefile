# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= development.ini

.PHONY: run test install lint bench clean vendor

$(BIN)/tracee: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,prod]'
	$(BIN)/pip install --quiet -e clients/python  # the official client, for its tests
	@touch $@

install: $(BIN)/tracee

## make run: install, migrate, create the demo data (key printed), serve on :6543
## with a webhook worker beside the server; Ctrl+C (or the server ending) stops both
run: install
	$(BIN)/tracee -c $(CONFIG) db upgrade
	$(BIN)/tracee -c $(CONFIG) demo
	@echo "Serving on http://localhost:6543, webhooks delivered (Ctrl+C to stop)"
	@$(BIN)/tracee -c $(CONFIG) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/pserve $(CONFIG)

## make test: the whole suite, on SQLite and (when reachable) PostgreSQL
test: install
	$(BIN)/ruff check tracee tests alembic clients
	$(BIN)/pytest $(PYTEST_ARGS)

## make bench: production config on gunicorn vs a bare-WSGI floor (docs/performance.md)
bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check tracee tests alembic clients

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache test-artifacts

## make vendor: refresh the API reference's Swagger UI (and axe-core, for its test) from npm
SWAGGER_UI_VERSION ?= 5.35.0
AXE_CORE_VERSION ?= 4.14.1
vendor:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) axe-core@$(AXE_CORE_VERSION) >/dev/null \
		&& mkdir swagger axe && tar xzf swagger-ui-dist-*.tgz -C swagger && tar xzf axe-core-*.tgz -C axe); \
	rm -rf tracee/static/vendor/swagger-ui tests/vendor/axe-core; \
	mkdir -p tracee/static/vendor/swagger-ui tests/vendor/axe-core; \
	cp "$$tmp"/swagger/package/swagger-ui-bundle.js "$$tmp"/swagger/package/swagger-ui-bundle.js.LICENSE.txt \
		"$$tmp"/swagger/package/swagger-ui.css "$$tmp"/swagger/package/LICENSE "$$tmp"/swagger/package/NOTICE \
		tracee/static/vendor/swagger-ui/; \
	echo "swagger-ui-dist $(SWAGGER_UI_VERSION) from npm (make vendor)" > tracee/static/vendor/swagger-ui/VERSION; \
	cp "$$tmp"/axe/package/axe.min.js "$$tmp"/axe/package/LICENSE tests/vendor/axe-core/; \
	echo "axe-core $(AXE_CORE_VERSION) from npm (make vendor)" > tests/vendor/axe-core/VERSION
