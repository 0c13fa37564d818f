"""Mixed spaces: acquisition landscapes with integer and categorical columns.

Problems (objectives minimised; spaces of ``acqopt.bo``):
- ackley-mixed: BoTorch's ``AckleyMixed`` (50 binary and 3 continuous columns).
- labs: BoTorch's ``Labs`` (30 binary columns, a fully discrete space).
- svc-cancer: an SVC on scikit-learn's breast-cancer data (standardised), 3-fold CV error over
  ``C``, ``gamma`` (log scale), ``kernel`` (rbf / poly / sigmoid), ``degree`` (2-5) and
  ``class_weight`` (None / balanced): two categoricals, one integer, two reals.
- rosenbrock-mixed (held out: not used to choose anything): 18 columns, Rosenbrock over 10
  reals in [-2, 2] and 5 integers in {-2, ..., 2}, times a factor and plus offsets read from 3
  categoricals of 4 values each through fixed random tables (no order among the categories).

A landscape is a GP state: ``n_data`` points drawn uniformly on the grid (seeded), the space's
model (BoTorch's ``MixedSingleTaskGP`` where there are categoricals, ``SingleTaskGP`` otherwise,
as ``acqopt.bo.minimize`` fits them) and LogEI. Methods:
- ``botorch-mixed``: BoTorch's ``optimize_acqf_mixed_alternating`` at its defaults (1024 raw
  samples, 20 restarts), the reference; every other method gets exactly its queries, run in
  the same process one after the other (the order alternating with the seed).
- ``relax-round``: acqopt's ``lbfgs`` on the relaxed box (no grid), its answer rounded onto the
  grid and valued there: what a grid-blind maximiser gives.
- ``botorch-round``: BoTorch's ``optimize_acqf`` 20x1024 on the relaxed box, rounded.
- any acqopt method name: searching the grid natively (``discrete_dims``, ``cat_dims``), at
  ``botorch-mixed``'s query count;
- ``default:NAME``: the method as ``acqopt.optimize_acqf_mixed_alternating`` runs it when called
  without a budget (its own stopping rules): what the drop-in costs a user.
Judged by LogEI at the (on-grid) candidate.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections import defaultdict
from pathlib import Path
from statistics import median

import torch
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

from acqopt.bo import Categorical, Integer, Real, Space
from acqopt.bo.model import fit_gp, make_acquisition
from acqopt.counting import CountingAcquisition
from benchmarks.report import fmt
from benchmarks import methods as specs
from benchmarks.runner import Task

PROBLEMS = {
    "ackley-mixed": dict(n_data=60),
    "labs": dict(n_data=60),
    "svc-cancer": dict(n_data=30),
    "rosenbrock-mixed": dict(n_data=60),
}
HELD_OUT = ("rosenbrock-mixed",)
PROFILES = {
    "smoke": dict(problems=["svc-cancer"], seeds=1, methods=["lbfgs"]),
    "quick": dict(problems=list(PROBLEMS), seeds=2, methods=None),
    "medium": dict(problems=list(PROBLEMS), seeds=3, methods=None),
    "full": dict(problems=list(PROBLEMS), seeds=3, methods=None),
}
METHODS = ("botorch-mixed", "relax-round", "lbfgs", "default:lbfgs", "cma-lbfgs",
           "default:cma-lbfgs", "vo")


def _binary_space(d: int, continuous: int = 0) -> Space:
    return Space([Integer(f"b{i}", 0, 1) for i in range(d)]
                 + [Real(f"x{i}", 0.0, 1.0) for i in range(continuous)])


def problem(name: str):
    """``(objective, space)`` of a mixed problem; the objective takes ``{name: value}``."""
    if name in ("ackley-mixed", "labs"):
        from botorch.test_functions.synthetic import AckleyMixed, Labs

        f = AckleyMixed() if name == "ackley-mixed" else Labs()
        space = _binary_space(50, 3) if name == "ackley-mixed" else _binary_space(30)

        def objective(p):
            x = torch.tensor([float(p[n]) for n in space.names], dtype=torch.float64)
            return float(f.evaluate_true(x.unsqueeze(0)))

        return objective, space
    if name == "svc-cancer":
        return _svc_cancer()
    if name == "rosenbrock-mixed":
        return _rosenbrock_mixed()
    raise ValueError(f"problem: unknown mixed problem {name!r}; known: {sorted(PROBLEMS)}")


@functools.lru_cache(maxsize=1)
def _cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _svc_cancer():
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    space = Space([Real("C", 1e-3, 1e3, log=True), Real("gamma", 1e-4, 10.0, log=True),
                   Categorical("kernel", ("rbf", "poly", "sigmoid")), Integer("degree", 2, 5),
                   Categorical("class_weight", (None, "balanced"))])

    def objective(p):
        X, y = _cancer()
        model = SVC(C=p["C"], gamma=p["gamma"], kernel=p["kernel"], degree=p["degree"],
                    class_weight=p["class_weight"], max_iter=20000)
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return 1.0 - float(cross_val_score(model, X, y, cv=cv).mean())

    return objective, space


def _rosenbrock_mixed():
    g = torch.Generator().manual_seed(17)
    tables = (torch.rand(3, 4, generator=g, dtype=torch.float64) * 200.0).tolist()
    factors = (1.0 + 2.0 * torch.rand(4, generator=g, dtype=torch.float64)).tolist()
    space = Space([Real(f"x{i}", -2.0, 2.0) for i in range(10)]
                  + [Integer(f"n{i}", -2, 2) for i in range(5)]
                  + [Categorical(f"c{i}", ("a", "b", "c", "d")) for i in range(3)])

    def objective(p):
        x = torch.tensor([p[f"x{i}"] for i in range(10)] + [p[f"n{i}"] for i in range(5)],
                         dtype=torch.float64)
        rosen = float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())
        c = ["abcd".index(p[f"c{i}"]) for i in range(3)]
        return rosen * factors[c[0]] + sum(tables[i][c[i]] for i in range(3))

    return objective, space


@functools.lru_cache(maxsize=8)
def landscape(name: str, seed: int):
    """``(acq, bounds, grid, space)``: LogEI on the problem's model fitted to ``n_data`` points
    drawn uniformly on the grid; ``bounds`` and ``grid`` in the space's coordinates."""
    objective, space = problem(name)
    g = torch.Generator().manual_seed(1000 + seed)
    U = space.round_unit(torch.rand(PROBLEMS[name]["n_data"], space.d, generator=g,
                                    dtype=torch.float64))
    Y = -torch.tensor([objective(space.to_params(u)) for u in U], dtype=torch.float64)
    bounds = space.space_bounds()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = fit_gp(space.unit_to_space(U), Y.unsqueeze(-1), bounds=bounds,
                       cat_dims=space.cat_dims, closed_form=False)  # the records' GPs
    return make_acquisition(model, "logei"), bounds, space.grid(), space


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    out = []
    for seed in range(seeds or p["seeds"]):
        for name in p["problems"]:
            for method in methods or p["methods"] or METHODS:
                key = f"mixed/{name}/{seed}/{method}"
                out.append(Task(key, run, dict(problem=name, seed=seed, method=method),
                                label=f"{method} {name} seed {seed}"))
    return out


