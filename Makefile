# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= development.ini

.PHONY: run test install lint bench clean vendor messages

# The customer's languages (tracee/i18n.py LANGUAGES): their catalogs are in git,
# compiled here and by the package's build (setup.py), never at run time.
LANGUAGES := de en es fr it nl
CATALOGS := $(foreach lang,$(LANGUAGES),tracee/locale/$(lang)/LC_MESSAGES/tracee.po)
COMPILED := $(CATALOGS:.po=.mo)

$(BIN)/tracee: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,prod]'
	$(BIN)/pip install --quiet -e clients/python  # the official client, for its tests
	@touch $@

install: $(BIN)/tracee $(COMPILED)

tracee/locale/%/LC_MESSAGES/tracee.mo: tracee/locale/%/LC_MESSAGES/tracee.po | $(BIN)/tracee
	$(BIN)/pybabel compile --statistics -D tracee -l $* -i $< -o $@

## make messages: after adding or changing a _("...") in code or templates, extract
## every message, merge it into each language's catalog (English filled from the
## text), compile; then translate what is new (msgstr "") or fuzzy in each .po and run
## it again. tests/test_i18n.py fails while a catalog is behind or untranslated.
messages: $(BIN)/tracee
	@set -e; pot=$$(mktemp --suffix=.pot); trap 'rm -f "$$pot"' EXIT; \
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ --no-location --sort-output \
		--project Tracee --copyright-holder Tracee --msgid-bugs-address "" -o "$$pot" tracee; \
	for lang in $(LANGUAGES); do \
		po=tracee/locale/$$lang/LC_MESSAGES/tracee.po; \
		if [ -f "$$po" ]; then \
			$(BIN)/pybabel -q update -D tracee -l $$lang -i "$$pot" -o "$$po" \
				--ignore-obsolete --ignore-pot-creation-date --width 100; \
		else \
			mkdir -p $$(dirname "$$po"); \
			$(BIN)/pybabel -q init -D tracee -l $$lang -i "$$pot" -o "$$po" --width 100; \
		fi; \
	done
	$(BIN)/python tools/catalogs.py english tracee/locale/en/LC_MESSAGES/tracee.po
	@$(MAKE) --no-print-directory $(COMPILED)
	@$(BIN)/python tools/catalogs.py todo $(CATALOGS)

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
	rm -rf $(VENV) *.egg-info .pytest_cache test-artifacts $(COMPILED)

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
