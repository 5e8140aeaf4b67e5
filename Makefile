# Two commands for a fresh machine (Python 3.11): `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: demo test lint bench clean install

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install it or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the demo needs only what running needs; the tests add the test tools
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

demo: $(RUN_STAMP)
	$(BIN)/rs run pipelines/demo.yaml
	@echo "More demos: $(BIN)/rs run pipelines/ecology.yaml (RSEI, EQI, zonal statistics, trends)"
	@echo "            $(BIN)/rs run pipelines/redline.yaml (typed change in red lines and reserves)"
	@echo "            $(BIN)/rs run pipelines/coast.yaml (shorelines, transects, reclamation)"
	@echo "            $(BIN)/rs run pipelines/no2.yaml, methane.yaml, validation.yaml (air, stations)"

lint: $(STAMP)
	$(BIN)/ruff check rs tests bench
	$(BIN)/mypy rs

test: lint
	@# pytest exits 5 when it collected no test: that is a failure, not a pass.
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo 'pytest collected no tests' >&2; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
