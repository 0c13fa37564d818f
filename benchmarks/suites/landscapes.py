"""Acquisition maximisation on saved GP states, at budgets matched to BoTorch.

For every (snapshot, acquisition, BoTorch setting, seed, method), BoTorch's ``optimize_acqf``
runs through the same counter as acqopt's methods; the method then gets exactly the queries
BoTorch used. Both run in the same process, one after the other (the order alternates with the
seed), so their wall-time ratio is measured under the same load.

Two acquisitions without usable gradients (the L-GSO issue), run at a fixed budget of
``NOGRAD_BUDGET`` = 2048 queries for every method (BoTorch's own L-BFGS-B stops early on them, so its
query count is no budget to match): ``logei-int``, LogEI with integer coordinates evaluated
rounded (digits' ``n_iter``; elsewhere every other coordinate on 11 levels), judged by LogEI at
the rounded candidate; and ``qlogei-noisy``, qLogEI whose 16 base samples are redrawn at every
call, judged by the analytic LogEI at the candidate (the limit of infinitely many samples).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from pathlib import Path
from statistics import median

import torch
from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
from botorch.sampling import StochasticSampler
from botorch.optim import optimize_acqf as botorch_optimize_acqf

import acqopt
from acqopt.counting import CountingAcquisition
from benchmarks import digits
from benchmarks.snapshots import acquisition, snapshot_names
from benchmarks.report import fmt, variants_table
from benchmarks import methods as specs
from benchmarks.runner import Task

SETTINGS = {"10x512": (10, 512), "20x1024": (20, 1024), "100x5000": (100, 5000)}

PROFILES = {
    "smoke": dict(problems=["rastrigin-d8-n40"], kinds=["logei"], settings=["10x512"], seeds=1),
    "quick": dict(problems=None, kinds=["logei"], settings=["10x512"], seeds=3),
    "medium": dict(problems=None, kinds=["logei", "ei", "logei-int", "qlogei-noisy"],
                   settings=["10x512"], seeds=5),
    "full": dict(problems=None, kinds=["logei", "ei"], settings=["10x512", "20x1024"], seeds=3),
}
DEFAULT_METHODS = {"smoke": ["lbfgs"], "quick": None, "medium": None, "full": None}
NOGRAD = ("logei-int", "qlogei-noisy")
NOGRAD_BUDGET = 2048


class Rounded(torch.nn.Module):
    """An acquisition evaluated with some coordinates rounded: no gradient along them."""

    def __init__(self, acq: torch.nn.Module, problem: str, d: int) -> None:
        super().__init__()
        self.acq, self.digits = acq, problem.startswith("digits")
        self.dims = list(range(0, d, 2))

    def round(self, X: torch.Tensor) -> torch.Tensor:
        if self.digits:
            return digits.space().round_unit(X)
        X = X.clone()
        X[..., self.dims] = torch.round(X[..., self.dims] * 10) / 10
        return X

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.acq(self.round(X))


def _nograd_acquisition(problem: str, kind: str):
    """The acquisition of a no-gradient kind, its bounds, the candidate map for judging, and
    the LogEI that judges."""
    logei, bounds = acquisition(problem, "logei")
    if kind == "logei-int":
        rounded = Rounded(logei, problem, bounds.shape[-1])
        return rounded, bounds, rounded.round, logei
    noisy = qLogExpectedImprovement(logei.model, best_f=logei.best_f,
                                    sampler=StochasticSampler(torch.Size([16])))
    return noisy, bounds, (lambda X: X), logei


def tasks(profile: str, methods: list[str] | None, seeds: int | None) -> list[Task]:
    p = PROFILES[profile]
    methods = methods or DEFAULT_METHODS[profile] or ["botorch", *acqopt.available_methods()]
    out = []
    # Seed-major, so a run stopped early holds whole seeds of every cell.
    for seed in range(seeds or p["seeds"]):
        for problem in p["problems"] or snapshot_names():
            for kind in p["kinds"]:
                for setting in p["settings"]:
                    for method in methods:
                        key = f"landscapes/{problem}/{kind}/{setting}/{seed}/{method}"
                        kwargs = dict(problem=problem, kind=kind, setting=setting, seed=seed,
                                      method=method)
                        out.append(Task(key, run, kwargs, label=f"{method} {problem} {kind}"))
    return out


def _botorch(acq, bounds, setting: str, seed: int) -> dict:
    restarts, raw = SETTINGS[setting]
    counter = CountingAcquisition(acq)
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        x, v = botorch_optimize_acqf(counter, bounds, q=1, num_restarts=restarts, raw_samples=raw)
    return {"candidates": x, "value": float(v), "counts": counter.counts,
            "wall_time": time.perf_counter() - start}


def _method(acq, bounds, method: str, budget: int, seed: int) -> dict:
    optimizer = specs.resolve(method)
    result = optimizer.optimize(acq, bounds, budget=budget, generator=seed)
    return {"candidates": result.candidates, "value": float(result.acq_value),
            "counts": result.counts, "wall_time": result.wall_time,
            "status": result.status.value, "trace": result.trace,
            "config": specs.config(optimizer)}


def run(problem: str, kind: str, setting: str, seed: int, method: str) -> dict:
    warnings.filterwarnings("ignore", message=".*ExpectedImprovement has known numerical issues")
    if kind in NOGRAD:
        return run_nograd(problem, kind, setting, seed, method)
    acq, bounds = acquisition(problem, kind)
    if method == "botorch":
        res = bt = _botorch(acq, bounds, setting, seed)
        res["config"] = {"method": "botorch", "setting": setting}
    elif method.startswith("botorch-"):  # BoTorch at another setting, e.g. botorch-100x5000
        ref_setting = method.split("-", 1)[1]
        res = _botorch(acq, bounds, ref_setting, seed)
        res["config"] = {"method": "botorch", "setting": ref_setting}
        bt = _botorch(acq, bounds, setting, seed)
    elif seed % 2 == 0:
        bt = _botorch(acq, bounds, setting, seed)
        res = _method(acq, bounds, method, bt["counts"].queries, seed)
    else:
        # Odd seeds: the method first, so neither side always runs on a warm cache.
        budget = _botorch(acq, bounds, setting, seed)["counts"].queries  # deterministic
        res = _method(acq, bounds, method, budget, seed)
        bt = _botorch(acq, bounds, setting, seed)
    logei = LogExpectedImprovement(acq.model, best_f=acq.best_f)
    with torch.no_grad():
        logei_value = float(logei(res["candidates"].unsqueeze(0)))
    trace = res.get("trace")
    if trace is not None and trace.shape[0] > 60:
        trace = trace[torch.linspace(0, trace.shape[0] - 1, 60).round().long()]
    return {
        "suite": "landscapes", "problem": problem, "acquisition": kind, "setting": setting,
        "seed": seed, "method": method, "config": res["config"],
        "budget": res["counts"].queries if method.startswith("botorch") else bt["counts"].queries,
        "value": res["value"], "logei_value": logei_value,
        "queries": res["counts"].queries, "grad_queries": res["counts"].grad_queries,
        "calls": res["counts"].calls, "wall_time": res["wall_time"],
        "status": res.get("status", "converged"),
        "trace": None if trace is None else trace.tolist(),
        "botorch_value": bt["value"], "botorch_wall_time": bt["wall_time"],
    }


def run_nograd(problem: str, kind: str, setting: str, seed: int, method: str) -> dict:
    """One method on a no-gradient acquisition at ``NOGRAD_BUDGET`` queries (BoTorch at its
    ``setting``, spending what it spends); seeded so the redrawn samples repeat."""
    acq, bounds, judge, logei = _nograd_acquisition(problem, kind)
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # BoTorch and StochasticSampler draw from the global RNG
        if method == "botorch":
            res = _botorch(acq, bounds, setting, seed)
            res["config"] = {"method": "botorch", "setting": setting}
        else:
            res = _method(acq, bounds, method, NOGRAD_BUDGET, seed)
    with torch.no_grad():
        logei_value = float(logei(judge(res["candidates"].reshape(1, 1, -1))))
    return {
        "suite": "landscapes", "problem": problem, "acquisition": kind, "setting": setting,
        "seed": seed, "method": method, "config": res["config"], "budget": NOGRAD_BUDGET,
        "value": res["value"], "logei_value": logei_value,
        "queries": res["counts"].queries, "grad_queries": res["counts"].grad_queries,
        "calls": res["counts"].calls, "wall_time": res["wall_time"],
        "status": res.get("status", "converged"), "trace": None,
        "botorch_value": None, "botorch_wall_time": None,
    }


# -- the results page ----------------------------------------------------------------------

WITHIN = 0.01  # nats of LogEI


def report(records: list[dict], path: Path, profile: str) -> str:
    return (
        f"# Landscapes ({profile} profile)\n\n"
        "Medians with [IQR]. Gap = best LogEI found on that landscape by any run minus "
        "this run's LogEI at its candidate. Budgets equal the queries BoTorch "
        "`optimize_acqf` used at the named setting, counted by the same counter; time "
        f"ratios are paired runs in the same process.{_nograd_note(records)}\n\n"
        f"{landscapes_table(records)}\n{_variants(records)}"
    )


def _variants(records: list[dict]) -> str:
    """Variants of one method (``--methods cma-lbfgs cma-lbfgs:wait_for=1.0``) paired on the
    same landscape, acquisition, setting and seed, judged by LogEI at the candidate."""
    table = variants_table(
        records, group=lambda r: f"{r['acquisition']} {r['setting']}",
        pair=lambda r: (r["problem"], r["acquisition"], r["setting"], r["seed"]),
        value=lambda r: r["logei_value"], higher_is_better=True, tol=lambda r: WITHIN)
    return (f"\n## Variants\n\nEach spec against its baseline on the same runs; a win or a loss "
            f"is a LogEI more than {WITHIN} nats apart.\n\n{table}\n") if table else ""


def _nograd_note(records: list[dict]) -> str:
    if not any(r["acquisition"] in NOGRAD for r in records):
        return ""
    return " " + " ".join(__doc__.split("\n\n")[2].split()) + (
        " On these rows the gap is to the best judged value found by any run, and `lbfgs` "
        "follows the gradient the acquisition reports (zero between rounding steps, noisy "
        "under redrawn samples).")


def landscapes_table(records: list[dict]) -> str:
    """One row per (acquisition, setting, method): quality against the best known and BoTorch."""
    best: dict[tuple, float] = defaultdict(lambda: float("-inf"))
    for r in records:
        k = (r["problem"], r["acquisition"])
        best[k] = max(best[k], r["logei_value"])
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["acquisition"], r["setting"], r["method"])].append(r)
    lines = [
        "| acq | budget of | method | runs | gap to best known (nats) | within 0.01 of best "
        "| >= BoTorch - 0.01 | queries | grad queries | time s | time / BoTorch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (kind, setting, method), rs in sorted(groups.items()):
        gaps = [best[(r["problem"], r["acquisition"])] - r["logei_value"] for r in rs]
        within = sum(g <= WITHIN for g in gaps) / len(rs)
        paired = [r for r in rs if r["method"] != "botorch" and r["botorch_value"] is not None]
        vs_bt = (
            f"{sum(r['value'] >= r['botorch_value'] - _tol(r) for r in paired) / len(paired):.0%}"
            if paired else "-"
        )
        ratio = (fmt([r["wall_time"] / r["botorch_wall_time"] for r in paired], 2) if paired
                 else "1" if method == "botorch" else "-")
        lines.append(
            f"| {kind} | {setting} | {method} | {len(rs)} | {fmt(gaps)} | {within:.0%} | {vs_bt} "
            f"| {median(r['queries'] for r in rs):.0f} | {median(r['grad_queries'] for r in rs):.0f} "
            f"| {fmt([r['wall_time'] for r in rs], 2)} | {ratio} |"
        )
    return "\n".join(lines)


def _tol(r: dict) -> float:
    """0.01 nats for LogEI; for EI, 1% of BoTorch's value (0.01 nats in log EI)."""
    return WITHIN if r["acquisition"] == "logei" else WITHIN * abs(r["botorch_value"])
