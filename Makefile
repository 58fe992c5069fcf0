# Two commands on a fresh machine: `make run` and `make test`.
# Both create .venv from requirements.lock when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint screenshot clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python main.py bench
	$(BIN)/python bench/window_vs_headless.py

lint: $(STAMP)
	$(BIN)/ruff check metaviz tests bench main.py

screenshot: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python main.py screenshot resources/screenshot.png --iterations 3000 --tour

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
