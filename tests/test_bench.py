"""The benchmark scripts still run against the current code (tiny sizes, SQLite only): a
change of a storage or page API must not leave `make bench` broken. Their figures are not
checked here (timed assertions do not belong in tests); only that each row was measured."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def rate_of(table: str, row: str) -> float:
    found = re.search(rf"^\| {re.escape(row)} \|(?: *\|)* *([\d,]+) \|", table, re.MULTILINE)
    assert found, f"no figure for {row!r} in:\n{table}"
    return float(found.group(1).replace(",", ""))


def test_storage_benchmark_measures_every_operation() -> None:
    table = run_script("bench/storage_commits.py", "--seconds", "0.05", "--no-pg")
    for row in ("submit", "submit, 8 tasks", "draft save", "draft load", "tracking"):
        assert rate_of(table, row) > 0


def test_page_benchmark_measures_every_page() -> None:
    args = ["--requests", "40", "--rounds", "1", "--concurrency", "2", "--no-write"]
    report = run_script("bench/pages.py", *args, "--database", "sqlite")
    for row in ("form step GET", "step POST (validated, draft saved)", "tracking page GET"):
        assert rate_of(report, row) > 0
    assert rate_of(report, "submission (récapitulatif POST)") > 0


def test_instruction_benchmark_counts_both_requests() -> None:
    require(shutil.which("valgrind") is not None, "valgrind is not installed")
    args = ["--submissions", "2", "--warm-up", "1", "--concurrency", "2"]
    table = run_script("bench/instructions.py", *args)
    assert rate_of(table, "bare page GET") > 0
    assert rate_of(table, "submission (récapitulatif POST)") > 0
