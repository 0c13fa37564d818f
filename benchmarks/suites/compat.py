"""The compatibility matrix as a benchmark: BoTorch's call shapes, BoTorch beside every method.

For each call shape (the same as ``tests/test_compat.py``) on a landscape snapshot, runs
``botorch.optim.optimize_acqf`` and ``acqopt.optimize_acqf(..., method=m)`` for every registered
method with the same arguments and global seed, and records the acquisition value reached and
the wall time. The value of a ``q = 2`` or sequential call is the
joint qLogEI of the returned batch (fixed base samples), so the columns compare. A second
table runs ``lbfgs`` against BoTorch under linear constraints on every landscape snapshot.

Run: ``python -m benchmarks run compat --profile full [--methods lbfgs cma-lbfgs]`` (BoTorch
always runs beside them).
"""

from __future__ import annotations

import functools
import statistics
import time
import warnings
from collections import defaultdict
from pathlib import Path

import torch
from botorch.acquisition import qKnowledgeGradient, qLogExpectedImprovement
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.constraints import Polytope
from benchmarks.runner import Task
from benchmarks.snapshots import acquisition, snapshot_names

PROFILES = {"full": dict(seeds=1, constrained_seeds=3, snapshot="rastrigin-d8-n40")}
SHAPES = ("positional (1, 10, 512)", "tutorial options", "linear constraints", "warm starts",
          "return_best_only=False", "qLogEI q=2 joint", "qLogEI q=2 sequential",
          "fixed feature -1", "qKG (8 fantasies)")


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    """Every call shape x method (BoTorch and every registered one, or ``methods``) x seed
    (``--seeds``) on the profile's snapshot; then ``lbfgs`` (the first of ``methods``) against
    BoTorch under linear constraints on every snapshot x constrained seed."""
    p = PROFILES[profile]
    seeds = seeds or p["seeds"]
    names = ["botorch", *(methods or acqopt.available_methods())]
    out = [Task(f"compat/{p['snapshot']}/{shape}/{method}/{seed}", run_shape,
                dict(snapshot=p["snapshot"], shape=shape, method=method, seed=seed),
                label=f"{method} {shape} seed {seed}")
           for shape in SHAPES for method in names for seed in range(seeds)]
    method = (methods or ["lbfgs"])[0]
    out += [Task(f"compat/constrained/{name}/{seed}/{method}", run_constrained,
                 dict(snapshot=name, seed=seed, method=method),
                 label=f"{method} constrained {name} seed {seed}")
            for name in snapshot_names() for seed in range(p["constrained_seeds"])]
    return out


@functools.lru_cache(maxsize=2)
def _cases(snapshot: str):
    acq, bounds = acquisition(snapshot, "logei")
    cases, polytope = shapes(acq, bounds)
    return bounds, cases, polytope


