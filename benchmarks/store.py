"""Benchmark records: one JSON line per run, appended atomically, read back for resuming.

A record is written with a single ``os.write`` on a file opened with ``O_APPEND`` and then
fsynced, so a process killed at any moment leaves at most one partial last line. Reading skips
a partial line, and opening for append first cuts it off, so a resumed run neither loses a
complete record nor duplicates one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read(path: Path) -> list[dict]:
    """All complete records in ``path`` (none if it does not exist)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a partial last line from a killed run
            continue
    return records


def done_keys(path: Path) -> set[str]:
    return {r["key"] for r in read(path) if "key" in r}


class Appender:
    """Appends records to a JSONL file; one atomic write per record."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._repair()
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _repair(self) -> None:
        """Cuts off a partial last line left by a killed run."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)

    def append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        os.write(self.fd, line)
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "Appender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
