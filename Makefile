# The two entry points of the README. Both set up first (quick when already done).
.PHONY: setup run test
setup:
	@scripts/setup.sh

# The main job: the whole pipeline on the `cpu` profile with embedded defaults.
run: setup
	.venv/bin/studies run --profile cpu

# The test suite (fast + end-to-end on the `ci` profile; slow tests: add PYTEST_ARGS='-m slow').
test: setup
	@scripts/test-tools.sh
	.venv/bin/pytest $(PYTEST_ARGS)
