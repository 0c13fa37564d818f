"""Why GENNES's defaults: width h x learning rate eta on LogEI landscapes (the paper is silent).

Gap = the best LogEI found by ``lbfgs`` at 3000 queries (3 seeds, the reference) minus GENNES's
at 1000 queries (about BoTorch 10x512's count), over 3 landscape snapshots x 3 seeds, for each
width and learning rate.

Run: ``python -m benchmarks run gennes_sweep --profile full`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import itertools
import statistics
import warnings
from pathlib import Path

import acqopt
from benchmarks.runner import Task
from benchmarks.snapshots import acquisition

PROBLEMS = ("alpine1-d20-n115", "rastrigin-d8-n60", "schwefel-d10-n60")
WIDTHS = (32, 64, 128)
LRS = (3e-4, 1e-3, 3e-3)
PROFILES = {"full": dict(seeds=3)}


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    """The reference runs and the sweep (``methods`` is not used: the sweep is GENNES's)."""
    seeds = seeds or PROFILES[profile]["seeds"]
    out = [Task(f"gennes_sweep/ref/{p}/{s}", run, dict(problem=p, seed=s, width=None, lr=None),
                label=f"lbfgs {p} seed {s}") for p in PROBLEMS for s in range(seeds)]
    out += [Task(f"gennes_sweep/{w}/{lr:g}/{p}/{s}", run, dict(problem=p, seed=s, width=w, lr=lr),
                 label=f"gennes h={w} lr={lr:g} {p} seed {s}")
            for w, lr in itertools.product(WIDTHS, LRS) for p in PROBLEMS for s in range(seeds)]
    return out


def run(problem: str, seed: int, width: int | None, lr: float | None) -> dict:
    """One maximisation: the reference (``width`` None: ``lbfgs`` at 3000 queries) or GENNES at
    ``width``, ``lr`` and 1000 queries."""
    warnings.filterwarnings("ignore")
    acq, bounds = acquisition(problem)
    if width is None:
        result = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, budget=3000, generator=seed)
    else:
        result = acqopt.get_optimizer("gennes", width=width, lr=lr).optimize(
            acq, bounds, budget=1000, generator=seed)
    return {"suite": "gennes_sweep", "problem": problem, "seed": seed, "width": width, "lr": lr,
            "value": float(result.acq_value), "queries": result.counts.queries}


def report(records: list[dict], path: Path, profile: str) -> str:
    ref: dict[str, float] = {}
    for r in records:
        if r["width"] is None:
            ref[r["problem"]] = max(ref.get(r["problem"], float("-inf")), r["value"])
    lines = ["| width h | lr eta | median gap (nats) | worst gap | runs within 0.01 |",
             "|---|---|---|---|---|"]
    for width, lr in itertools.product(WIDTHS, LRS):
        gaps = [ref[r["problem"]] - r["value"] for r in records
                if (r["width"], r["lr"]) == (width, lr) and r["problem"] in ref]
        if gaps:
            lines.append(f"| {width} | {lr:g} | {statistics.median(gaps):.3f} | {max(gaps):.3f} "
                         f"| {sum(g <= 0.01 for g in gaps)}/{len(gaps)} |")
    return ("# GENNES width x learning-rate sweep\n\n" + " ".join(__doc__.split("\n\n")[1].split())
            + "\n\n" + "\n".join(lines) + "\n")
