# Two commands on a fresh machine: `make run` (the whole pipeline locally) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install system-deps clean

# (Re)install when the dependencies or the lock change.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH"; exit 1; }
	@echo "installing the locked Python dependencies into $(VENV) (constraints.txt)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	@# setuptools' notes on editable installs (UserWarning) are not for the person installing.
	@PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[dev]'
	@touch $(STAMP)
	@echo "installed; the embedded Kafka's jars come from Maven Central on first use (once)"

# The Compose Specification's JSON schema, for tests/unit/test_compose.py: the newest copy on
# PyPI is the one docker-compose 1.29.2 ships (2021); only the schema is taken, nothing installed.
COMPOSE_SCHEMA := $(VENV)/compose-spec.json
$(COMPOSE_SCHEMA): $(STAMP)
	$(BIN)/pip download --quiet --no-deps --dest $(VENV)/wheels docker-compose==1.29.2
	$(BIN)/python -c "import sys, zipfile; \
	open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('compose/config/compose_spec.json'))" \
	  $(VENV)/wheels/docker_compose-1.29.2-py2.py3-none-any.whl $@

install: $(STAMP) $(COMPOSE_SCHEMA)

## The whole pipeline on the embedded broker and the Personalize emulator, in the foreground.
run: $(STAMP)
	$(BIN)/pipeline dev

## Lint, then every test (unit, integration on a real broker, end to end).
test: $(STAMP) $(COMPOSE_SCHEMA) system-deps lint
	$(BIN)/python -m pytest

## Java 17, Maven, kcat and prometheus from Debian (installed when missing and run as root).
system-deps:
	.ci/system-deps

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo  # the layers: pyproject.toml [tool.importlinter]

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .faust-data
