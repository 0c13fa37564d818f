"""The plug-ins end to end: Ax and Optuna with their own maximiser against acqopt's.

Each host keeps its model, acquisition and initial design; only the acquisition maximiser
changes, so the first ``INITIAL`` trials of a seed are the same for every maximiser and the runs
are paired by seed. Problems (minimised): Hartmann6, and Hartmann6 under ``sum(x) <= 1.5`` (its
unconstrained optimum has ``sum(x) = 2.07``, so the constrained optimum lies on the boundary).
Ax takes the constraint as a parameter constraint (every trial must satisfy it); Optuna, which has
none, as an outcome constraint (``constraints_func``), where best means best feasible.

- Ax (``Client``, Sobol then its modular BoTorch generator): Ax's own ``optimize_acqf`` against
  ``acqopt.integrations.ax.generation_strategy("lbfgs")`` and ``("cma-lbfgs")``.
- Optuna (``BoTorchSampler``): its default candidates function against
  ``acqopt.integrations.optuna.swap_optimizer("lbfgs")`` (the same candidates function).

Per trial the record keeps the best (feasible) value so far, the time the host spent producing
the trial (model fit and maximisation) and the maximiser's own time.

Run: ``python -m benchmarks run plugins --profile full``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import fmt, paired
from benchmarks.runner import Task

INITIAL = 5
LIMIT = 1.5  # sum(x) <= LIMIT in the constrained problem
PROBLEMS = ("hartmann6", "hartmann6-sum1.5")
METHODS = {"ax": ("ax", "lbfgs", "cma-lbfgs"), "optuna": ("optuna", "lbfgs")}


def hartmann6(x: list[float]) -> float:
    from botorch.test_functions import Hartmann

    return float(Hartmann(dim=6)(torch.tensor(x, dtype=torch.float64)))


class _Timer:
    """Accumulates the wall time of calls to ``fn`` (the host's maximiser)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed


def run_ax(problem: str, seed: int, method: str, trials: int) -> dict:
    from ax.api.client import Client
    from ax.api.configs import RangeParameterConfig
    from ax.generators.torch.botorch_modular import acquisition as ax_acquisition

    from acqopt.integrations.ax import generation_strategy

    names = [f"x{i}" for i in range(1, 7)]
    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[RangeParameterConfig(name=n, parameter_type="float", bounds=(0.0, 1.0))
                    for n in names],
        parameter_constraints=[" + ".join(names) + f" <= {LIMIT}"] if problem != "hartmann6"
        else None,
    )
    client.configure_optimization(objective="-f")
    client.set_generation_strategy(generation_strategy(None if method == "ax" else method,
                                                       initial_trials=INITIAL))
    timer = _Timer()
    original = ax_acquisition.Acquisition.optimize
    ax_acquisition.Acquisition.optimize = timer.wrap(original)  # acqopt's class calls it too
    values, feasible, trial_time, acq_time = [], [], [], []
    try:
        for _ in range(trials):
            timer.seconds, start = 0.0, time.perf_counter()
            ((index, p),) = client.get_next_trials(max_trials=1).items()
            trial_time.append(time.perf_counter() - start)
            acq_time.append(timer.seconds)
            x = [p[n] for n in names]
            values.append(hartmann6(x))
            feasible.append(problem == "hartmann6" or sum(x) <= LIMIT + 1e-9)
            client.complete_trial(trial_index=index, raw_data={"f": values[-1]})
    finally:
        ax_acquisition.Acquisition.optimize = original
    return _record(values, feasible, trial_time, acq_time)


def run_optuna(problem: str, seed: int, method: str, trials: int) -> dict:
    import optuna
    from optuna_integration import BoTorchSampler

    from acqopt.integrations.optuna import swap_optimizer

    import acqopt.api
    from optuna_integration import botorch as ob

    timer = _Timer()
    names = inspect.unwrap(ob.logei_candidates_func).__globals__  # where Optuna's call goes
    if method == "optuna":
        candidates = None  # BoTorchSampler's default; its optimize_acqf is timed below
    else:
        original = acqopt.api.optimize_acqf
        acqopt.api.optimize_acqf = timer.wrap(original)  # the swap binds it when built
        try:
            candidates = swap_optimizer(method)
        finally:
            acqopt.api.optimize_acqf = original
    constrained = problem != "hartmann6"

    def constraints(trial):
        return [sum(trial.params.values()) - LIMIT]

    sampler = BoTorchSampler(candidates_func=candidates, n_startup_trials=INITIAL, seed=seed,
                             constraints_func=constraints if constrained else None)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    values, feasible, trial_time, acq_time = [], [], [], []
    botorch_optimize_acqf = names["optimize_acqf"]
    names["optimize_acqf"] = timer.wrap(botorch_optimize_acqf)
    try:
        for _ in range(trials):
            timer.seconds, start = 0.0, time.perf_counter()
            trial = study.ask()
            x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(1, 7)]
            trial_time.append(time.perf_counter() - start)
            acq_time.append(timer.seconds)
            values.append(hartmann6(x))
            feasible.append(not constrained or sum(x) <= LIMIT + 1e-9)
            study.tell(trial, values[-1])
    finally:
        names["optimize_acqf"] = botorch_optimize_acqf
    return _record(values, feasible, trial_time, acq_time)


