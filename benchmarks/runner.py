"""Runs a suite's tasks (skipping completed ones) in a local process pool, or on Ray."""

from __future__ import annotations

import os
import platform
import socket
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from benchmarks.store import Appender, done_keys, read, repair


@dataclass(frozen=True)
class Task:
    """One benchmark run: ``fn(**kwargs)`` returns the record's measurements."""

    key: str
    fn: Callable[..., dict]
    kwargs: dict = field(default_factory=dict)
    label: str = ""


def environment() -> dict:
    """Library versions, host and torch's thread count, stored in every record. A BO run is
    reproducible only when all of them match: with 1 and 2 threads the same seed's run (branin,
    EI, BoTorch) proposes another point from step 14 on, as sums are reduced in another order."""
    import botorch
    import cma
    import gpytorch
    import linear_operator
    import numpy
    import scipy
    import torch

    import acqopt

    return {
        "versions": {
            "acqopt": acqopt.__version__,
            "torch": torch.__version__,
            "botorch": botorch.__version__,
            "gpytorch": gpytorch.__version__,
            "linear_operator": linear_operator.__version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "cma": cma.__version__,
            "python": platform.python_version(),
        },
        "host": {"name": socket.gethostname(), "cpus": os.cpu_count(),
                 "machine": platform.machine(), "threads": torch.get_num_threads()},
    }


def _execute(task: Task, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    record = task.fn(**task.kwargs)
    return {"key": task.key, **record, **environment()}


def run_tasks(
    tasks: list[Task],
    out: Path,
    *,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    progress: bool = True,
    command: str | None = None,
    threads: int | None = None,
) -> int:
    """Runs the tasks whose key is not yet in ``out``; returns how many ran. ``command`` (the
    command line that asked for them) is stored in every record. ``threads``: torch threads
    per worker (default: the CPUs shared among the workers; give 1 when other runs share the
    machine, as oversubscribed threads slow small GP operations many times over)."""
    repair(out)  # whether or not this run appends
    done = done_keys(out)
    if all(t.key in done for t in tasks):
        return 0  # nothing to do: the file is not opened for appending
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, workers))
    with Appender(out) as store:  # locks the file and repairs its last line first
        done = done_keys(out)
        todo = [t for t in tasks if t.key not in done]
        bar = _bar(len(tasks), len(tasks) - len(todo), progress)
        if executor == "ray":
            _run_ray(todo, store, bar, address, workers, command)
        elif workers <= 1:
            for task in todo:
                bar.set_postfix_str(task.label or task.key, refresh=True)
                store.append({**_execute(task, threads), "command": command})
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent) as pool:
                futures = {pool.submit(_execute, t, threads): t for t in todo}
                for fut in as_completed(futures):
                    store.append({**fut.result(), "command": command})
                    bar.set_postfix_str(futures[fut].label or futures[fut].key, refresh=True)
                    bar.update()
    bar.close()
    return len(todo)


def _die_with_parent() -> None:
    """Asks Linux to end this worker when its parent dies (even by kill -9)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end when their queue closes
        pass


def _run_ray(todo, store, bar, address, workers, command) -> None:
    """One Ray task per run (1 CPU, 1 torch thread); records are written here, by the driver.

    Without ``address`` a local Ray instance with ``workers`` CPUs is started. The repository is
    shipped to the workers as Ray's ``working_dir``, so ``acqopt`` and ``benchmarks`` import there
    at the driver's version; the cluster's Python environment must hold the dependencies.
    """
    try:
        import ray
    except ImportError:
        raise SystemExit("--executor ray needs the 'ray' extra: pip install -e '.[ray]'") from None
    root = Path(__file__).resolve().parents[1]
    runtime_env = {
        "working_dir": str(root),
        "excludes": [".git", ".venv", "benchmarks/results", "**/__pycache__", "*.png", "*.jsonl"],
        "env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    }
    kwargs = dict(num_cpus=workers) if address is None else dict(address=address)
    started = not ray.is_initialized()
    if started:
        ray.init(**kwargs, runtime_env=runtime_env, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_execute)
        pending = {remote.remote(t, 1): t for t in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                store.append({**ray.get(ref), "command": command})
                bar.set_postfix_str(task.label or task.key, refresh=True)
                bar.update()
    finally:
        if started:
            ray.shutdown()


def _bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="run", dynamic_ncols=True)


def add_run_arguments(parser, results: Path) -> None:
    """The options every standalone benchmark (``python -m benchmarks.<name>``) takes."""
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=results)
    parser.add_argument("--no-progress", action="store_true")


def run_and_write(name: str, tasks: list[Task], page: Callable[[list[dict], Path], str], args,
                  command: str) -> str:
    """Runs ``tasks`` into ``<out>/<name>.jsonl`` (resumable), writes ``page`` of all its records
    to ``<out>/<name>.md`` and returns that text; ``args`` holds :func:`add_run_arguments`'s."""
    path = args.out / f"{name}.jsonl"
    run_tasks(tasks, path, workers=args.workers, progress=not args.no_progress, command=command)
    text = page(read(path), path)
    (args.out / f"{name}.md").write_text(text)
    return text
