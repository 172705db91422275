# The two commands a newcomer needs: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never

# uv from PATH if present, else a private copy under .tools/ (installed with the system python3).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
UV_VERSION := 0.13.9

.PHONY: run test install lint unit integration e2e faults fuzz docs bench bench-hop schemas token clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --quiet

## Run the whole system: PostgreSQL, Kafka, migrations and the four services (Ctrl-C stops all).
run: install
	$(UV) run ltc-dev run

## Run the whole test suite against a real broker and database it starts itself (after the linter and
## the import-linter's architecture contracts in pyproject.toml).
test: install
	$(UV) run ruff check .
	$(UV) run lint-imports
	@$(UV) run pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: that is a failure"; exit 1; fi; \
	exit $$rc

lint: install
	$(UV) run ruff check .
	$(UV) run lint-imports

unit: install
	$(UV) run pytest tests/unit tests/contract

integration: install
	$(UV) run pytest tests/integration

e2e: install
	$(UV) run pytest tests/e2e

## Fault run at full size: 40 lead-to-cash flows while each service, PostgreSQL and the Kafka broker
## are SIGKILLed and restarted in turn (the suite runs 6 flows, 2 kills). make faults FLOWS=80 for more.
FLOWS ?= 40
faults: install
	LTC_FAULT_FLOWS=$(FLOWS) LTC_FAULT_TARGETS=leads,opportunities,kafka,contracts,postgres,finance \
	LTC_FAULT_TIMEOUT=$$((600 + 15 * $(FLOWS))) $(UV) run pytest tests/e2e/test_faults.py -s

## The API fuzzer at full size: schemathesis against the four running services, 100 cases per
## operation (the suite runs 10). make fuzz EXAMPLES=300 for more.
EXAMPLES ?= 100
fuzz: install
	LTC_FUZZ_EXAMPLES=$(EXAMPLES) $(UV) run pytest tests/e2e/test_api_fuzz.py -s

## The benchmark suite (~5 min): REST write, event hop, full flows, scaling, each beside its raw limit.
## One markdown table on stdout; bench/out/bench.json and bench/out/bench.png. Longer: make bench ARGS="--reps 5 ..."
bench: install
	$(UV) run python bench/suite.py $(ARGS)

## Propagation time of one hop (commit in leads -> opportunity committed), over a few hundred conversions.
bench-hop: install
	$(UV) run python bench/hop.py

## Regenerate the events' JSON Schemas after changing a payload model.
schemas: install
	$(UV) run python -m ltc.shared.messages.export

## Regenerate docs/roles.md (who may call what) from the services' OpenAPI documents.
docs: install
	$(UV) run python docs/roles.py

## Print a development token: make token SUB=alice ROLES=ar,sr
token: install
	@$(UV) run ltc-token --sub $(or $(SUB),dev) --roles $(or $(ROLES),ar)

clean:
	rm -rf .local .pytest_cache bench/out
