VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint demo clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(PY) main.py

demo: $(VENV)/.installed
	$(PY) main.py demo

test: $(VENV)/.installed-test
	$(PY) -m pytest -n 3 --dist loadfile -q

# Outage-day flood of the public status page (issue 3): prints the figures and writes them with the method into
# docs/benchmarks.md. Takes about 2 × BENCH_SECONDS + 30 s; uses wrk when installed (apt-get install wrk).
BENCH_SECONDS ?= 30
.PHONY: bench
bench: $(VENV)/.installed
	@command -v wrk >/dev/null || echo "wrk is not installed (apt-get install wrk): flooding with the Python client"
	$(PY) bench/public_flood.py --seconds $(BENCH_SECONDS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
