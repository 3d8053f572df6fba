"""Build reports/reliability.md: run the tests marked `reliability` (load, faults, bad input, security) and
report what they held, survived and tried, beside each test's outcome. Figures come from the tests themselves
(tests/reliability.py `record`), written only after their assertions passed;
a failed test is listed as failed.

Run: make reliability   (or .venv/bin/python scripts/reliability.py [--quick] [-- extra pytest args])
--quick leaves out the tests also marked `slow` (the 20-run load test), as the CI run does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "reliability.md"
TITLES = {"load": "Load", "fault": "Faults", "input": "Bad input", "security": "Security"}
TOTALS = (
    ("runs", "pipeline runs held"),
    ("survived", "faults survived"),
    ("inputs", "inputs tried"),
    ("lost", "data lost"),
)


def run_tests(quick: bool, extra: list[str], log: Path, junit: Path) -> tuple[int, float]:
    marker = "reliability and not slow" if quick else "reliability"
    env = os.environ | {"STUDIES_RELIABILITY_LOG": str(log)}
    start = time.monotonic()
    rc = subprocess.call(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            marker,
            f"--junitxml={junit}",
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        cwd=ROOT,
        env=env,
    )
    return rc, time.monotonic() - start


def outcomes(junit: Path) -> list[tuple[str, str, float]]:
    """(test id, passed/failed/skipped, seconds) from pytest's JUnit XML."""
    out = []
    for case in ET.parse(junit).iter("testcase"):
        state = next((tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None), "passed")
        out.append(
            (
                f"{case.get('classname')}::{case.get('name')}",
                {"failure": "failed", "error": "error"}.get(state, state),
                float(case.get("time", 0)),
            )
        )
    return out


def merged(lines: list[dict]) -> list[dict]:
    """Lines with the same claim (parametrized tests) as one row: numbers summed, tests counted."""
    rows: dict[tuple[str, str], dict] = {}
    for line in lines:
        row = rows.setdefault(
            (line["kind"], line["what"]), {"kind": line["kind"], "what": line["what"], "tests": set()}
        )
        row["tests"].add(line["test"].split("[")[0])
        for key, value in line.items():
            if key in ("kind", "what", "test", "at"):
                continue
            row[key] = (
                row.get(key, 0) + value
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else value
            )
    return list(rows.values())


def render(
    lines: list[dict], cases: list[tuple[str, str, float]], rc: int, seconds: float, quick: bool
) -> str:
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    passed = sum(1 for _, state, _ in cases if state == "passed")
    totals = {key: sum(int(line.get(key, 0)) for line in lines) for key, _ in TOTALS}
    out = [
        "# Reliability: load, faults, bad input, security",
        "",
        f"Produced by `make reliability`{' --quick' if quick else ''} at commit {git} on {platform.node()} "
        f"({os.cpu_count()} cores), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {len(cases)} tests in "
        f"{seconds / 60:.1f} min, {passed} passed"
        f"{'' if rc == 0 else f', pytest exit code {rc}: SEE FAILURES BELOW'}.",
        "",
        "| " + " | ".join(label for _, label in TOTALS) + " |",
        "|" + "---|" * len(TOTALS),
        "| " + " | ".join(str(totals[key]) for key, _ in TOTALS) + " |",
        "",
    ]
    by_kind = defaultdict(list)
    for line in merged(lines):
        by_kind[line["kind"]].append(line)
    for kind, title in TITLES.items():
        out += [f"## {title}", ""]
        if not by_kind[kind]:
            out += ["No figures recorded (its tests were not run or did not pass).", ""]
            continue
        out += ["| what | figures | test |", "|---|---|---|"]
        for line in by_kind[kind]:
            figures = ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                for k, v in line.items()
                if k not in ("kind", "what", "tests")
            )
            out.append(
                f"| {line['what']} | {figures} | {', '.join(f'`{t}`' for t in sorted(line['tests']))} |"
            )
        out.append("")
    out += ["## Tests", "", "| test | outcome | seconds |", "|---|---|---|"]
    out += [f"| `{name}` | {state} | {secs:.0f} |" for name, state, secs in cases]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="leave out the slow tests (the 20-run load test)"
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log, junit = Path(tmp) / "figures.jsonl", Path(tmp) / "junit.xml"
        rc, seconds = run_tests(args.quick, args.pytest_args, log, junit)
        if not junit.exists():
            print("pytest wrote no results; reports/reliability.md left as it was", file=sys.stderr)
            return rc or 1
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        REPORT.write_text(render(lines, outcomes(junit), rc, seconds, args.quick))
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
