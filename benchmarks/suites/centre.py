"""Where each maximiser puts its proposal on the landscape snapshots: how far from the middle of
the box, and what the objective is there.

A test function whose values grow away from the middle of its box (Alpine1 and Rastrigin on
symmetric boxes: their global minimum is the centre) rewards a maximiser that leans towards the
middle, whatever acquisition value it reaches; one whose minimum lies off-centre (Schwefel's
near a corner) punishes it. So a method that wins the BO result on such a problem must be
checked for that lean before its win is read as a better maximiser. Each record is one
maximisation of EI or LogEI on one snapshot (``benchmarks.snapshots``), at the method's
default settings, with the proposal's distance from the box's middle (unit cube; the farthest a
point can be is ``sqrt(d) / 2``), the objective at the proposal (minimised), and the acquisition
value reached.

Run: ``python -m benchmarks run centre --profile full [--methods botorch lbfgs ...]``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import acqopt
from benchmarks import snapshots
from benchmarks.reference import BoTorchOptimizer
from benchmarks.runner import Task

METHODS = ("botorch", "lbfgs", "cma-lbfgs", "gennes")
# Distance of each function's global minimiser from the middle of its box (unit cube).
OPTIMUM_FROM_CENTRE = {"alpine1": 0.0, "rastrigin": 0.0,
                       "schwefel": (420.9687 / 1000) * 10 ** 0.5, "digits": None}


def run(snapshot: str, acquisition: str, method: str, seed: int) -> dict:
    warnings.filterwarnings("ignore")
    acq, bounds = snapshots.acquisition(snapshot, acquisition)
    optimizer = (BoTorchOptimizer.from_name(method) if method.startswith("botorch")
                 else acqopt.get_optimizer(method))
    result = optimizer.optimize(acq, bounds, generator=seed)
    function = snapshot.split("-")[0]
    (run_,) = [r for r in snapshots.RUNS if r.function == function]
    u = snapshots._round(run_, result.candidates.reshape(1, -1).double())
    return {"suite": "centre", "problem": snapshot, "function": function,
            "acquisition": acquisition, "method": method, "seed": seed,
            "dist_centre": float((u - 0.5).norm()), "d": int(u.shape[-1]),
            "objective": float(snapshots._objective(run_)(u)[0]),
            "value": float(result.acq_value)}


PROFILES = {"full": dict(seeds=3)}


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    seeds, methods = seeds or PROFILES[profile]["seeds"], methods or list(METHODS)
    return [Task(f"centre/{snapshot}/{acq}/{seed}/{method}", run,
                 dict(snapshot=snapshot, acquisition=acq, method=method, seed=seed),
                 label=f"{method} {snapshot} {acq} seed {seed}")
            for seed in range(seeds) for snapshot in snapshots.snapshot_names()
            for acq in ("ei", "logei") for method in methods]


def page(records: list[dict], path: Path) -> str:
    lines = ["# Where the maximisers propose: distance from the middle of the box\n",
             " ".join(__doc__.split("\n\n")[1].split()).replace(
                 "", "") + "\n",
             "Medians over the function's three snapshots, both acquisitions and every seed; "
             "'LogEI against BoTorch' is the median of the method's LogEI value minus "
             "BoTorch's on the same snapshot and seed (nats; EI is left out there, its scale "
             "differs between snapshots).\n",
             "| function (d) | optimum from centre | method | runs | to centre, median [IQR] | "
             "objective at the proposal, median | LogEI against BoTorch |",
             "|---|---|---|---|---|---|---|"]
    botorch = {(r["problem"], r["acquisition"], r["seed"]): r["value"]
               for r in records if r["method"] == "botorch"}
    order = {m: i for i, m in enumerate(METHODS)}
    keys = sorted({(r["function"], r["method"]) for r in records},
                  key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    for function, method in keys:
        rs = [r for r in records if (r["function"], r["method"]) == (function, method)]
        dist = np.array([r["dist_centre"] for r in rs])
        gap = [r["value"] - botorch[(r["problem"], "logei", r["seed"])] for r in rs
               if r["acquisition"] == "logei" and (r["problem"], "logei", r["seed"]) in botorch]
        q1, q2, q3 = np.quantile(dist, [0.25, 0.5, 0.75])
        optimum = OPTIMUM_FROM_CENTRE.get(function)
        lines.append(f"| {function} ({rs[0]['d']}) | "
                     f"{'-' if optimum is None else f'{optimum:.2f}'} | {method} | {len(rs)} | "
                     f"{q2:.3f} [{q1:.3f}, {q3:.3f}] | "
                     f"{np.median([r['objective'] for r in rs]):.4g} | "
                     + (f"{np.median(gap):+.3f} |" if gap else "- |"))
    return "\n".join(lines) + "\n"


def report(records: list[dict], path: Path, profile: str) -> str:
    return page(records, path)
