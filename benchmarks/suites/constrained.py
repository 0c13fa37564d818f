"""Nonlinear input constraints: acquisition landscapes on BoTorch's constrained test problems.

Problems (BoTorch's ``ConstrainedSyntheticTestFunction``s, objectives minimised): pressure-vessel
(4-D, 4 constraints), welded-beam (``WeldedBeamSO``, 4-D, 6), tension-compression-string
(3-D, 4), speed-reducer (7-D, 11), keane-bump (``KeaneBumpFunction``, 10-D, 2). Uniform
sampling finds a feasible point with probability 0.17, 0.001, 0.009, 0.002 and 0.997.

A landscape is LogEI on acqopt's GP fitted to ``n_data`` points drawn uniformly in the box
(seeded), with the problem's constraints (``evaluate_slack_true(x) >= 0``, one callable per
constraint) as ``nonlinear_inequality_constraints`` on the candidate. Methods:

- ``botorch``: BoTorch's ``optimize_acqf`` with the feasible starts it requires: uniform points
  are drawn until ``RAW`` feasible ones are found (constraint evaluations are not counted; the
  draw is timed), their LogEI is evaluated (``RAW`` queries) and the best ``RESTARTS`` start
  SLSQP. The reference; every other method gets exactly its queries, in the same process, the
  order alternating with the seed.
- any acqopt method name: ``optimize_acqf``'s constraints **without** starts, at that budget;
- ``default:NAME``: the method without a budget (its own stopping rules).

Judged by LogEI at the candidate and by its feasibility (largest violation, in the
constraints' units; feasible means at most 1e-6, BoTorch's tolerance).
"""

from __future__ import annotations

import functools
import time
import warnings
from collections import defaultdict
from pathlib import Path
from statistics import median

import torch

from acqopt.bo.model import fit_gp, make_acquisition
from acqopt.counting import CountingAcquisition
from benchmarks import methods as specs
from benchmarks.report import fmt, paired
from benchmarks.runner import Task

PROBLEMS = {
    "pressure-vessel": ("PressureVessel", {}, 30),
    "welded-beam": ("WeldedBeamSO", {}, 30),
    "tension-compression-string": ("TensionCompressionString", {}, 30),
    "speed-reducer": ("SpeedReducer", {}, 50),
    "keane-bump": ("KeaneBumpFunction", {"dim": 10}, 50),
}
RAW, RESTARTS = 512, 10
TOL = 1e-6
METHODS = ("botorch", "lbfgs", "default:lbfgs", "cma-lbfgs")
PROFILES = {
    "smoke": dict(problems=["tension-compression-string"], seeds=1, methods=["lbfgs"]),
    "quick": dict(problems=list(PROBLEMS), seeds=2, methods=None),
    "full": dict(problems=list(PROBLEMS), seeds=10, methods=None),
}


