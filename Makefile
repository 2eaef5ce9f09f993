# Rawi: `make run` starts the archive with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test venv packages migrations lint clean

$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

venv: $(VENV)/.installed

run: venv
	PORT=$(PORT) $(PY) -m archive.runner

# The Debian packages the suite needs: installed when run as root, otherwise named (scripts/system_packages.sh).
packages:
	bash scripts/system_packages.sh

test: packages venv
	bash scripts/test.sh

migrations: venv
	# Schema changes get a new numbered migration (databases made by earlier releases must upgrade).
	DEBUG=true $(PY) manage.py makemigrations archive

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf data .pytest_cache
