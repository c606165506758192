# Two commands on a fresh Debian machine:
#   make run    install what is missing, then start Addax (embedded PostgreSQL + Redis under data/)
#   make test   install what the tests need, then run linters and the whole test suite
VENV    := .venv
PYTHON  ?= python3
STAMP   := $(VENV)/.installed
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9
LOCK_FLAGS  := --quiet --generate-hashes --universal --python-version 3.11 --no-header

.PHONY: run test install system-deps system-deps-test lint lock clean

run: install
	$(VENV)/bin/addax run

install: system-deps $(STAMP)

system-deps:
	./scripts/install-system-deps run

system-deps-test:
	./scripts/install-system-deps test

# Exact versions and hashes from the lock files (pyproject.toml keeps the ranges), so a new release
# upstream cannot change what a fresh install gets: requirements.lock for the service (the Docker
# image), requirements-test.lock for it plus the test tools, in the same versions. `make lock` renews both.
$(STAMP): pyproject.toml requirements-test.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q pip==$(PIP_VERSION)
	$(VENV)/bin/pip install -q --require-hashes -r requirements-test.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

lock:
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install -q uv==$(UV_VERSION)
	$(VENV)-lock/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml requirements-build.in -o requirements.lock
	$(VENV)-lock/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml requirements-build.in --extra test \
		-c requirements.lock -o requirements-test.lock
	rm -rf $(VENV)-lock

lint: $(STAMP)
	$(VENV)/bin/ruff check addax tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy addax

test: system-deps system-deps-test $(STAMP) lint
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
