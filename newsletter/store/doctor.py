"""The doctor's runs: when, the counts, and every check's row (for `status` and the console)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class DoctorRun:
    at: str  # UTC
    ok: int
    warnings: int
    errors: int
    checks: list[dict[str, Any]]  # key, title, result, found, fix

    @property
    def problems(self) -> list[dict[str, Any]]:
        """The rows that are not ok, errors first."""
        rows = [c for c in self.checks if c.get("result") != "ok"]
        return sorted(rows, key=lambda c: c.get("result") != "error")


def create_table(db: Database) -> None:
    """The table (migration m018_doctor)."""
    db.execute(
        """
        CREATE TABLE doctor_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,                -- UTC
            ok INTEGER NOT NULL,
            warnings INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            checks TEXT NOT NULL             -- JSON: [{key, title, result, found, fix}]
        )
        """
    )


def record_run(db: Database, at: str, checks: list[dict[str, Any]]) -> None:
    """Store one run (older runs stay: monitoring may want the history)."""
    counts = {r: sum(c["result"] == r for c in checks) for r in ("ok", "warning", "error")}
    db.table("doctor_runs").insert(
        {
            "at": at,
            "ok": counts["ok"],
            "warnings": counts["warning"],
            "errors": counts["error"],
            "checks": json.dumps(checks, ensure_ascii=False),
        }
    )


def last_run(db: Database) -> DoctorRun | None:
    if not db.table("doctor_runs").exists():
        return None
    for row in db.query("SELECT * FROM doctor_runs ORDER BY id DESC LIMIT 1"):
        return DoctorRun(
            row["at"], row["ok"], row["warnings"], row["errors"], json.loads(row["checks"])
        )
    return None
