"""Stage bodies: one package per study (`tasks/stages/<study>/`: its `STEPS`, its report, its own commands)
and the report helpers they share. `studies stage` reaches them through
tasks/orchestration/stage_runner.py."""