def _botorch_mixed(acq, bounds, grid, seed: int) -> dict:
    counter = CountingAcquisition(acq)
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        X, _ = optimize_acqf_mixed_alternating(counter, bounds, **grid)
    return {"candidates": X, "counts": counter.counts, "wall_time": time.perf_counter() - start}


def _method(acq, bounds, grid, space, method: str, budget: int, seed: int) -> dict:
    start = time.perf_counter()
    if method == "botorch-round":
        counter = CountingAcquisition(acq)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            X, _ = botorch_optimize_acqf(counter, bounds, q=1, num_restarts=20, raw_samples=1024)
        counts = counter.counts
    else:
        name = method.removeprefix("default:")
        optimizer = specs.resolve("lbfgs" if method == "relax-round" else name)
        on_grid = {} if method == "relax-round" else grid
        result = optimizer.optimize(acq, bounds, generator=seed, **on_grid,
                                    budget=None if method.startswith("default:") else budget)
        X, counts = result.candidates, result.counts
    wall = time.perf_counter() - start
    if method in ("relax-round", "botorch-round"):
        X = space.unit_to_space(space.round_unit(space.space_to_unit(X)))
    return {"candidates": X, "counts": counts, "wall_time": wall}


def run(problem: str, seed: int, method: str) -> dict:
    warnings.filterwarnings("ignore")
    acq, bounds, grid, space = landscape(problem, seed)
    if method == "botorch-mixed":
        res = bt = _botorch_mixed(acq, bounds, grid, seed)
    elif seed % 2 == 0:
        bt = _botorch_mixed(acq, bounds, grid, seed)
        res = _method(acq, bounds, grid, space, method, bt["counts"].queries, seed)
    else:  # odd seeds: the method first, so neither side always runs on a warm cache
        budget = _botorch_mixed(acq, bounds, grid, seed)["counts"].queries  # deterministic
        res = _method(acq, bounds, grid, space, method, budget, seed)
        bt = _botorch_mixed(acq, bounds, grid, seed)
    with torch.no_grad():
        value = float(acq(res["candidates"].reshape(1, 1, -1)))
        bt_value = float(acq(bt["candidates"].reshape(1, 1, -1)))
    return {
        "suite": "mixed", "problem": problem, "seed": seed, "method": method,
        "held_out": problem in HELD_OUT, "budget": bt["counts"].queries,
        "logei_value": value, "queries": res["counts"].queries,
        "grad_queries": res["counts"].grad_queries, "calls": res["counts"].calls,
        "wall_time": res["wall_time"], "candidate": res["candidates"].reshape(-1).tolist(),
        "botorch_value": bt_value, "botorch_wall_time": bt["wall_time"],
    }


