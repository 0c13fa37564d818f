"""What an acquisition evaluation costs, and how much of each method's time it is.

Part 1: per-call and per-point wall time of one value-and-gradient call of LogEI on the
landscape snapshots' GPs, by batch size, through BoTorch (GPyTorch) and through the closed form
(:mod:`acqopt.closed_form`); the two are timed alternately in one process, so their ratio is
paired; then the same for qLogEI over 3 points. Part 2: for each method at BoTorch 10x512's
query count, its wall time, the share of it spent inside the acquisition (``info.acq_seconds``,
timed by the shared counter; the rest is the optimiser's own overhead), calls and queries, with
the closed form on and off, and BoTorch's ``optimize_acqf`` in the same process.

Run: ``python -m benchmarks run cost --profile full --threads 1 [--methods ...]`` on an idle
machine.
"""

from __future__ import annotations

import statistics
import time
import warnings
from pathlib import Path

import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.closed_form import closed_form_acquisition
from acqopt.counting import CountingAcquisition
from benchmarks.runner import Task
from benchmarks.snapshots import acquisition

PROFILES = {"full": dict(repeats=5)}
METHODS = ("lbfgs", "cma-lbfgs", "gennes")
BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
SNAPSHOTS = ("alpine1-d20-n100", "rastrigin-d8-n60", "digits-d4-n35")


def call_seconds(acq, X: torch.Tensor, repeats: int) -> float:
    """Median seconds of one value-and-gradient call on ``X``: the evaluator's own
    ``value_and_grad`` where it has one (as the methods call it), else autograd."""
    direct = getattr(acq, "value_and_grad", None) if X.shape[-2] == 1 else None
    times = []
    for _ in range(repeats):
        Z = X.clone().requires_grad_(direct is None)
        start = time.perf_counter()
        if direct is not None:
            direct(Z)
        else:
            acq(Z).sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    """Per snapshot: the evaluation costs at q = 1 and q = 3, and the methods' time split
    (``--seeds`` sets the repetitions)."""
    repeats = seeds or PROFILES[profile]["repeats"]
    methods = list(methods or METHODS)
    out = [Task(f"cost/evaluation/{name}/q{q}/{repeats}", evaluation,
                dict(snapshot=name, repeats=repeats, q=q), label=f"evaluation {name} q={q}")
           for name in SNAPSHOTS for q in (1, 3)]
    out += [Task(f"cost/methods/{name}/{'-'.join(methods)}/{repeats}", method_split,
                 dict(snapshot=name, methods=methods, repeats=repeats), label=f"methods {name}")
            for name in SNAPSHOTS]
    return out


def evaluation(snapshot: str, repeats: int, q: int = 1) -> dict:
    """LogEI (``q = 1``) or qLogEI over ``q`` points with 128 fixed base samples (``q > 1``):
    median seconds of a value-and-gradient call by batch size, BoTorch's and the closed form's,
    timed alternately."""
    warnings.filterwarnings("ignore")
    acq, bounds = acquisition(snapshot, "logei")
    if q > 1:
        acq = qLogExpectedImprovement(acq.model, best_f=acq.best_f,
                                      sampler=SobolQMCNormalSampler(torch.Size([128]), seed=0))
    fast = closed_form_acquisition(acq)
    record = {"suite": "cost", "part": "evaluation", "snapshot": snapshot, "q": q, "rows": []}
    if fast is None:
        return record
    g = torch.Generator().manual_seed(0)
    for b in BATCHES if q == 1 else BATCHES[:-1]:
        X = torch.rand(b, q, bounds.shape[-1], generator=g, dtype=torch.float64)
        call_seconds(acq, X, 1), call_seconds(fast, X, 1)  # warm-up
        slow = [call_seconds(acq, X, 1) for _ in range(repeats)]
        quick = [call_seconds(fast, X, 1) for _ in range(repeats)]
        record["rows"].append({"batch": b, "botorch": statistics.median(slow),
                               "closed_form": statistics.median(quick)})
    return record


