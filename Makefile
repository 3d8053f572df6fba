# The two entry points of the README. Both set up first (quick when already done).
.PHONY: setup run test lint format reliability
setup:
	@scripts/setup.sh

# The main job: the whole pipeline on the `cpu` profile with embedded defaults.
run: setup
	.venv/bin/studies run --profile cpu

# The test suite (fast + end-to-end on the `ci` profile; slow tests: add PYTEST_ARGS='-m slow').
# Three pytest-xdist workers on two cores: much of an end-to-end test is waiting on servers and subprocesses,
# which the other workers' tests fill (fresh clone, 2026-11-30: pytest 20:51 with two workers, 18:04 with
# three; splitting the studies' ci runs over two workers as well made it 20:06, the CPU then never idle).
# tests/conftest.py keeps a module, and the studies' ci runs, on one worker. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 3
test: setup lint
	@scripts/test-tools.sh
	.venv/bin/pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS)) $(PYTEST_ARGS)

# The tree stays formatted and lint-clean (ruff settings in pyproject.toml); `make format` fixes what it can.
lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# reports/reliability.md: the load, fault, bad-input and security tests, with their figures (about 30 min; QUICK=1: no 20-run load).
reliability: setup
	@scripts/test-tools.sh
	.venv/bin/python scripts/reliability.py $(if $(QUICK),--quick)
