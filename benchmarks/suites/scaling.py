"""Scaling: how the cost of one acquisition maximisation grows with n, d and q, against BoTorch.

Each point of a sweep changes one axis of the base point (n = 300 training points, d = 20,
q = 1, LogEI, ARD Matern-5/2 GP): n in {100, 300, 1000, 3000, 10000}, d in {5, 20, 100, 300,
1000}, q in {1, 2, 4, 8, 16} (qLogEI, joint and sequential), the acquisition in {EI, LogEI,
qLogEI, qLogNEI}, and the model: ``matern`` (``ScaleKernel(MaternKernel(nu=2.5, ard))``, acqopt's
``fit_gp``) or ``default`` (BoTorch's default ``SingleTaskGP``, dimension-scaled priors).

The training data are uniform points of a smooth test function (a sum of sines and a
quadratic, as the tests' landscapes). Hyperparameters are fitted on at most ``FIT_N`` of the
points and the model is then conditioned on all ``n`` (a GPyTorch fit at n = 10000 takes
minutes and is not what this measures).

Methods, run one after the other on the same acquisition (the order alternating with the
seed; with ``--workers 1`` in one process with nothing beside them, as the results are
measured: two workers on the 2-core machine ran a pair's methods in two processes, each beside
another run, and the base point's lbfgs took 0.34x BoTorch's time that way against 0.21x alone,
sequential q = 4 and 8 0.42x and 0.35x against 0.26x and 0.29x; medians of 3 seeds):
``botorch`` (``optimize_acqf`` 10 x 512), ``botorch-20x1024``, and acqopt's ``optimize_acqf``
at 10 x 512 with ``method=NAME`` (``lbfgs`` by default). Each record
splits the wall time into the acquisition's (forward and backward passes, timed inside the
shared counter) and the rest (the optimiser's overhead), and says which evaluator answered.
Judged by the acquisition value at the candidate, evaluated once more by BoTorch.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
import warnings
from collections import defaultdict
from pathlib import Path

import torch

from acqopt.counting import CountingAcquisition
from benchmarks import methods as specs
from benchmarks.report import fmt
from benchmarks.runner import Task

BASE = dict(n=300, d=20, q=1, acq="logei", model="matern", mode="joint")
FIT_N = 300
SWEEPS = {
    "n": [100, 300, 1000, 3000, 10000],
    "d": [5, 20, 100, 300, 1000],
    "q": [1, 2, 4, 8, 16],
    "acq": ["ei", "logei", "qlogei", "qlognei"],
    "model": ["matern", "default"],
}
METHODS = ("botorch", "botorch-20x1024", "lbfgs")
PROFILES = {
    "smoke": dict(sweeps={"n": [100]}, seeds=1),
    "quick": dict(sweeps={"n": [100, 300, 1000], "d": [5, 20, 100], "q": [1, 2, 4, 8],
                          "acq": SWEEPS["acq"], "model": SWEEPS["model"]}, seeds=2),
    "full": dict(sweeps=SWEEPS, seeds=3),
    # sizes off the full profile's grid, chosen after the closed forms were written: they confirm
    # what the grid was tuned on
    "heldout": dict(sweeps={"n": [500, 2000], "d": [10, 50], "q": [3, 6]}, seeds=3),
}


def points(sweeps: dict) -> list[dict]:
    """The distinct points of the sweeps (each one axis moved from ``BASE``); q > 1 sweeps
    run qLogEI, joint and sequential."""
    out: list[dict] = []
    for axis, values in sweeps.items():
        for v in values:
            p = {**BASE, axis: v}
            if axis == "q" and v > 1:
                p["acq"] = "qlogei"
                out += [p, {**p, "mode": "sequential"}]
            else:
                out.append(p)
    unique = {key(p): p for p in out}
    return list(unique.values())


def key(p: dict) -> str:
    device = f"-{p['device']}" if p.get("device", "cpu") != "cpu" else ""
    return f"n{p['n']}-d{p['d']}-q{p['q']}-{p['acq']}-{p['model']}-{p['mode']}{device}"


def tasks(profile: str, methods: list[str] | None, seeds: int | None,
          device: str = "cpu") -> list[Task]:
    """The profile's tasks; with ``device`` (``python -m benchmarks run scaling --device
    cuda``), the model, the data and the bounds live there (records keyed apart from the
    CPU's)."""
    p = PROFILES[profile]
    pts = [pt if device == "cpu" else {**pt, "device": device} for pt in points(p["sweeps"])]
    names = list(methods or METHODS)
    return [Task(f"scaling/{key(pt)}/{seed}/{method}", run,
                 dict(point=pt, seed=seed, method=method), label=f"{method} {key(pt)} {seed}")
            for seed in range(seeds or p["seeds"]) for pt in pts
            for method in (names if seed % 2 == 0 else names[::-1])]


def _objective(X: torch.Tensor) -> torch.Tensor:
    return torch.sin(6 * X).sum(-1) - ((X - 0.6) ** 2).sum(-1)


@functools.lru_cache(maxsize=2)
def _model(n: int, d: int, model: str, seed: int):
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize

    from acqopt.bo.model import fit_gp

    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    Y = _objective(X).unsqueeze(-1)
    m = min(n, FIT_N)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if model == "matern":
            small = fit_gp(X[:m], Y[:m], closed_form=False)  # the records' GPs
        else:
            from botorch.fit import fit_gpytorch_mll
            from gpytorch.mlls import ExactMarginalLogLikelihood

            small = SingleTaskGP(X[:m], Y[:m], outcome_transform=Standardize(m=1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(small.likelihood, small))
    small.eval()
    if m < n:  # the subset's hyperparameters (and standardisation), conditioned on all n
        targets, _ = small.outcome_transform(Y)
        small.set_train_data(X, targets.squeeze(-1), strict=False)
    return small, X, Y


def acquisition(point: dict, seed: int):
    from botorch.acquisition import (
        ExpectedImprovement,
        LogExpectedImprovement,
        qLogExpectedImprovement,
        qLogNoisyExpectedImprovement,
    )
    from botorch.sampling import SobolQMCNormalSampler

    model, X, Y = _model(point["n"], point["d"], point["model"], seed)
    # Every run starts without GPyTorch's prediction caches (the training covariance's Cholesky
    # factor, built by the first posterior call), as a freshly fitted model in a BO step does:
    # the model is shared by the methods run in one process, and the first would pay for both.
    model.prediction_strategy = None
    device = torch.device(point.get("device", "cpu"))
    if device.type != "cpu":  # a copy: the cached model stays on the CPU
        model, X, Y = copy.deepcopy(model).to(device), X.to(device), Y.to(device)
    best = float(Y.max())
    sampler = SobolQMCNormalSampler(torch.Size([128]), seed=seed)
    kind = point["acq"]
    if kind == "ei":
        return ExpectedImprovement(model, best_f=best)
    if kind == "logei":
        return LogExpectedImprovement(model, best_f=best)
    if kind == "qlogei":
        return qLogExpectedImprovement(model, best_f=best, sampler=sampler)
    with torch.random.fork_rng():  # its baseline pruning samples from the global RNG
        torch.manual_seed(seed)
        return qLogNoisyExpectedImprovement(model, X_baseline=X, sampler=sampler,
                                            prune_baseline=True)


def _optimise(acq, point: dict, method: str, seed: int) -> dict:
    """One maximisation: candidates, wall time, acquisition time, counts, evaluator."""
    d, q = point["d"], point["q"]
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(
        dtype=torch.float64, device=point.get("device", "cpu"))
    sequential = point["mode"] == "sequential"
    start = time.perf_counter()
    if method.startswith("botorch"):
        from botorch.optim import optimize_acqf as botorch_optimize_acqf

        restarts, raw = (20, 1024) if method == "botorch-20x1024" else (10, 512)
        counter = CountingAcquisition(acq)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            X, _ = botorch_optimize_acqf(counter, bounds, q, restarts, raw, sequential=sequential)
        return {"X": X, "wall": time.perf_counter() - start, "acq_seconds": counter.seconds,
                "queries": counter.queries, "evaluator": "botorch"}
    if specs.is_import_path(method):  # a researcher's own maximiser, at its defaults
        counter = CountingAcquisition(acq)
        result = specs.resolve(method).optimize(counter, bounds, q=q, generator=seed)
        return {"X": result.candidates, "wall": time.perf_counter() - start,
                "acq_seconds": counter.seconds, "queries": counter.queries,
                "evaluator": getattr(result, "info", {}).get("evaluator", "-")}
    # acqopt's drop-in, step by step so that its own counter's record can be read
    from acqopt.api import OptimizeAcqfInputs, optimize_with_fixed_features
    from acqopt.counting import sequential_session

    inputs = OptimizeAcqfInputs(acq_function=acq, bounds=bounds, q=q, num_restarts=10,
                                raw_samples=512, sequential=sequential, method=method,
                                generator=torch.Generator().manual_seed(seed))
    optimizer, generator, budget = inputs.configure()
    steps = q if sequential and q > 1 else 1
    step = dataclasses.replace(inputs, q=q // steps, sequential=False, generator=generator,
                               budget=None if budget is None else budget // steps)
    chosen, seconds, queries, evaluators = [], 0.0, 0, set()
    try:
        with sequential_session(acq):  # as acqopt.api's sequential selection
            for _ in range(steps):
                if chosen:
                    acq.set_X_pending(torch.cat(chosen))
                result = optimize_with_fixed_features(optimizer, step)
                chosen.append(result.candidates)
                seconds += result.info["acq_seconds"]
                queries += result.counts.queries
                evaluators.add(result.info["evaluator"])
    finally:
        if steps > 1:
            acq.set_X_pending(None)
    return {"X": torch.cat(chosen), "wall": time.perf_counter() - start, "acq_seconds": seconds,
            "queries": queries, "evaluator": "/".join(sorted(evaluators))}


def run(point: dict, seed: int, method: str) -> dict:
    warnings.filterwarnings("ignore")
    acq = acquisition(point, seed)
    res = _optimise(acq, point, method, seed)
    with torch.no_grad():
        value = float(acq(res["X"].unsqueeze(0)))
    return {
        "suite": "scaling", "point": key(point), **point, "seed": seed, "method": method,
        "value": value, "wall_time": res["wall"], "acq_time": res["acq_seconds"],
        "overhead": res["wall"] - res["acq_seconds"], "queries": res["queries"],
        "evaluator": res["evaluator"],
    }


# -- the results page ----------------------------------------------------------------------

def report(records: list[dict], path: Path, profile: str) -> str:
    by: dict[tuple, dict] = {}
    for r in records:
        by[(r["point"], r["seed"], r["method"])] = r
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["point"], r["method"])].append(r)
    lines = ["| n | d | q | acq | model | mode | device | method | runs | time s | acquisition s "
             "| overhead s | acquisition us / point | time / botorch | value - botorch "
             "| evaluator |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (point, method), rs in sorted(groups.items(), key=lambda kv: (
            kv[1][0]["n"], kv[1][0]["d"], kv[1][0]["q"], kv[0])):
        r0 = rs[0]
        ref = [by.get((r["point"], r["seed"], "botorch")) for r in rs]
        pairs = [(r, b) for r, b in zip(rs, ref) if b is not None]
        ratio = fmt([r["wall_time"] / b["wall_time"] for r, b in pairs], 2) if pairs else "-"
        gap = fmt([r["value"] - b["value"] for r, b in pairs], 2) if pairs else "-"
        lines.append(
            f"| {r0['n']} | {r0['d']} | {r0['q']} | {r0['acq']} | {r0['model']} | {r0['mode']} "
            f"| {r0.get('device', 'cpu')} | {method} | {len(rs)} | {fmt([r['wall_time'] for r in rs], 2)} "
            f"| {fmt([r['acq_time'] for r in rs], 2)} | {fmt([r['overhead'] for r in rs], 2)} "
            f"| {fmt([1e6 * r['acq_time'] / _points(r) for r in rs], 3)} "
            f"| {ratio} | {gap} | {r0['evaluator']} |")
    figure = path.with_name(f"{path.stem}-curves.png")
    shown = f"![time along each sweep]({figure.name})\n\n" if sweep_figure(records, figure) else ""
    return (
        f"# Scaling ({profile} profile)\n\n"
        "One acquisition maximisation at each point of one-axis sweeps from n = 300, d = 20, "
        "q = 1, LogEI, ARD Matern-5/2 (`benchmarks/suites/scaling.py`). BoTorch's "
        "`optimize_acqf` 10 x 512 is the reference; acqopt's drop-in runs at the same setting. "
        "Time is split into the acquisition's (forward and backward passes, timed inside the "
        "shared counter) and the rest (the optimiser's own work); per point: the acquisition's "
        "time over the points it evaluated (a joint q-batch is q points; a sequential step "
        "evaluates one beside its pending ones). Medians with [IQR] over "
        "seeds; ratios and value differences paired with BoTorch's run on the same "
        "acquisition (value: the acquisition at the candidate, nats for the log "
        "acquisitions). Evaluator: what answered acqopt's queries.\n\n"
        + shown + "\n".join(lines) + "\n")