# -- the results page ----------------------------------------------------------------------

WITHIN = 0.01  # nats of LogEI


def report(records: list[dict], path: Path, profile: str) -> str:
    return (
        f"# Mixed-space landscapes ({profile} profile)\n\n"
        "LogEI on a GP fitted to points drawn uniformly on each problem's grid "
        "(`benchmarks/suites/mixed.py` describes the problems and methods). Medians with [IQR]. "
        "Gap = best LogEI found on that landscape by any run minus this run's. Every method "
        "but the references gets exactly the queries `botorch-mixed` (BoTorch's "
        "`optimize_acqf_mixed_alternating` at its defaults) used, counted by the same "
        "counter; time ratios are paired runs in one process. `relax-round` and "
        "`botorch-round` search the relaxed box and round their answer. Rows marked held out "
        "were not used to choose anything.\n\n" + mixed_table(records) + "\n")


def mixed_table(records: list[dict]) -> str:
    best: dict[tuple, float] = defaultdict(lambda: float("-inf"))
    for r in records:
        best[(r["problem"], r["seed"])] = max(best[(r["problem"], r["seed"])], r["logei_value"])
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["problem"], r["method"])].append(r)
    lines = ["| problem | method | runs | gap to best known (nats) | within 0.01 of best "
             "| >= botorch-mixed - 0.01 | queries | time s | time / botorch-mixed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (name, method), rs in sorted(groups.items()):
        gaps = [best[(r["problem"], r["seed"])] - r["logei_value"] for r in rs]
        within = sum(g <= WITHIN for g in gaps) / len(rs)
        vs = sum(r["logei_value"] >= r["botorch_value"] - WITHIN for r in rs) / len(rs)
        ratio = "1" if method == "botorch-mixed" else fmt(
            [r["wall_time"] / r["botorch_wall_time"] for r in rs], 2)
        label = f"{name} (held out)" if name in HELD_OUT else name
        lines.append(f"| {label} | {method} | {len(rs)} | {fmt(gaps)} | {within:.0%} | {vs:.0%} "
                     f"| {median(r['queries'] for r in rs):.0f} "
                     f"| {fmt([r['wall_time'] for r in rs], 2)} | {ratio} |")
    return "\n".join(lines)
