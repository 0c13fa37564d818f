"""High-dimensional BO: does the acquisition maximiser change the result at d >= 100?

BoTorch's standard loop, in which only the maximiser differs: every step fits BoTorch's default
``SingleTaskGP`` (dimension-scaled lengthscale prior, Hvarfner et al. 2024) from scratch with
``fit_gpytorch_mll``, builds LogEI (q = 1) or qLogEI (q = 4, joint, 128 Sobol base samples) and
maximises it with ``botorch.optim.optimize_acqf`` (10 restarts, 512 raw samples), with
acqopt's drop-in ``acqopt.optimize_acqf`` at the same arguments and ``method=...``, or with a
maximiser of one's own (``package.module:attribute``, its ``optimize`` at its defaults). Papenmeier
et al. (ICML 2025) tie high-dimensional BO's failures to the acquisition's vanishing
gradients; here the model, the data and the seeds are shared, so a difference is the
maximiser's.

Problems (minimised, on the unit cube):
- hartmann6-d100: Hartmann-6 read from 6 of 100 coordinates (94 irrelevant).
- rosenbrock-d100: Rosenbrock on [-5, 10]^100 (its minimum at x = 1, off the box's middle).
- hartmann6-d100-q4: hartmann6-d100 with batches of q = 4 (qLogEI, joint).
Records follow the bo suite's (``benchmarks/suites/bo.py``), so its tables read them.

Every maximiser evaluates the acquisition through one outer query counter (to record its
queries); acqopt's closed form does not see through it, so acqopt's methods run here on
BoTorch's evaluator, as BoTorch does: the values and the BO result are a user's, the acquisition
times are slower than a user's (``scaling`` measures those).
"""

from __future__ import annotations

import itertools
import time
import warnings
from pathlib import Path

import torch

from benchmarks import methods as specs
from benchmarks.runner import Task

PROBLEMS = {
    "hartmann6-d100": dict(d=100, q=1, n_init=20, n_iter=30),
    "rosenbrock-d100": dict(d=100, q=1, n_init=20, n_iter=30),
    "hartmann6-d100-q4": dict(d=100, q=4, n_init=20, n_iter=8),
}
# Hartmann-6's coordinates among the 100: spread out, so no method gains from their order.
HARTMANN6_DIMS = (3, 19, 38, 52, 71, 94)
METHODS = ("botorch", "lbfgs", "cma-lbfgs")
PROFILES = {
    "smoke": dict(problems=["hartmann6-d100-q4"], reps=1, n_iter=1, methods=["botorch", "lbfgs"]),
    "full": dict(problems=list(PROBLEMS), reps=10, n_iter=None, methods=list(METHODS)),
}


def objective(problem: str):
    """The problem's objective on the unit cube (a batch ``n x d`` -> ``n``)."""
    from botorch.test_functions import Hartmann, Rosenbrock

    if problem.startswith("hartmann6"):
        f, dims = Hartmann(dim=6), list(HARTMANN6_DIMS)
        return lambda U: f.evaluate_true(U[:, dims])
    f = Rosenbrock(dim=100, bounds=[(-5.0, 10.0)] * 100)
    lower, upper = f.bounds.to(torch.float64)
    return lambda U: f.evaluate_true(lower + (upper - lower) * U)


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    out = []
    for rep in range(seeds or p["reps"]):  # repetition-major: a stopped run holds whole reps
        for problem in p["problems"]:
            n_iter = p["n_iter"] or PROBLEMS[problem]["n_iter"]
            for method in methods or p["methods"]:
                acq = "logei" if PROBLEMS[problem]["q"] == 1 else "qlogei"
                out.append(Task(f"bo/{problem}/{acq}/{rep}/{method}/{n_iter}", run,
                                dict(problem=problem, rep=rep, method=method, n_iter=n_iter),
                                label=f"{method} {problem} rep {rep}"))
    return out