def _points(r: dict) -> int:
    """Points evaluated: queries (q x d candidate sets) times q for joint batches."""
    return r["queries"] * (r["q"] if r["mode"] == "joint" else 1)


def _panels(r: dict) -> list[str]:
    """The sweeps a LogEI/qLogEI record's point lies on (``q`` split by mode): the base point
    starts the n and d sweeps, its qLogEI twin the q ones."""
    for axis in ("n", "d", "q"):
        if r[axis] != BASE[axis]:
            return [f"q ({r['mode']})"] if axis == "q" else [axis]
    return ["n", "d"] if r["acq"] == BASE["acq"] else ["q (joint)", "q (sequential)"]


def sweep_figure(records: list[dict], path: Path) -> bool:
    """Median wall time against n, d and q (joint, sequential), one line per method, on the
    CPU's points of the LogEI/qLogEI sweeps; False (no file) when no sweep has two points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from benchmarks.report import method_colours, method_legend

    records = [r for r in records if r.get("device", "cpu") == "cpu"
               and r["model"] == BASE["model"] and r["acq"] in ("logei", "qlogei")]
    panels = ["n", "d", "q (joint)", "q (sequential)"]
    series: dict[tuple, dict] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for panel in _panels(r):
            series[(panel, r["method"])][r[panel[0]]].append(r["wall_time"])
    panels = [a for a in panels if any(len(v) > 1 for (b, _), v in series.items() if b == a)]
    if not panels:
        return False
    colours = method_colours(m for _, m in series)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for (b, method), points in series.items():
            if b != panel:
                continue
            xs = sorted(points)
            ax.plot(xs, [np.median(points[x]) for x in xs], "o-", color=colours[method],
                    label=method)
        ax.set(xscale="log", yscale="log", xlabel=panel, title=f"along {panel}")
        ticks = sorted({x for (b, _), pts in series.items() if b == panel for x in pts})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes[0][0].set_ylabel("median wall time s")
    method_legend(axes[0][0], colours)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