def _record(values, feasible, trial_time, acq_time) -> dict:
    best, so_far = [], float("inf")
    for v, ok in zip(values, feasible):
        so_far = min(so_far, v) if ok else so_far
        best.append(so_far)
    return {"values": values, "feasible": feasible, "best": best, "final_best": best[-1],
            "trial_time": trial_time, "acq_time": acq_time}


def run(host: str, problem: str, seed: int, method: str, trials: int) -> dict:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    runner = run_ax if host == "ax" else run_optuna
    record = runner(problem, seed, method, trials)
    return {"suite": "plugins", "plugin": host, "problem": problem, "seed": seed,
            "method": method, "trials": trials, **record}


PROFILES = {"full": dict(seeds=5, trials=25)}


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    """Every host's own maximiser and acqopt's; ``methods`` selects among them."""
    p = PROFILES[profile]
    out = _tasks(seeds or p["seeds"], p["trials"])
    return [t for t in out if methods is None or t.kwargs["method"] in methods]


def _tasks(seeds: int, trials: int) -> list[Task]:
    return [Task(f"plugins/{host}/{problem}/{seed}/{method}/{trials}", run,
                 dict(host=host, problem=problem, seed=seed, method=method, trials=trials),
                 label=f"{host} {method} {problem} seed {seed}")
            for seed in range(seeds) for host, methods in METHODS.items()
            for problem in PROBLEMS for method in methods]


def page(records: list[dict], path: Path) -> str:
    lines = [
        "# Plug-ins end to end: Ax and Optuna, their own maximiser against acqopt's\n",
        __doc__.split("\n\n")[1].replace("\n", " ") + "\n",
        f"Each run: {INITIAL} initial trials, then BO trials; best = best Hartmann6 value after "
        "the last trial (lower is better; the unconstrained optimum is -3.3224), over every "
        "trial for Ax (the host enforces its parameter constraint; its own SLSQP lands on the "
        "boundary to ~1e-8, which the last column counts as a violation over 1e-9), over the "
        "feasible trials for Optuna (an outcome constraint, learned by its model). "
        "W/T/L and the two-sided Wilcoxon p are paired by seed against the host's own "
        "maximiser. s/trial is the median over BO trials of the time to produce a trial (model "
        "fit and maximisation); maximiser s is the part spent in the maximiser.\n",
    ]
    for host, methods in METHODS.items():
        for problem in PROBLEMS:
            rows = {m: sorted((r for r in records if (r["plugin"], r["problem"], r["method"])
                               == (host, problem, m)), key=lambda r: r["seed"])
                    for m in methods}
            best = {id(r): min(r["values"]) if host == "ax" else r["final_best"]
                    for rs in rows.values() for r in rs}
            base = {r["seed"]: r for r in rows[host]}
            if not base:
                continue
            lines.append(f"\n## {host}, {problem}\n\n| maximiser | runs | best, median [IQR] | "
                         "W/T/L vs host | p | s/trial | maximiser s/trial | trials over the constraint |"
                         "\n|---|---|---|---|---|---|---|---|")
            for m in methods:
                rs = rows[m]
                if not rs:
                    continue
                common = [r for r in rs if r["seed"] in base]
                w, t, l, p = paired([best[id(r)] for r in common],
                                    [best[id(base[r["seed"]])] for r in common])
                bo = lambda r, k: r[k][INITIAL:]  # noqa: E731
                step = float(np.median([x for r in rs for x in bo(r, "trial_time")]))
                acq = float(np.median([x for r in rs for x in bo(r, "acq_time")]))
                infeasible = sum(not ok for r in rs for ok in r["feasible"])
                name = f"{host} (own)" if m == host else f"acqopt `{m}`"
                vs = "-" if m == host else f"{w}/{t}/{l}"
                pv = "-" if m == host else f"{p:.2f}"
                lines.append(f"| {name} | {len(rs)} | {fmt([best[id(r)] for r in rs], 4)} | "
                             f"{vs} | {pv} | {step:.2f} | {acq:.2f} | {infeasible} |")
    return "\n".join(lines) + "\n"


def report(records: list[dict], path: Path, profile: str) -> str:
    return page(records, path)
