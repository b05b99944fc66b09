"""Run the fault suite on PostgreSQL and Redis and rewrite docs/reliability.md with what it observed.

Usage: TEST_DATABASE_URL=postgresql://... TEST_REDIS_URL=redis://... python -m tests.faults.report
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from tests.faults.harness import REPOSITORY, RESULTS_FILE_VARIABLE

DOC_PATH = REPOSITORY / "docs" / "reliability.md"
TABLE_START = "<!-- fault-results:start -->"
TABLE_END = "<!-- fault-results:end -->"


def run_suite(results_path: Path) -> int:
    environment = dict(os.environ, **{RESULTS_FILE_VARIABLE: str(results_path)})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--backend=services", "tests/faults"]
    return subprocess.run(command, cwd=REPOSITORY, env=environment).returncode


def render_table(rows: list[dict]) -> str:
    lines = [
        "| Fault | How the suite injects it | Finds lost | Duplicates | Time to recover (s) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        recovery = "-" if row["recovery_seconds"] is None else f"{row['recovery_seconds']:.1f}"
        lines.append(f"| {row['fault']} | {row['injection']} | {row['finds_lost']} | {row['duplicates']} | {recovery} |")
    machine = f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += ["", f"Produced by `python -m tests.faults.report` on {when}, {machine}."]
    return "\n".join(lines)


def main() -> int:
    if not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")):
        print("report: set TEST_DATABASE_URL and TEST_REDIS_URL to a PostgreSQL database and a Redis database of your own", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        results_path = Path(directory) / "results.jsonl"
        results_path.touch()
        exit_code = run_suite(results_path)
        rows = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
    if exit_code != 0:
        print(f"report: the fault suite failed (exit {exit_code}); docs/reliability.md is unchanged", file=sys.stderr)
        return exit_code

    text = DOC_PATH.read_text()
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    DOC_PATH.write_text(f"{head}{TABLE_START}\n{render_table(rows)}\n{TABLE_END}{tail}")
    print(f"report: wrote {len(rows)} results to {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