def _fit(X: torch.Tensor, Y: torch.Tensor, seed: int):
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    model = SingleTaskGP(X, Y)  # BoTorch's defaults: Standardize, dimension-scaled priors
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def _acquisition(model, best: float, q: int, seed: int):
    from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
    from botorch.sampling import SobolQMCNormalSampler

    if q == 1:
        return LogExpectedImprovement(model, best_f=best)
    return qLogExpectedImprovement(model, best_f=best,
                                   sampler=SobolQMCNormalSampler(torch.Size([128]), seed=seed))


def _maximise(acq, d: int, q: int, method: str, seed: int) -> tuple[torch.Tensor, float, int]:
    """The batch, its acquisition value and the queries it took."""
    from acqopt.counting import CountingAcquisition

    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(torch.float64)
    counter = CountingAcquisition(acq)
    if method == "botorch":
        from botorch.optim import optimize_acqf

        with torch.random.fork_rng():
            torch.manual_seed(seed)
            X, value = optimize_acqf(counter, bounds, q, num_restarts=10, raw_samples=512)
    elif specs.is_import_path(method):  # a researcher's own maximiser
        result = specs.resolve(method).optimize(counter, bounds, q=q, generator=seed)
        X, value = result.candidates, result.acq_value
    else:
        import acqopt

        X, value = acqopt.optimize_acqf(counter, bounds, q, num_restarts=10, raw_samples=512,
                                        method=method, generator=seed)
    return X.detach(), float(value), counter.queries


def run(problem: str, rep: int, method: str, n_iter: int) -> dict:
    warnings.filterwarnings("ignore")
    spec = PROBLEMS[problem]
    d, q, n_init = spec["d"], spec["q"], spec["n_init"]
    f = objective(problem)
    sobol = torch.quasirandom.SobolEngine(d, scramble=True, seed=rep)
    X = sobol.draw(n_init, dtype=torch.float64)
    values = f(X)
    fit_time, acq_time, queries, acq_values = [], [], [], []
    for step in range(n_iter):
        seed = 1000 * rep + step
        start = time.perf_counter()
        model = _fit(X, -values.unsqueeze(-1), seed)
        fitted = time.perf_counter()
        acq = _acquisition(model, float(-values.min()), q, seed)
        batch, value, used = _maximise(acq, d, q, method, seed)
        fit_time.append(fitted - start)
        acq_time.append(time.perf_counter() - fitted)
        queries.append(used)
        acq_values.append(value)
        X = torch.cat([X, batch])
        values = torch.cat([values, f(batch)])
    best = torch.cummin(values, 0).values.tolist()
    # Per evaluation, as the bo suite's records: a step's cost and queries on its batch's first
    # point, zero on the rest and on the initial design.
    def per_evaluation(per_step):
        out = [0] * n_init
        for value in per_step:
            out += [value] + [0] * (q - 1)
        return out

    return {
        "suite": "bo", "problem": problem, "acquisition": "logei" if q == 1 else "qlogei",
        "seed": rep,
        "method": method, "refit": "scratch", "model": "default", "q": q,
        "config": {"method": method, "n_iter": n_iter, "q": q},
        "n_init": n_init, "n_iter": n_iter, "values": values.tolist(), "best": best,
        "final_best": best[-1], "wall_time": sum(fit_time) + sum(acq_time),
        "fit_time": per_evaluation(fit_time), "acq_time": per_evaluation(acq_time),
        "acq_queries": list(itertools.accumulate(per_evaluation(queries))),
        "queries": sum(queries), "proposals": [{"acq_value": v} for v in acq_values],
        "failures": 0,
    }


# -- the results page ----------------------------------------------------------------------

def report(records: list[dict], path: Path, profile: str) -> str:
    from benchmarks.suites import bo

    figure = path.with_name(f"{path.stem}-curves.png")
    bo.bo_figure(records, figure)
    return (f"# High-dimensional BO ({profile} profile)\n\n{__doc__.split(chr(10), 2)[2]}\n"
            f"![curves]({figure.name})\n\n{bo.bo_table(records)}\n\n"
            f"{bo.bo_against_botorch(records)}\n")
