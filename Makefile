# Rawi: `make run` starts the archive with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test venv migrations lint clean

$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

venv: $(VENV)/.installed

run: venv
	PORT=$(PORT) $(PY) -m archive.runner

test: venv
	bash scripts/test.sh

migrations: venv
	# Regenerate 0001_initial only; hand-written migrations (0002_search, 0003_…) are set aside and restored.
	rm -f archive/migrations/0001_*.py
	mkdir -p .migrations-hold && for f in archive/migrations/0*.py; do [ -e "$$f" ] && mv "$$f" .migrations-hold/; done; true
	DEBUG=true $(PY) manage.py makemigrations archive -n initial; status=$$?; mv .migrations-hold/*.py archive/migrations/ 2>/dev/null; rmdir .migrations-hold; exit $$status

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf data .pytest_cache
