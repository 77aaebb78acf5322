# VideoChat: two commands. `make run` serves the app; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# pytest workers: the suite is independent per test (own Redis db, own test database).
TEST_WORKERS ?= 2

# Every install goes through the lock: the same versions on every machine.
PIP_INSTALL := $(PY) -m pip install --quiet -c constraints.txt

.PHONY: run test bench lint format lock clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt constraints.txt $(VENV)/.runtime
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m videochat.run

test: $(VENV)/.dev
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) -m bench

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# After changing a pin: resolve requirements-dev.txt afresh in a scratch venv and
# write what it installed to constraints.txt (review the diff before committing).
LOCK_VENV := var/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -r requirements-dev.txt
	{ grep '^#' constraints.txt; $(LOCK_VENV)/bin/pip freeze --exclude pip --exclude setuptools --exclude wheel; } > $(LOCK_VENV)/constraints.txt
	mv $(LOCK_VENV)/constraints.txt constraints.txt
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) var
