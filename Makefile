# Two commands for a fresh machine: `make demo` and `make test`.
# Both bootstrap the virtualenv first; the stamp is keyed by pyproject.toml, so a
# second run installs nothing and a changed pin reinstalls.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: venv demo test lint chromium bench clean-state

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: venv
	$(BIN)/exchange demo

lint: venv
	$(BIN)/ruff check .

# A module per worker at a time (its module fixtures are built once), one worker per core, at most 4;
# each worker has its own embedded PostgreSQL (tests/databases.py); the 15 slowest tests are printed (the budget is 20 min).
# The browser tests drive Debian's chromium (never a downloaded browser build): installed when missing
# and this runs as root with apt-get (a fresh machine, CI); otherwise those tests are skipped and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
			&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium could not be installed: the browser tests will be skipped"

test: lint chromium
	$(BIN)/pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile --no-loadscope-reorder --durations=15

bench: venv
	$(BIN)/exchange bench ingest --rows 1000000

clean-state:
	-$(BIN)/exchange db down
	rm -rf .exchange landing archive feedback exports
