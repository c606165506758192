# Two commands on a fresh Debian machine:
#   make run    install what is missing, then start Addax (embedded PostgreSQL + Redis under data/)
#   make test   install what the tests need, then run linters and the whole test suite
VENV    := .venv
PYTHON  ?= python3
STAMP   := $(VENV)/.installed

.PHONY: run test install system-deps system-deps-test lint clean

run: install
	$(VENV)/bin/addax run

install: system-deps $(STAMP)

system-deps:
	./scripts/install-system-deps run

system-deps-test:
	./scripts/install-system-deps test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check addax tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy addax

test: system-deps system-deps-test $(STAMP) lint
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
