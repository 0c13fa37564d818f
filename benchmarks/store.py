"""Benchmark records: one JSON line per run, appended atomically, read back for resuming.

A record is written with a single ``os.write`` on a file opened with ``O_APPEND`` and then
fsynced, so a process killed at any moment leaves at most one partial last line. Reading skips
a partial line, and opening for append first cuts it off (or ends it, if it is a whole record
that lost its newline) before the done records are counted, so a resumed run neither loses a
complete record nor duplicates one. Only one run appends to a file at a time (a lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from pathlib import Path


def read(path: Path) -> list[dict]:
    """The records in ``path``, first occurrence per key (none if it does not exist).

    A partial last line (a killed run) and lines that are not JSON objects are skipped, the
    latter with a warning; a record whose key was seen earlier in the file is dropped.
    """
    if not path.exists():
        return []
    records, keys, skipped = [], set(), 0
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a partial last line from a killed run
            continue
        if not isinstance(record, dict):
            skipped += 1
            continue
        key = record.get("key")
        if key is not None:
            if key in keys:
                continue
            keys.add(key)
        records.append(record)
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} line(s) that are not records", stacklevel=2)
    return records


def repair(path: Path) -> None:
    """Ends (or cuts off) a last line that lost its newline, as opening for append does, even
    when nothing will be appended: otherwise a line appended later joins it and both are lost.
    A file that cannot be written is left as it is (its readers skip such a line)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return
    except FileNotFoundError:
        return
    try:
        Appender(path).close()
    except PermissionError:
        warnings.warn(f"{path}: its last line has no newline and the file is read-only",
                      stacklevel=2)


def done_keys(path: Path) -> set[str]:
    return {r["key"] for r in read(path) if "key" in r}


class Appender:
    """Appends records to a JSONL file; one atomic write per record.

    Holds an exclusive advisory lock on the file while open, so a second run on the same file
    refuses to start (:class:`StoreLocked`) instead of interleaving duplicate records.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise StoreLocked(
                f"{path} is being written by another run; wait for it to finish or use "
                "another --out"
            ) from None
        self._repair()

    def _repair(self) -> None:
        """Ends a last line that lost its newline: kept if it is a whole record, cut off if it
        is a partial one left by a killed run."""
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        last = data[data.rfind(b"\n") + 1:]
        try:
            whole = isinstance(json.loads(last), dict)
        except json.JSONDecodeError:
            whole = False
        if whole:
            os.write(self.fd, b"\n")
        else:
            os.ftruncate(self.fd, len(data) - len(last))
        os.fsync(self.fd)

    def append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        os.write(self.fd, line)
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)  # releases the lock

    def __enter__(self) -> "Appender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StoreLocked(RuntimeError):
    """Another run holds the lock on the records file."""
