"""Fault injection on the benchmark store: writers killed at random points, torn last lines,
garbage lines and a concurrent writer, then a resume; no record may be lost or duplicated."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from benchmarks.runner import Task, run_tasks
from benchmarks.store import read

ROOT = Path(__file__).resolve().parents[1]
N = 40

# A writer: the runner over N quick tasks (each sleeps, so a kill lands at any moment).
WRITER = """
import sys, time
from pathlib import Path
from benchmarks.runner import Task, run_tasks

def slow(i):
    time.sleep(float(sys.argv[2]))
    return {"i": i, "pad": "x" * 200}

run_tasks([Task(f"k{i}", slow, {"i": i}) for i in range(%d)], Path(sys.argv[1]), progress=False)
""" % N


def _quick(i):
    return {"i": i, "pad": "x" * 200}


def _complete_keys(path: Path) -> Counter:
    """Keys of the complete record lines (a newline-terminated JSON object), with counts."""
    keys = Counter()
    for line in path.read_bytes().split(b"\n")[:-1]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "key" in record:
            keys[record["key"]] += 1
    return keys


def _writer(path: Path, seconds: float = 0.02) -> subprocess.Popen:
    """A writer whose every task takes ``seconds``."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(seconds)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_random_kills_torn_lines_garbage_and_a_second_writer_lose_and_duplicate_nothing(
        tmp_path):
    rng = random.Random(0)
    path = tmp_path / "r.jsonl"
    seen: set[str] = set()  # every key that was ever a complete record
    for round_ in range(6):
        proc = _writer(path, 1.0 if round_ == 2 else 0.02)  # round 2 holds the file longer
        start, deadline = _lines(path), time.time() + 120
        target = start + rng.randint(1, 4)
        while time.time() < deadline and _lines(path) < target and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.03))  # anywhere inside the next record's run or write
        if round_ == 2:
            # A concurrent writer while the first holds the file: refused, writes nothing.
            second = _writer(path)
            _, err = second.communicate(timeout=120)
            assert second.returncode != 0 and b"being written by another run" in err
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts = _complete_keys(path)
        assert max(counts.values(), default=1) == 1
        seen |= set(counts)
        fault = rng.choice(["torn", "garbage", "torn+garbage", "unterminated", "none"])
        with open(path, "ab") as fh:
            if fault == "unterminated" and path.read_bytes().endswith(b"\n"):
                # A whole record whose newline was lost: kept and counted as done.
                key = min((f"k{i}" for i in range(N) if f"k{i}" not in counts),
                          key=lambda k: int(k[1:]))
                fh.write(json.dumps({"key": key, "i": int(key[1:])}).encode())
                seen.add(key)
            if "garbage" in fault and path.read_bytes().endswith(b"\n"):
                fh.write(rng.choice([b"5\n", b"null\n", b"[1, 2]\n", b"\n"]))
            if "torn" in fault and path.read_bytes().endswith(b"\n"):
                line = json.dumps({"key": f"k{N + round_}", "pad": "y" * 100}).encode()
                fh.write(line[: rng.randint(1, len(line) - 1)])  # a write cut short
    # The resume finishes the work (in this process, through the same runner).
    tasks = [Task(f"k{i}", _quick, {"i": i}) for i in range(N)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the injected garbage lines are reported, not fatal
        run_tasks(tasks, path, progress=False)
        records = read(path)
    counts = _complete_keys(path)
    assert seen <= set(counts)  # nothing complete was lost
    assert set(counts) == {f"k{i}" for i in range(N)}  # the torn records never became records
    assert max(counts.values()) == 1  # nothing duplicated, even before read() de-duplicates
    assert sorted(r["i"] for r in records) == list(range(N))
    assert path.read_bytes().endswith(b"\n")


def test_a_resume_with_nothing_to_append_still_restores_the_final_newline(tmp_path):
    from benchmarks.runner import Task, run_tasks
    from benchmarks.store import read

    out = tmp_path / "r.jsonl"
    out.write_text('{"key": "a", "v": 1}\n{"key": "b", "v": 2}')  # the newline was lost
    tasks = [Task("a", dict), Task("b", dict)]
    assert run_tasks(tasks, out, progress=False) == 0
    assert out.read_text().endswith("}\n")
    with out.open("a") as f:  # a later append no longer joins the last record
        f.write('{"key": "c", "v": 3}\n')
    assert [r["key"] for r in read(out)] == ["a", "b", "c"]
