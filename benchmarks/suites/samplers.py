"""Optuna samplers: acqopt's ``AcqoptSampler`` against Optuna's ``GPSampler`` and
``TPESampler`` at equal trials.

Problems (minimised):
- mixed: a 5-parameter synthetic search (a real, a log-scale real, an integer, a stepped real
  and a 3-way categorical whose best choice is worth 1): ``(x - 1)^2 + (log10 lr + 2)^2 +
  0.1 |n - 7| + (s - 0.5)^2 + [k != "b"]``, optimum 0.
- hartmann6-constrained: Hartmann-6 under ``sum(x) <= 1.5`` as an outcome constraint
  (``constraints_func``; the unconstrained optimum has ``sum(x) = 2.07``); best means best
  feasible (no feasible trial: the record keeps +inf).
- branin-currin: BoTorch's two-objective ``BraninCurrin``; judged by the hypervolume of the
  trials' Pareto front against the reference point (18, 6) (maximised).
Every sampler gets 10 startup trials (each its own default independent sampler) and
``TRIALS`` trials in all, seeded by the repetition's seed.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import fmt, paired
from benchmarks.runner import Task

TRIALS = 30
STARTUP = 10
LIMIT = 1.5
REFERENCE = (18.0, 6.0)
PROBLEMS = ("mixed", "hartmann6-constrained", "branin-currin")
SAMPLERS = ("acqopt", "gp", "tpe")
PROFILES = {
    "smoke": dict(problems=["mixed"], seeds=1, trials=12),
    "quick": dict(problems=list(PROBLEMS), seeds=2, trials=TRIALS),
    "full": dict(problems=list(PROBLEMS), seeds=10, trials=TRIALS),
}


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    unknown = set(methods or ()) - set(SAMPLERS)
    if unknown:
        raise ValueError(f"methods: the samplers suite has {SAMPLERS}, not {sorted(unknown)}")
    return [Task(f"samplers/{name}/{seed}/{sampler}/{p['trials']}", run,
                 dict(problem=name, seed=seed, sampler=sampler, trials=p["trials"]),
                 label=f"{sampler} {name} seed {seed}")
            for seed in range(seeds or p["seeds"]) for name in p["problems"]
            for sampler in methods or SAMPLERS]


def _mixed(trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 1, 10)
    s = trial.suggest_float("s", 0.0, 1.0, step=0.25)
    k = trial.suggest_categorical("k", ["a", "b", "c"])
    return (x - 1) ** 2 + (math.log10(lr) + 2) ** 2 + 0.1 * abs(n - 7) + (s - 0.5) ** 2 \
        + (0.0 if k == "b" else 1.0)


def _hartmann(trial) -> float:
    from botorch.test_functions import Hartmann

    x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)]
    trial.set_user_attr("constraint", sum(x) - LIMIT)
    return float(Hartmann(dim=6)(torch.tensor(x, dtype=torch.float64)))


def _branin_currin(trial) -> tuple[float, float]:
    from botorch.test_functions.multi_objective import BraninCurrin

    x = torch.tensor([[trial.suggest_float("x0", 0.0, 1.0),
                       trial.suggest_float("x1", 0.0, 1.0)]], dtype=torch.float64)
    f = BraninCurrin(negate=False)(x)[0]
    return float(f[0]), float(f[1])


def _constraint(trial) -> tuple[float]:
    return (trial.user_attrs["constraint"],)


def _sampler(name: str, problem: str, seed: int):
    import optuna

    constraints = _constraint if problem == "hartmann6-constrained" else None
    if name == "acqopt":
        from acqopt.integrations.optuna import AcqoptSampler

        return AcqoptSampler(seed=seed, n_startup_trials=STARTUP, constraints_func=constraints)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP,
                                         constraints_func=constraints)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP,
                                      constraints_func=constraints)


def hypervolume(points: list[tuple[float, float]]) -> float:
    """Hypervolume dominated by ``points`` (minimised) up to ``REFERENCE``."""
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated

    Y = -torch.tensor(points, dtype=torch.float64)
    ref = -torch.tensor(REFERENCE, dtype=torch.float64)
    Y = Y[(Y > ref).all(-1)]
    if Y.shape[0] == 0:
        return 0.0
    return float(Hypervolume(ref).compute(Y[is_non_dominated(Y)]))


def run(problem: str, seed: int, sampler: str, trials: int) -> dict:
    import optuna

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    objective = {"mixed": _mixed, "hartmann6-constrained": _hartmann,
                 "branin-currin": _branin_currin}[problem]
    directions = ["minimize", "minimize"] if problem == "branin-currin" else ["minimize"]
    study = optuna.create_study(directions=directions,
                                sampler=_sampler(sampler, problem, seed))
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng():  # the hosts may draw from the global RNGs
            torch.manual_seed(seed)
            np.random.seed(seed)
            start = time.perf_counter()
            study.optimize(objective, n_trials=trials)
            wall = time.perf_counter() - start
    finally:
        np.random.set_state(numpy_state)
    curve = []
    for i in range(1, len(study.trials) + 1):
        done = study.trials[:i]
        if problem == "branin-currin":
            curve.append(hypervolume([tuple(t.values) for t in done]))
        else:
            ok = [t.value for t in done if problem != "hartmann6-constrained"
                  or t.user_attrs["constraint"] <= 0]
            curve.append(min(ok) if ok else math.inf)
    return {"suite": "samplers", "problem": problem, "seed": seed, "method": sampler,
            "trials": trials, "best": curve, "final": curve[-1], "wall_time": wall,
            "maximised": problem == "branin-currin"}


# -- the results page ----------------------------------------------------------------------

def report(records: list[dict], path: Path, profile: str) -> str:
    by: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in records:
        by[(r["problem"], r["method"], r["trials"])][r["seed"]] = r
    lines = ["| problem | sampler | trials | seeds | final (median [IQR]) | against gp: W/T/L, p "
             "| against tpe: W/T/L, p | s per trial |", "|---|---|---|---|---|---|---|---|"]
    for (problem, sampler, trials), runs in sorted(by.items()):
        sign = -1.0 if problem == "branin-currin" else 1.0  # paired() counts lower as better
        cells = []
        for other in ("gp", "tpe"):
            theirs = by.get((problem, other, trials), {})
            seeds = sorted(set(runs) & set(theirs))
            if other == sampler or not seeds:
                cells.append("-")
                continue
            w, t, l_, p = paired([sign * runs[s]["final"] for s in seeds],
                                 [sign * theirs[s]["final"] for s in seeds])
            cells.append(f"{w}/{t}/{l_}, p = {p:.2g}")
        final = [runs[s]["final"] for s in runs]
        lines.append(f"| {problem} | {sampler} | {trials} | {len(runs)} | {fmt(final, 4)} | "
                     f"{cells[0]} | {cells[1]} | "
                     f"{fmt([runs[s]['wall_time'] / trials for s in runs], 2)} |")
    return (
        f"# Optuna samplers ({profile} profile)\n\n"
        "`AcqoptSampler` against Optuna's `GPSampler` and `TPESampler`, 10 startup trials each; "
        "final best (feasible) value after the trials (minimised), or on branin-currin the "
        "hypervolume of the trials' Pareto front against (18, 6) (maximised); W/T/L and p "
        "(two-sided Wilcoxon signed-rank) paired by seed; wall time per trial including the "
        "objective. `benchmarks/suites/samplers.py` describes the problems.\n\n"
        + "\n".join(lines) + "\n")
