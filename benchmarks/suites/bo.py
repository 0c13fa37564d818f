"""End-to-end BO loops on ``acqopt.bo.minimize``, with BoTorch's ``optimize_acqf`` as baseline.

Problems (objectives minimised; ARD Matern-5/2 GP; EI and LogEI):
- digits (GENNES paper, Appendix A.3): SGD logistic regression on sklearn digits, 20 initial points.
- alpine1-d20 (GENNES paper, Figure 4): Alpine1 on [-10, 10]^20, 100 initial points, 100 steps.
- branin: 2-D, three global minima (low-dimensional multimodal).
- hartmann6: 6-D, six local minima.
- rosenbrock-d8: 8-D on [-5, 10]^8, a curved valley (ridge-like).
- hartmann6-d30: Hartmann-6 read from 6 of 30 coordinates (24 irrelevant dimensions).
The last four are ``botorch.test_functions``. Repetitions share their initial design (the seed),
so every method is paired with BoTorch by seed.

Methods are registered names, ``name:field=value,...`` for a config variant (e.g.
``lbfgs:design=sobol``), ``botorch`` (``optimize_acqf`` 10x512) or ``botorch-20x1024``.
Each record keeps per step: best so far, acquisition queries, GP-fit and acquisition wall time,
and the proposal's diagnostics (acquisition value, distance to the incumbent and to the data,
near-equal maximisers far apart; see ``acqopt.bo.History``).
"""

from __future__ import annotations

import ast
import warnings

import torch

from acqopt.bo import Real, Space, get_function, minimize
from benchmarks import digits
from benchmarks.reference import BoTorchOptimizer
from benchmarks.runner import Task

PROBLEMS = {
    "digits": dict(n_init=20, n_iter=30),
    "alpine1-d20": dict(n_init=100, n_iter=100),
    "branin": dict(n_init=5, n_iter=30),
    "hartmann6": dict(n_init=10, n_iter=50),
    "rosenbrock-d8": dict(n_init=16, n_iter=50),
    "hartmann6-d30": dict(n_init=30, n_iter=50),
}
METHODS = ("botorch", "botorch-20x1024", "lbfgs", "lbfgs:design=sobol", "cma-lbfgs", "gennes",
           "lbfgs-uniform")
PROFILES = {
    "smoke": dict(problems=["branin"], acqs=["logei"], reps=1, n_iter=2, budget=300,
                  methods=["lbfgs", "botorch"]),
    "quick": dict(problems=["digits", "branin"], acqs=["logei"], reps=2, n_iter=10,
                  budget=None, methods=None),
    "medium": dict(problems=list(PROBLEMS), acqs=["logei"], reps=3, n_iter=15, budget=None,
                   methods=None),
    # n_iter None: each problem's own step count (PROBLEMS).
    "full": dict(problems=list(PROBLEMS), acqs=["logei", "ei"], reps=10, n_iter=None,
                 budget=None, methods=None),
}
HARTMANN6_DIMS_IN_30 = (0, 5, 11, 17, 22, 28)  # spread out, so no method gains from order


def _botorch_problem(name: str):
    from botorch.test_functions import Branin, Hartmann, Rosenbrock

    if name == "branin":
        f, dims, d = Branin(), None, 2
    elif name == "hartmann6":
        f, dims, d = Hartmann(dim=6), None, 6
    elif name == "rosenbrock-d8":
        f, dims, d = Rosenbrock(dim=8, bounds=[(-5.0, 10.0)] * 8), None, 8
    else:
        f, dims, d = Hartmann(dim=6), list(HARTMANN6_DIMS_IN_30), 30
    lower, upper = f.bounds.tolist()
    if dims is None:
        space = Space([Real(f"x{i}", lower[i], upper[i]) for i in range(d)])
    else:
        space = Space([Real(f"x{i}", 0.0, 1.0) for i in range(d)])

    def objective(p):
        x = torch.tensor([p[f"x{i}"] for i in range(d)], dtype=torch.float64)
        return float(f.evaluate_true(x[dims] if dims is not None else x))

    return objective, space


def _problem(name: str, seed: int):
    if name == "digits":
        return digits.make_objective(seed), digits.space()
    if name == "alpine1-d20":
        f = get_function("alpine1")
        space = Space([Real(f"x{i}", -10.0, 10.0) for i in range(20)])

        def objective(p):
            return float(f(torch.tensor([p[f"x{i}"] for i in range(20)], dtype=torch.float64)))

        return objective, space
    return _botorch_problem(name)


def parse_method(spec: str):
    """``name``, ``name:field=value,...`` or ``botorch[-RxN]`` -> (name, options) or an optimizer."""
    if spec.startswith("botorch"):
        return BoTorchOptimizer.from_name(spec), {}
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return name, options


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    out = []
    # Repetition-major within an acquisition, so a run stopped early holds whole repetitions.
    for acq in p["acqs"]:
        for rep in range(seeds or p["reps"]):
            for problem in p["problems"]:
                n_iter = p["n_iter"] or PROBLEMS[problem]["n_iter"]
                for method in methods or p["methods"] or METHODS:
                    key = f"bo/{problem}/{acq}/{rep}/{method}/{n_iter}"
                    out.append(Task(key, run, dict(problem=problem, acquisition=acq, rep=rep,
                                                   method=method, n_iter=n_iter,
                                                   budget=p["budget"]),
                                    label=f"{method} {problem} {acq} rep {rep}"))
    return out


def run(problem: str, acquisition: str, rep: int, method: str, n_iter: int,
        budget: int | None) -> dict:
    warnings.filterwarnings("ignore")
    objective, space = _problem(problem, rep)
    optimizer, options = parse_method(method)
    h = minimize(objective, space, n_init=PROBLEMS[problem]["n_init"], n_iter=n_iter,
                 method=optimizer, method_options=options or None, acquisition=acquisition,
                 budget=budget, seed=rep, progress=False)
    cumulative, queries = 0, []
    for q in h.queries:
        cumulative += q
        queries.append(cumulative)
    steps = [i for i, p in enumerate(h.proposals) if p is not None]
    return {
        "suite": "bo", "problem": problem, "acquisition": acquisition, "seed": rep,
        "method": method, "config": {"method": method, "budget": budget, "n_iter": n_iter},
        "n_init": PROBLEMS[problem]["n_init"], "n_iter": n_iter,
        "best": h.best, "values": h.values, "acq_queries": queries,
        "queries": cumulative, "wall_time": sum(h.wall_time), "final_best": h.best_value,
        "acq_time": [h.acq_time[i] for i in steps], "fit_time": [h.fit_time[i] for i in steps],
        "proposals": [h.proposals[i] for i in steps],
        "failures": sum(e is not None for e in h.errors),
    }