def method_split(snapshot: str, methods: list[str], repeats: int) -> dict:
    """BoTorch 10x512's time and queries, then each method's at those queries, with the closed
    form and with BoTorch's evaluator: wall time, the share inside the acquisition, calls."""
    warnings.filterwarnings("ignore")
    acq, bounds = acquisition(snapshot, "logei")
    times, counter, bt_value = [], None, None
    for seed in range(repeats):
        counter = CountingAcquisition(acq)
        start = time.perf_counter()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            _, bt_value = botorch_optimize_acqf(counter, bounds, q=1, num_restarts=10,
                                                raw_samples=512)
        times.append(time.perf_counter() - start)
    record = {"suite": "cost", "part": "methods", "snapshot": snapshot,
              "botorch": {"time": statistics.median(times), "calls": counter.calls,
                          "queries": counter.queries, "value": float(bt_value)}, "rows": []}
    evaluators = {"closed form": closed_form_acquisition(acq), "botorch": acq}
    for method in methods:
        opt = acqopt.get_optimizer(method, fast=False)  # the evaluator is chosen here
        for evaluator, evaluated in evaluators.items():
            if evaluated is None:
                continue
            runs = [opt.optimize(evaluated, bounds, budget=counter.queries, generator=seed)
                    for seed in range(repeats)]
            record["rows"].append({
                "method": method, "evaluator": evaluator,
                "time": statistics.median(r.wall_time for r in runs),
                "share": statistics.median(min(1.0, r.info.acq_seconds / r.wall_time)
                                           for r in runs),
                "calls": runs[0].counts.calls, "queries": runs[0].counts.queries,
                "value": float(runs[0].acq_value)})
    return record


def report(records: list[dict], path: Path, profile: str) -> str:
    def evaluation_table(q: int) -> str:
        lines = ["| snapshot | batch | BoTorch ms/call | closed form ms/call | BoTorch us/point "
                 "| closed form us/point | ratio |", "|---|---|---|---|---|---|---|"]
        for r in records:
            if r["part"] != "evaluation" or r["q"] != q:
                continue
            if not r["rows"]:
                lines.append(f"| {r['snapshot']} | - | closed form not applicable | | | | |")
            for row in r["rows"]:
                b, s, f = row["batch"], row["botorch"], row["closed_form"]
                lines.append(f"| {r['snapshot']} | {b} | {1e3 * s:.2f} | {1e3 * f:.2f} | "
                             f"{1e6 * s / b:.1f} | {1e6 * f / b:.1f} | {f / s:.2f} |")
        return "\n".join(lines)

    lines = ["| snapshot | method | evaluator | time s | / BoTorch | in acquisition | calls "
             "| queries | value - BoTorch's |", "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if r["part"] != "methods":
            continue
        bt = r["botorch"]
        lines.append(f"| {r['snapshot']} | botorch 10x512 | botorch | {bt['time']:.2f} | 1 | - "
                     f"| {bt['calls']} | {bt['queries']} | 0 |")
        for row in r["rows"]:
            lines.append(f"| {r['snapshot']} | {row['method']} | {row['evaluator']} | "
                         f"{row['time']:.2f} | {row['time'] / bt['time']:.2f} | "
                         f"{row['share']:.0%} | {row['calls']} | {row['queries']} | "
                         f"{row['value'] - bt['value']:+.2g} |")
    return (
        "# What an acquisition evaluation costs\n\n"
        "LogEI value and gradient on the landscape snapshots' GPs (single thread), BoTorch's "
        "path (GPyTorch) against the closed form; medians of paired, alternating calls in one "
        "process. Ratio = closed form / BoTorch.\n\n" + evaluation_table(1)
        + "\n\n## qLogEI over q = 3 points\n\nBoTorch's MC acquisition with 128 fixed Sobol "
        "base samples, through GPyTorch's posterior against the closed form's joint posterior "
        "(the same sampler and formula); batch = number of q-sets.\n\n" + evaluation_table(3)
        + "\n\n## Where each method's time goes\n\nAt BoTorch 10x512's query count; time is the "
        "median over seeds; 'in acquisition' is the share of wall time inside the acquisition's "
        "forward and backward passes or its own value_and_grad (the shared counter's "
        "`acq_seconds`), the rest is the optimiser's overhead.\n\n" + "\n".join(lines) + "\n")