def shapes(acq, bounds):
    """``{name: (acquisition, args, kwargs, judge)}``; ``judge(X)`` values a returned batch."""
    d = bounds.shape[-1]
    model = acq.model
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    qlogei = qLogExpectedImprovement(model, best_f=acq.best_f, sampler=sampler)
    mid = bounds.mean(0)
    ineq = [(torch.arange(d // 2), -torch.ones(d // 2, dtype=bounds.dtype),
             -float(mid[: d // 2].sum()))]
    eq = [(torch.tensor([d - 2, d - 1]), torch.ones(2, dtype=bounds.dtype),
           float(mid[-2:].sum()))]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        kg = qKnowledgeGradient(model, num_fantasies=8)
        warm = bounds[0] + torch.rand(4, 1, d, dtype=bounds.dtype) * (bounds[1] - bounds[0])

    @torch.no_grad()
    def single(X):
        return float(acq(X.reshape(1, 1, d)))

    @torch.no_grad()
    def joint(X):
        return float(qlogei(X.reshape(1, -1, d)))

    return {
        "positional (1, 10, 512)": (acq, (1, 10, 512), {}, single),
        "tutorial options": (acq, (), dict(q=1, num_restarts=10, raw_samples=512,
                                           options={"batch_limit": 5, "maxiter": 200}), single),
        "linear constraints": (acq, (1, 10, 512), dict(inequality_constraints=ineq,
                                                      equality_constraints=eq), single),
        "warm starts": (acq, (1, 4), dict(batch_initial_conditions=warm), single),
        "return_best_only=False": (acq, (1, 10, 512), dict(return_best_only=False),
                                   lambda X: single(X[0])),
        "qLogEI q=2 joint": (qlogei, (2, 10, 512), {}, joint),
        "qLogEI q=2 sequential": (qlogei, (2, 10, 512), dict(sequential=True), joint),
        "fixed feature -1": (acq, (1, 10, 512), dict(fixed_features={-1: float(mid[-1])}),
                             single),
        "qKG (8 fantasies)": (kg, (1, 10, 512), {}, lambda X: float(kg.evaluate(
            X.reshape(1, 1, d), bounds=bounds, num_restarts=2, raw_samples=32))),
    }, Polytope(bounds, ineq, eq)


def run_shape(snapshot: str, shape: str, method: str, seed: int) -> dict:
    """One call of one shape: the value reached (judged as the shape says), the wall time, or
    the exception's name if the call was refused."""
    warnings.filterwarnings("ignore")
    bounds, cases, polytope = _cases(snapshot)
    fn, args, kwargs, judge = cases[shape]
    record = {"suite": "compat", "kind": "shape", "snapshot": snapshot, "shape": shape,
              "method": method, "seed": seed}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        start = time.perf_counter()
        try:
            if method == "botorch":
                X, _ = botorch_optimize_acqf(fn, bounds, *args, **kwargs)
            else:
                X, _ = acqopt.optimize_acqf(fn, bounds, *args, method=method, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the table reports it
            return {**record, "error": type(exc).__name__}
        seconds = time.perf_counter() - start
    feasible = float(polytope.violation((X - bounds[0]) / (bounds[1] - bounds[0]))) <= 1e-6 \
        if "constraints" in shape else True
    return {**record, "value": judge(X), "time": seconds, "feasible": feasible}


def run_constrained(snapshot: str, seed: int, method: str = "lbfgs") -> dict:
    """``sum(x_S) <= c`` over a random half ``S`` of the dimensions (``c`` puts the box's
    centre on the boundary) and one equality on two other dimensions. BoTorch 10x512 (SLSQP)
    runs through the counter; ``method`` then gets exactly its queries."""
    from acqopt import CountingAcquisition

    warnings.filterwarnings("ignore")
    acq, bounds = acquisition(snapshot, "logei")
    d = bounds.shape[-1]
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(d, generator=g)
    S, E = perm[: d // 2], perm[d // 2: d // 2 + 2]
    mid = bounds.mean(0)
    ineq = [(S, -torch.ones(len(S), dtype=bounds.dtype), -float(mid[S].sum()))]
    w = bounds[1, E] - bounds[0, E]
    eq = [(E, 1.0 / w, float((mid[E] / w).sum()))]
    counter = CountingAcquisition(acq)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        start = time.perf_counter()
        _, v_bt = botorch_optimize_acqf(counter, bounds, 1, 10, 512, inequality_constraints=ineq,
                                        equality_constraints=eq)
        t_bt = time.perf_counter() - start
    start = time.perf_counter()
    x, v = acqopt.optimize_acqf(acq, bounds, 1, inequality_constraints=ineq,
                                equality_constraints=eq, method=method,
                                budget=counter.queries, generator=seed)
    t = time.perf_counter() - start
    polytope = Polytope(bounds, ineq, eq)
    feasible = float(polytope.violation((x - bounds[0]) / (bounds[1] - bounds[0]))) <= 1e-6
    return {"suite": "compat", "kind": "constrained", "snapshot": snapshot, "seed": seed,
            "method": method, "botorch_value": float(v_bt), "value": float(v),
            "feasible": feasible, "queries": counter.queries, "botorch_time": t_bt, "time": t}


def report(records: list[dict], path: Path, profile: str) -> str:
    shape_records = [r for r in records if r["kind"] == "shape"]
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in shape_records:
        cells[(r["shape"], r["method"])].append(r)
    methods = list(dict.fromkeys(r["method"] for r in shape_records))
    rows = []
    for shape in SHAPES:
        out = []
        for method in methods:
            rs = cells.get((shape, method), [])
            errors = [r["error"] for r in rs if "error" in r]
            if errors or not rs:
                out.append(errors[0] if errors else "-")
                continue
            out.append(f"{statistics.median(r['value'] for r in rs):.3f} "
                       f"({statistics.median(r['time'] for r in rs):.2f} s)")
        rows.append(f"| {shape} | " + " | ".join(out) + " |")
    infeasible = sum(not r.get("feasible", True) for r in shape_records)
    snapshot = shape_records[0]["snapshot"] if shape_records else "-"
    seeds = len({r["seed"] for r in shape_records})
    text = (
        f"# Compatibility matrix: BoTorch's call shapes\n\nLogEI on the `{snapshot}` landscape; "
        f"each cell: median over {seeds} global seeds of the value reached (LogEI, or joint "
        "qLogEI for q = 2, or qKG) and the median wall time. Every method honours every call; a "
        "cell naming an exception would mark one that does not. Constrained answers checked "
        f"feasible to 1e-6: {infeasible} infeasible.\n\n"
        "| call | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods) + "\n"
        + "\n".join(rows) + "\n")
    constrained = [r for r in records if r["kind"] == "constrained"]
    if constrained:
        ok = [r["feasible"] and r["value"] >= r["botorch_value"] - 0.01 for r in constrained]
        ratios = [r["time"] / r["botorch_time"] for r in constrained]
        q1, q2, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios * 3)
        method = constrained[0]["method"]
        text += (
            f"\n## Constrained landscapes: `{method}` against BoTorch 10x512 (SLSQP)\n\n"
            f"`{method}` reaches BoTorch's LogEI within 0.01 (and is feasible to 1e-6) on "
            f"{sum(ok)} of {len(ok)} landscape x seed pairs ({sum(ok) / len(ok):.0%}); median "
            f"paired time ratio {statistics.median(ratios):.2f} (IQR {q1:.2f}-{q3:.2f}), at "
            "BoTorch's query count.\n\n| landscape | seed | BoTorch LogEI | acqopt LogEI | within "
            "0.01 | queries | BoTorch s | acqopt s |\n|---|---|---|---|---|---|---|---|\n"
            + "\n".join(
                f"| {r['snapshot']} | {r['seed']} | {r['botorch_value']:.4f} | {r['value']:.4f} | "
                f"{'yes' if good else 'no'} | {r['queries']} | {r['botorch_time']:.2f} | "
                f"{r['time']:.2f} |" for r, good in zip(constrained, ok)) + "\n")
    return text
