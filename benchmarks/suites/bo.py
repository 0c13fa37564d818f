"""End-to-end BO loops (GENNES paper, Appendix A.3; Figures 3 and 4), on ``acqopt.bo.minimize``.

- digits: SGD logistic regression on sklearn digits (learning rate, L1, L2 on a log scale in
  [1e-5, 1], iterations in [5, 50]), test split 0.15, 20 initial points; objective: test error.
- alpine1-d20: Alpine1 on [-10, 10]^20, 100 initial points.

ARD Matern-5/2 GP; EI and LogEI. Each record keeps the best value against objective evaluations
and against cumulative acquisition queries (Figures 3 and 4).
"""

from __future__ import annotations

import warnings

import torch

from acqopt.bo import Real, Space, get_function, minimize
from benchmarks import digits
from benchmarks.runner import Task

PROBLEMS = {"digits": dict(n_init=20), "alpine1-d20": dict(n_init=100)}
METHODS = ("gennes", "cma-lbfgs", "lbfgs", "lbfgs-uniform")
PROFILES = {
    "smoke": dict(problems=["digits"], acqs=["logei"], reps=1, n_iter=2, budget=300,
                  methods=["lbfgs"]),
    "quick": dict(problems=["digits"], acqs=["logei"], reps=2, n_iter=10, budget=None,
                  methods=None),
    "medium": dict(problems=list(PROBLEMS), acqs=["logei"], reps=3, n_iter=15, budget=None,
                   methods=None),
    "full": dict(problems=list(PROBLEMS), acqs=["logei", "ei"], reps=10, n_iter=30,
                 budget=None, methods=None),
}


def _problem(name: str, seed: int):
    if name == "digits":
        return digits.make_objective(seed), digits.space()
    f = get_function("alpine1")
    space = Space([Real(f"x{i}", -10.0, 10.0) for i in range(20)])

    def objective(p):
        return float(f(torch.tensor([p[f"x{i}"] for i in range(20)], dtype=torch.float64)))

    return objective, space


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    out = []
    # Repetition-major within an acquisition, so a run stopped early holds whole repetitions.
    for acq in p["acqs"]:
        for rep in range(seeds or p["reps"]):
            for problem in p["problems"]:
                for method in methods or p["methods"] or METHODS:
                    key = f"bo/{problem}/{acq}/{rep}/{method}/{p['n_iter']}"
                    out.append(Task(key, run, dict(problem=problem, acquisition=acq, rep=rep,
                                                   method=method, n_iter=p["n_iter"],
                                                   budget=p["budget"]),
                                    label=f"{method} {problem} {acq} rep {rep}"))
    return out


def run(problem: str, acquisition: str, rep: int, method: str, n_iter: int,
        budget: int | None) -> dict:
    warnings.filterwarnings("ignore")
    objective, space = _problem(problem, rep)
    h = minimize(objective, space, n_init=PROBLEMS[problem]["n_init"], n_iter=n_iter,
                 method=method, acquisition=acquisition, budget=budget, seed=rep,
                 progress=False)
    cumulative, queries = 0, []
    for q in h.queries:
        cumulative += q
        queries.append(cumulative)
    return {
        "suite": "bo", "problem": problem, "acquisition": acquisition, "seed": rep,
        "method": method, "config": {"method": method, "budget": budget, "n_iter": n_iter},
        "best": h.best, "values": h.values, "acq_queries": queries,
        "queries": cumulative, "wall_time": sum(h.wall_time), "final_best": h.best_value,
        "failures": sum(e is not None for e in h.errors),
    }
