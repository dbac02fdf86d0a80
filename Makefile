# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_API_KEY ?= demo-pos-key-0001
PYTEST_ARGS ?=

.PHONY: run test lint screenshots install install-dev lock migrate seed worker beat clean bench bench-pos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files: every package pinned, each download checked against its hash.
$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# requirements*.txt are what people edit; `make lock` pins what they bring into requirements*.lock, with
# hashes. The dev lock keeps the runtime lock's versions. Only pip's default index is read (no
# configuration file, find-links or extra index of this machine), so the hashes are those of the files
# every machine downloads. Pins already in a lock stay unless the requirements move them.
PIP_COMPILE = env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
	PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
$(BIN)/pip-compile: | $(BIN)/python
	$(BIN)/pip install --quiet "$$(grep '^pip-tools==' requirements-dev.txt)"

lock: $(BIN)/pip-compile
	$(PIP_COMPILE) --output-file requirements.lock requirements.txt
	$(PIP_COMPILE) --constraint requirements.lock --output-file requirements-dev.lock requirements-dev.txt

# Local development runs with DEBUG on unless the environment says otherwise.
run: export DJANGO_DEBUG ?= true
run: install
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --api-key $(DEMO_API_KEY) --history
	@echo "Serving on http://$(HOST):$(PORT)/  (API docs: /api/docs/, POS key: $(DEMO_API_KEY))"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Two test processes (pytest-xdist), a test file each at a time: each has its own test database and Redis
# databases. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: install-dev
	@mkdir -p var
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Refresh the README's screenshots from the browser tests: they save every page they look at under
# var/screenshots/; the README shows these.
README_SCREENSHOTS = home-desktop.png home-phone.png admin-members.png staff-home-manager.png \
	staff-member-page-desktop.png staff-member-explain-purchase-desktop.png staff-rules-new-preview-view.png \
	staff-data-reports.png staff-walk-manager-approvals-tablet.png \
	portal-home-phone.png portal-rewards-phone.png portal-voucher-phone.png portal-give-phone.png \
	staff-surveys-survey-desktop.png staff-surveys-case-desktop.png
screenshots: install-dev
	$(BIN)/python -m pytest tests/e2e -q
	cd var/screenshots && cp $(README_SCREENSHOTS) ../../docs/screenshots/

# Benchmarks (PostgreSQL on 127.0.0.1:5432 unless DATABASE_URL says otherwise); each adds its rows to
# bench/README.md. `make bench-pos` is the POS API under load beside raw SQL (~6 minutes).
BENCH_ARGS ?=
bench-pos: install-dev
	@mkdir -p var
	$(BIN)/python bench/pos_load.py $(BENCH_ARGS)

bench: bench-pos

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

worker: export DJANGO_DEBUG ?= true
worker: install
	$(BIN)/celery -A loyalty worker --loglevel=INFO

beat: export DJANGO_DEBUG ?= true
beat: install
	$(BIN)/celery -A loyalty beat --loglevel=INFO

clean:
	rm -rf $(VENV) var/postgres
