"""One BO step's acquisition maximisation, BoTorch against acqopt's default, on the bo suite's
problems (paired, in one process).

For each problem of the bo suite, a GP is fitted to ``n_init + n_iter / 2`` random points of the
objective (the size of a mid-run step), LogEI is built exactly as the BO loop builds it, and
BoTorch's ``optimize_acqf`` 10x512 and acqopt's default ``lbfgs`` maximise it alternately (the
order flips every repetition), single-threaded. The bo suite's own per-step times come from
different processes under different load; this is the paired figure.

Run: ``python -m benchmarks run step_time --profile full --threads 1`` on an idle machine.
"""

from __future__ import annotations

import statistics
import time
import warnings
from pathlib import Path

import torch

import acqopt
from acqopt.bo import fit_gp, make_acquisition
from benchmarks.reference import BoTorchOptimizer
from benchmarks.runner import Task
from benchmarks.suites.bo import PROBLEMS, SMALL, _problem

PROFILES = {"full": dict(repeats=6)}


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    """One task per bo problem (digits aside) and acqopt method (``lbfgs`` by default), each
    timing BoTorch and the method alternately in one process; ``--seeds`` sets the
    repetitions."""
    repeats = seeds or PROFILES[profile]["repeats"]
    return [Task(f"step_time/{p}/{repeats}/{m}", measure, dict(name=p, repeats=repeats, method=m),
                 label=f"{m} {p}")
            for p in SMALL if p != "digits"
            for m in methods or ["lbfgs"]]


def measure(name: str, repeats: int, method: str = "lbfgs") -> dict:
    warnings.filterwarnings("ignore")
    objective, space = _problem(name, 0)
    n = PROBLEMS[name]["n_init"] + PROBLEMS[name]["n_iter"] // 2
    g = torch.Generator().manual_seed(0)
    U = torch.stack([space.round_unit(u) for u in
                     torch.rand(n, space.d, generator=g, dtype=torch.float64)])
    Y = -torch.tensor([objective(space.to_params(u)) for u in U],
                      dtype=torch.float64).unsqueeze(-1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = fit_gp(U, Y, closed_form=False)  # the records' GP
    acq = make_acquisition(model, "logei")
    bounds = torch.stack([torch.zeros(space.d), torch.ones(space.d)]).double()
    pair = {"botorch": BoTorchOptimizer.from_name("botorch"),
            method: acqopt.get_optimizer(method)}
    times = {k: [] for k in pair}
    values = {k: [] for k in pair}
    evaluator = None
    for i in range(repeats):
        for key in (list(pair) if i % 2 == 0 else list(pair)[::-1]):
            start = time.perf_counter()
            result = pair[key].optimize(acq, bounds, generator=i)
            times[key].append(time.perf_counter() - start)
            values[key].append(float(result.acq_value))
            evaluator = result.info.get("evaluator") or evaluator
    ratios = [a / b for a, b in zip(times[method], times["botorch"])]
    gaps = [a - b for a, b in zip(values[method], values["botorch"])]
    return {"suite": "step_time", "problem": name, "method": method, "n": n, "d": space.d,
            "repeats": repeats, "times": times, "values": values,
            "botorch": statistics.median(times["botorch"]),
            "acqopt": statistics.median(times[method]), "ratio": statistics.median(ratios),
            "gap": statistics.median(gaps), "evaluator": evaluator}


def report(records: list[dict], path: Path, profile: str) -> str:
    return ("# One BO step: BoTorch 10x512 against acqopt's maximiser\n\n"
            + " ".join(__doc__.split("\n\n")[1].split()) + "\n\n"
            "| problem | d | GP points | method | BoTorch s | method s | paired ratio | method - "
            "BoTorch LogEI, median | evaluator |\n|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(f"| {r['problem']} | {r['d']} | {r['n']} | {r['method']} | "
                        f"{r['botorch']:.3f} | {r['acqopt']:.3f} | {r['ratio']:.2f} | "
                        f"{r['gap']:+.1e} | {r['evaluator']} |" for r in records) + "\n")