@functools.lru_cache(maxsize=8)
def landscape(name: str, seed: int):
    """``(acq, bounds, constraints, test_problem)``: LogEI on a GP fitted to ``n_data`` uniform
    points of the problem's objective (negated: acquisitions are maximised)."""
    from botorch.test_functions import synthetic

    cls, kwargs, n_data = PROBLEMS[name]
    f = getattr(synthetic, cls)(**kwargs).to(torch.float64)
    bounds = f.bounds.to(torch.float64)
    g = torch.Generator().manual_seed(1000 + seed)
    X = bounds[0] + torch.rand(n_data, f.dim, generator=g, dtype=torch.float64) * (
        bounds[1] - bounds[0])
    Y = -f.evaluate_true(X).unsqueeze(-1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = fit_gp(X, Y, bounds=bounds, closed_form=False)  # the records' GPs
    constraints = [(functools.partial(_slack, f, j), True) for j in range(f.num_constraints)]
    return make_acquisition(model, "logei"), bounds, constraints, f


def _slack(f, j: int, x: torch.Tensor) -> torch.Tensor:
    """Constraint ``j`` at one point (``d``) or a batch (``N x d``): acqopt calls a callable
    that takes batches once per batch."""
    return f.evaluate_slack_true(x.reshape(-1, f.dim))[:, j].reshape(x.shape[:-1])


def violation(f, X: torch.Tensor) -> float:
    """The largest constraint violation of ``q x d`` candidates (0 when feasible)."""
    return float((-f.evaluate_slack_true(X.reshape(-1, f.dim))).clamp_min(0.0).max())


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    return [Task(f"constrained/{name}/{seed}/{method}", run,
                 dict(problem=name, seed=seed, method=method),
                 label=f"{method} {name} seed {seed}")
            for seed in range(seeds or p["seeds"]) for name in p["problems"]
            for method in methods or p["methods"] or METHODS]


def _feasible_starts(f, bounds, seed: int) -> torch.Tensor:
    """``RAW`` feasible points, drawn uniformly (rejection sampling, seeded)."""
    g = torch.Generator().manual_seed(seed)
    found = []
    while sum(x.shape[0] for x in found) < RAW:
        X = bounds[0] + torch.rand(100_000, f.dim, generator=g, dtype=torch.float64) * (
            bounds[1] - bounds[0])
        found.append(X[(f.evaluate_slack_true(X) >= 0).all(-1)])
    return torch.cat(found)[:RAW]


def _botorch(acq, bounds, constraints, f, seed: int) -> dict:
    """BoTorch from feasible starts; ``candidates`` None when it raises that every start ended
    infeasible (a run of BoTorch that returns nothing, recorded as such)."""
    from botorch.exceptions.errors import CandidateGenerationError
    from botorch.optim import optimize_acqf

    counter = CountingAcquisition(acq)
    start = time.perf_counter()
    raw = _feasible_starts(f, bounds, seed).unsqueeze(1)
    with torch.no_grad():
        values = counter(raw)
    starts = raw[values.argsort(descending=True)[:RESTARTS]]
    try:
        X, _ = optimize_acqf(counter, bounds, 1, RESTARTS,
                             nonlinear_inequality_constraints=constraints,
                             batch_initial_conditions=starts)
    except CandidateGenerationError as e:  # SLSQP ended infeasible from every feasible start
        return {"candidates": None, "counts": counter.counts, "error": str(e).split(". ")[0],
                "wall_time": time.perf_counter() - start}
    return {"candidates": X, "counts": counter.counts, "wall_time": time.perf_counter() - start}


def _method(acq, bounds, constraints, method: str, budget: int, seed: int) -> dict:
    start = time.perf_counter()
    optimizer = specs.resolve(method.removeprefix("default:"))
    result = optimizer.optimize(acq, bounds, generator=seed,
                                nonlinear_inequality_constraints=constraints,
                                budget=None if method.startswith("default:") else budget)
    return {"candidates": result.candidates, "counts": result.counts,
            "wall_time": time.perf_counter() - start, "status": result.status.value}


def run(problem: str, seed: int, method: str) -> dict:
    warnings.filterwarnings("ignore")
    acq, bounds, constraints, f = landscape(problem, seed)
    if method == "botorch":
        res = bt = _botorch(acq, bounds, constraints, f, seed)
    elif seed % 2 == 0:
        bt = _botorch(acq, bounds, constraints, f, seed)
        res = _method(acq, bounds, constraints, method, bt["counts"].queries, seed)
    else:  # odd seeds: the method first (its budget from a BoTorch run, which is deterministic)
        budget = _botorch(acq, bounds, constraints, f, seed)["counts"].queries
        res = _method(acq, bounds, constraints, method, budget, seed)
        bt = _botorch(acq, bounds, constraints, f, seed)
    def judged(r: dict) -> tuple:
        """LogEI and violation at a run's candidate; None for a run that returned none."""
        if r["candidates"] is None:
            return None, None
        with torch.no_grad():
            return float(acq(r["candidates"].reshape(1, 1, -1))), violation(f, r["candidates"])

    (value, viol), (bt_value, bt_viol) = judged(res), judged(bt)
    return {
        "suite": "constrained", "problem": problem, "seed": seed, "method": method,
        "budget": bt["counts"].queries, "logei_value": value, "violation": viol,
        "status": "failed" if res["candidates"] is None else res.get("status", ""),
        "error": res.get("error"), "queries": res["counts"].queries,
        "calls": res["counts"].calls, "wall_time": res["wall_time"],
        "candidate": None if res["candidates"] is None else res["candidates"].reshape(-1).tolist(),
        "botorch_value": bt_value, "botorch_violation": bt_viol,
        "botorch_wall_time": bt["wall_time"],
    }


# -- the results page ----------------------------------------------------------------------

def report(records: list[dict], path: Path, profile: str) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["problem"], r["method"])].append(r)
    lines = ["| problem | method | runs | feasible | LogEI | LogEI - botorch "
             "| vs botorch (w/t/l, p) | queries | time s | time / botorch |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    failed = []
    for (name, method), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        feasible = sum(r["violation"] is not None and r["violation"] <= TOL for r in rs)
        failed += [f"{name} seed {r['seed']}" for r in rs
                   if method == "botorch" and r["logei_value"] is None]
        both = [r for r in rs if r["logei_value"] is not None and r["botorch_value"] is not None]
        if method == "botorch":
            versus, ratio = "reference", "1"
        else:  # ties within 0.01 nats; paired() counts lower as better
            w, t, l_, p = paired(
                [-r["logei_value"] if abs(r["logei_value"] - r["botorch_value"]) > 0.01
                 else -r["botorch_value"] for r in both], [-r["botorch_value"] for r in both])
            versus = f"{w}/{t}/{l_}, p = {p:.2g}"
            ratio = fmt([r["wall_time"] / r["botorch_wall_time"] for r in rs], 2)
        lines.append(f"| {name} | {method} | {len(rs)} | {feasible}/{len(rs)} "
                     f"| {fmt([r['logei_value'] for r in rs if r['logei_value'] is not None])} "
                     f"| {fmt([r['logei_value'] - r['botorch_value'] for r in both], 2)} "
                     f"| {versus} | {median(r['queries'] for r in rs):.0f} "
                     f"| {fmt([r['wall_time'] for r in rs], 2)} | {ratio} |")
    if failed:
        lines.append(f"\nBoTorch returned no candidate on {', '.join(failed)} (SLSQP ended "
                     "infeasible from all its feasible starts: `CandidateGenerationError`); "
                     "those runs are left out of the pairs, not out of the times.")
    return (
        f"# Nonlinear input constraints ({profile} profile)\n\n"
        "LogEI on a GP fitted to uniform points of BoTorch's constrained test problems, with "
        "the problems' constraints as `nonlinear_inequality_constraints` on the candidate "
        "(`benchmarks/suites/constrained.py`). `botorch` is BoTorch's `optimize_acqf` (SLSQP) "
        f"from the best {RESTARTS} of {RAW} feasible uniform points (the feasible starts it "
        "requires, found by rejection sampling); acqopt's methods start from nothing and get "
        "exactly its queries (`default:` ones stop by themselves). Feasible: largest "
        f"violation <= {TOL:g}. Medians with [IQR]; wins/ties/losses against BoTorch's run on "
        "the same landscape (ties within 0.01 nats), two-sided Wilcoxon signed-rank p; time "
        "ratios are paired runs in one process, BoTorch's including its rejection sampling.\n\n"
        + "\n".join(lines) + "\n")
